// Original file: proto/cluster.proto

import type { OriginDigest as _cluster_v1_OriginDigest, OriginDigest__Output as _cluster_v1_OriginDigest__Output } from '../../cluster/v1/OriginDigest.js';

export interface DigestSet {
  /**
   * The sender; its own entry among `digests` is authoritative.
   */
  'from'?: (string);
  'digests'?: (_cluster_v1_OriginDigest)[];
}

export interface DigestSet__Output {
  /**
   * The sender; its own entry among `digests` is authoritative.
   */
  'from': (string);
  'digests': (_cluster_v1_OriginDigest__Output)[];
}
