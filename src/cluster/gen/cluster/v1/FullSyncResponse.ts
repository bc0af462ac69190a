// Original file: proto/cluster.proto

import type { Long } from '@grpc/proto-loader';

export interface FullSyncResponse {
  /**
   * False when the callee holds nothing of that origin (unknown, or purged).
   */
  'known'?: (boolean);
  'origin'?: (string);
  'incarnation'?: (number | string | Long);
  'last_seq'?: (number | string | Long);
  'filters'?: (string)[];
}

export interface FullSyncResponse__Output {
  /**
   * False when the callee holds nothing of that origin (unknown, or purged).
   */
  'known': (boolean);
  'origin': (string);
  'incarnation': (string);
  'last_seq': (string);
  'filters': (string)[];
}
