// Original file: proto/cluster.proto

import type { RetainedUpdate as _cluster_v1_RetainedUpdate, RetainedUpdate__Output as _cluster_v1_RetainedUpdate__Output } from '../../cluster/v1/RetainedUpdate.js';

export interface RetainedBatch {
  'updates'?: (_cluster_v1_RetainedUpdate)[];
}

export interface RetainedBatch__Output {
  'updates': (_cluster_v1_RetainedUpdate__Output)[];
}
