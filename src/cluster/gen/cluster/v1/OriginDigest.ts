// Original file: proto/cluster.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A summary of one origin's slice as the sender holds it.
 */
export interface OriginDigest {
  'origin'?: (string);
  'incarnation'?: (number | string | Long);
  'last_seq'?: (number | string | Long);
  'count'?: (number);
  /**
   * Order-independent hash of the slice's filters (hex); see src/cluster/route-digest.ts.
   */
  'hash'?: (string);
}

/**
 * A summary of one origin's slice as the sender holds it.
 */
export interface OriginDigest__Output {
  'origin': (string);
  'incarnation': (string);
  'last_seq': (string);
  'count': (number);
  /**
   * Order-independent hash of the slice's filters (hex); see src/cluster/route-digest.ts.
   */
  'hash': (string);
}
