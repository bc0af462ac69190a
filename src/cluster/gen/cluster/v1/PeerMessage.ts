// Original file: proto/cluster.proto

import type { RouteDelta as _cluster_v1_RouteDelta, RouteDelta__Output as _cluster_v1_RouteDelta__Output } from '../../cluster/v1/RouteDelta.js';
import type { DigestSet as _cluster_v1_DigestSet, DigestSet__Output as _cluster_v1_DigestSet__Output } from '../../cluster/v1/DigestSet.js';
import type { ForwardBatch as _cluster_v1_ForwardBatch, ForwardBatch__Output as _cluster_v1_ForwardBatch__Output } from '../../cluster/v1/ForwardBatch.js';
import type { ForwardAck as _cluster_v1_ForwardAck, ForwardAck__Output as _cluster_v1_ForwardAck__Output } from '../../cluster/v1/ForwardAck.js';
import type { RetainedBatch as _cluster_v1_RetainedBatch, RetainedBatch__Output as _cluster_v1_RetainedBatch__Output } from '../../cluster/v1/RetainedBatch.js';
import type { Registrations as _cluster_v1_Registrations, Registrations__Output as _cluster_v1_Registrations__Output } from '../../cluster/v1/Registrations.js';
import type { Evict as _cluster_v1_Evict, Evict__Output as _cluster_v1_Evict__Output } from '../../cluster/v1/Evict.js';

export interface PeerMessage {
  'route_delta'?: (_cluster_v1_RouteDelta | null);
  'digests'?: (_cluster_v1_DigestSet | null);
  'forward'?: (_cluster_v1_ForwardBatch | null);
  'forward_ack'?: (_cluster_v1_ForwardAck | null);
  'retained'?: (_cluster_v1_RetainedBatch | null);
  'registrations'?: (_cluster_v1_Registrations | null);
  'evict'?: (_cluster_v1_Evict | null);
  'body'?: "route_delta"|"digests"|"forward"|"forward_ack"|"retained"|"registrations"|"evict";
}

export interface PeerMessage__Output {
  'route_delta'?: (_cluster_v1_RouteDelta__Output | null);
  'digests'?: (_cluster_v1_DigestSet__Output | null);
  'forward'?: (_cluster_v1_ForwardBatch__Output | null);
  'forward_ack'?: (_cluster_v1_ForwardAck__Output | null);
  'retained'?: (_cluster_v1_RetainedBatch__Output | null);
  'registrations'?: (_cluster_v1_Registrations__Output | null);
  'evict'?: (_cluster_v1_Evict__Output | null);
  'body'?: "route_delta"|"digests"|"forward"|"forward_ack"|"retained"|"registrations"|"evict";
}
