// Original file: proto/cluster.proto

import type { ForwardedMessage as _cluster_v1_ForwardedMessage, ForwardedMessage__Output as _cluster_v1_ForwardedMessage__Output } from '../../cluster/v1/ForwardedMessage.js';

export interface ForwardBatch {
  'messages'?: (_cluster_v1_ForwardedMessage)[];
}

export interface ForwardBatch__Output {
  'messages': (_cluster_v1_ForwardedMessage__Output)[];
}
