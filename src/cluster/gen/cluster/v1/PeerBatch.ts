// Original file: proto/cluster.proto

import type { PeerMessage as _cluster_v1_PeerMessage, PeerMessage__Output as _cluster_v1_PeerMessage__Output } from '../../cluster/v1/PeerMessage.js';

/**
 * One frame on an Exchange stream: whatever the sender had queued for that stream in one turn.
 */
export interface PeerBatch {
  'messages'?: (_cluster_v1_PeerMessage)[];
}

/**
 * One frame on an Exchange stream: whatever the sender had queued for that stream in one turn.
 */
export interface PeerBatch__Output {
  'messages': (_cluster_v1_PeerMessage__Output)[];
}
