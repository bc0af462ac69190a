import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ClusterClient as _cluster_v1_ClusterClient, ClusterDefinition as _cluster_v1_ClusterDefinition } from './cluster/v1/Cluster.js';
import type { DigestSet as _cluster_v1_DigestSet, DigestSet__Output as _cluster_v1_DigestSet__Output } from './cluster/v1/DigestSet.js';
import type { ForwardAck as _cluster_v1_ForwardAck, ForwardAck__Output as _cluster_v1_ForwardAck__Output } from './cluster/v1/ForwardAck.js';
import type { ForwardBatch as _cluster_v1_ForwardBatch, ForwardBatch__Output as _cluster_v1_ForwardBatch__Output } from './cluster/v1/ForwardBatch.js';
import type { ForwardedMessage as _cluster_v1_ForwardedMessage, ForwardedMessage__Output as _cluster_v1_ForwardedMessage__Output } from './cluster/v1/ForwardedMessage.js';
import type { FullSyncRequest as _cluster_v1_FullSyncRequest, FullSyncRequest__Output as _cluster_v1_FullSyncRequest__Output } from './cluster/v1/FullSyncRequest.js';
import type { FullSyncResponse as _cluster_v1_FullSyncResponse, FullSyncResponse__Output as _cluster_v1_FullSyncResponse__Output } from './cluster/v1/FullSyncResponse.js';
import type { HelloRequest as _cluster_v1_HelloRequest, HelloRequest__Output as _cluster_v1_HelloRequest__Output } from './cluster/v1/HelloRequest.js';
import type { HelloResponse as _cluster_v1_HelloResponse, HelloResponse__Output as _cluster_v1_HelloResponse__Output } from './cluster/v1/HelloResponse.js';
import type { MemberStatus as _cluster_v1_MemberStatus, MemberStatus__Output as _cluster_v1_MemberStatus__Output } from './cluster/v1/MemberStatus.js';
import type { MessageProperties as _cluster_v1_MessageProperties, MessageProperties__Output as _cluster_v1_MessageProperties__Output } from './cluster/v1/MessageProperties.js';
import type { OriginDigest as _cluster_v1_OriginDigest, OriginDigest__Output as _cluster_v1_OriginDigest__Output } from './cluster/v1/OriginDigest.js';
import type { PeerBatch as _cluster_v1_PeerBatch, PeerBatch__Output as _cluster_v1_PeerBatch__Output } from './cluster/v1/PeerBatch.js';
import type { PeerMessage as _cluster_v1_PeerMessage, PeerMessage__Output as _cluster_v1_PeerMessage__Output } from './cluster/v1/PeerMessage.js';
import type { RetainedBatch as _cluster_v1_RetainedBatch, RetainedBatch__Output as _cluster_v1_RetainedBatch__Output } from './cluster/v1/RetainedBatch.js';
import type { RetainedMessage as _cluster_v1_RetainedMessage, RetainedMessage__Output as _cluster_v1_RetainedMessage__Output } from './cluster/v1/RetainedMessage.js';
import type { RetainedSnapshotRequest as _cluster_v1_RetainedSnapshotRequest, RetainedSnapshotRequest__Output as _cluster_v1_RetainedSnapshotRequest__Output } from './cluster/v1/RetainedSnapshotRequest.js';
import type { RetainedUpdate as _cluster_v1_RetainedUpdate, RetainedUpdate__Output as _cluster_v1_RetainedUpdate__Output } from './cluster/v1/RetainedUpdate.js';
import type { RouteDelta as _cluster_v1_RouteDelta, RouteDelta__Output as _cluster_v1_RouteDelta__Output } from './cluster/v1/RouteDelta.js';
import type { StatusRequest as _cluster_v1_StatusRequest, StatusRequest__Output as _cluster_v1_StatusRequest__Output } from './cluster/v1/StatusRequest.js';
import type { StatusResponse as _cluster_v1_StatusResponse, StatusResponse__Output as _cluster_v1_StatusResponse__Output } from './cluster/v1/StatusResponse.js';
import type { UserProperty as _cluster_v1_UserProperty, UserProperty__Output as _cluster_v1_UserProperty__Output } from './cluster/v1/UserProperty.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  cluster: {
    v1: {
      Cluster: SubtypeConstructor<typeof grpc.Client, _cluster_v1_ClusterClient> & { service: _cluster_v1_ClusterDefinition }
      DigestSet: MessageTypeDefinition<_cluster_v1_DigestSet, _cluster_v1_DigestSet__Output>
      ForwardAck: MessageTypeDefinition<_cluster_v1_ForwardAck, _cluster_v1_ForwardAck__Output>
      ForwardBatch: MessageTypeDefinition<_cluster_v1_ForwardBatch, _cluster_v1_ForwardBatch__Output>
      ForwardStatus: EnumTypeDefinition
      ForwardedMessage: MessageTypeDefinition<_cluster_v1_ForwardedMessage, _cluster_v1_ForwardedMessage__Output>
      FullSyncRequest: MessageTypeDefinition<_cluster_v1_FullSyncRequest, _cluster_v1_FullSyncRequest__Output>
      FullSyncResponse: MessageTypeDefinition<_cluster_v1_FullSyncResponse, _cluster_v1_FullSyncResponse__Output>
      HelloRequest: MessageTypeDefinition<_cluster_v1_HelloRequest, _cluster_v1_HelloRequest__Output>
      HelloResponse: MessageTypeDefinition<_cluster_v1_HelloResponse, _cluster_v1_HelloResponse__Output>
      MemberStatus: MessageTypeDefinition<_cluster_v1_MemberStatus, _cluster_v1_MemberStatus__Output>
      MessageProperties: MessageTypeDefinition<_cluster_v1_MessageProperties, _cluster_v1_MessageProperties__Output>
      OriginDigest: MessageTypeDefinition<_cluster_v1_OriginDigest, _cluster_v1_OriginDigest__Output>
      PeerBatch: MessageTypeDefinition<_cluster_v1_PeerBatch, _cluster_v1_PeerBatch__Output>
      PeerMessage: MessageTypeDefinition<_cluster_v1_PeerMessage, _cluster_v1_PeerMessage__Output>
      RetainedBatch: MessageTypeDefinition<_cluster_v1_RetainedBatch, _cluster_v1_RetainedBatch__Output>
      RetainedMessage: MessageTypeDefinition<_cluster_v1_RetainedMessage, _cluster_v1_RetainedMessage__Output>
      RetainedSnapshotRequest: MessageTypeDefinition<_cluster_v1_RetainedSnapshotRequest, _cluster_v1_RetainedSnapshotRequest__Output>
      RetainedUpdate: MessageTypeDefinition<_cluster_v1_RetainedUpdate, _cluster_v1_RetainedUpdate__Output>
      RouteDelta: MessageTypeDefinition<_cluster_v1_RouteDelta, _cluster_v1_RouteDelta__Output>
      StatusRequest: MessageTypeDefinition<_cluster_v1_StatusRequest, _cluster_v1_StatusRequest__Output>
      StatusResponse: MessageTypeDefinition<_cluster_v1_StatusResponse, _cluster_v1_StatusResponse__Output>
      UserProperty: MessageTypeDefinition<_cluster_v1_UserProperty, _cluster_v1_UserProperty__Output>
    }
  }
}

