import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdoptRequest as _cluster_v1_AdoptRequest, AdoptRequest__Output as _cluster_v1_AdoptRequest__Output } from './cluster/v1/AdoptRequest.js';
import type { AdoptResponse as _cluster_v1_AdoptResponse, AdoptResponse__Output as _cluster_v1_AdoptResponse__Output } from './cluster/v1/AdoptResponse.js';
import type { ClusterClient as _cluster_v1_ClusterClient, ClusterDefinition as _cluster_v1_ClusterDefinition } from './cluster/v1/Cluster.js';
import type { DigestSet as _cluster_v1_DigestSet, DigestSet__Output as _cluster_v1_DigestSet__Output } from './cluster/v1/DigestSet.js';
import type { DrainRequest as _cluster_v1_DrainRequest, DrainRequest__Output as _cluster_v1_DrainRequest__Output } from './cluster/v1/DrainRequest.js';
import type { DrainResponse as _cluster_v1_DrainResponse, DrainResponse__Output as _cluster_v1_DrainResponse__Output } from './cluster/v1/DrainResponse.js';
import type { Evict as _cluster_v1_Evict, Evict__Output as _cluster_v1_Evict__Output } from './cluster/v1/Evict.js';
import type { ForwardAck as _cluster_v1_ForwardAck, ForwardAck__Output as _cluster_v1_ForwardAck__Output } from './cluster/v1/ForwardAck.js';
import type { ForwardBatch as _cluster_v1_ForwardBatch, ForwardBatch__Output as _cluster_v1_ForwardBatch__Output } from './cluster/v1/ForwardBatch.js';
import type { ForwardedMessage as _cluster_v1_ForwardedMessage, ForwardedMessage__Output as _cluster_v1_ForwardedMessage__Output } from './cluster/v1/ForwardedMessage.js';
import type { FullSyncRequest as _cluster_v1_FullSyncRequest, FullSyncRequest__Output as _cluster_v1_FullSyncRequest__Output } from './cluster/v1/FullSyncRequest.js';
import type { FullSyncResponse as _cluster_v1_FullSyncResponse, FullSyncResponse__Output as _cluster_v1_FullSyncResponse__Output } from './cluster/v1/FullSyncResponse.js';
import type { HelloRequest as _cluster_v1_HelloRequest, HelloRequest__Output as _cluster_v1_HelloRequest__Output } from './cluster/v1/HelloRequest.js';
import type { HelloResponse as _cluster_v1_HelloResponse, HelloResponse__Output as _cluster_v1_HelloResponse__Output } from './cluster/v1/HelloResponse.js';
import type { MemberStatus as _cluster_v1_MemberStatus, MemberStatus__Output as _cluster_v1_MemberStatus__Output } from './cluster/v1/MemberStatus.js';
import type { MessageProperties as _cluster_v1_MessageProperties, MessageProperties__Output as _cluster_v1_MessageProperties__Output } from './cluster/v1/MessageProperties.js';
import type { NodeLoad as _cluster_v1_NodeLoad, NodeLoad__Output as _cluster_v1_NodeLoad__Output } from './cluster/v1/NodeLoad.js';
import type { OriginDigest as _cluster_v1_OriginDigest, OriginDigest__Output as _cluster_v1_OriginDigest__Output } from './cluster/v1/OriginDigest.js';
import type { PeerBatch as _cluster_v1_PeerBatch, PeerBatch__Output as _cluster_v1_PeerBatch__Output } from './cluster/v1/PeerBatch.js';
import type { PeerMessage as _cluster_v1_PeerMessage, PeerMessage__Output as _cluster_v1_PeerMessage__Output } from './cluster/v1/PeerMessage.js';
import type { Registration as _cluster_v1_Registration, Registration__Output as _cluster_v1_Registration__Output } from './cluster/v1/Registration.js';
import type { Registrations as _cluster_v1_Registrations, Registrations__Output as _cluster_v1_Registrations__Output } from './cluster/v1/Registrations.js';
import type { RetainedBatch as _cluster_v1_RetainedBatch, RetainedBatch__Output as _cluster_v1_RetainedBatch__Output } from './cluster/v1/RetainedBatch.js';
import type { RetainedMessage as _cluster_v1_RetainedMessage, RetainedMessage__Output as _cluster_v1_RetainedMessage__Output } from './cluster/v1/RetainedMessage.js';
import type { RetainedSnapshotRequest as _cluster_v1_RetainedSnapshotRequest, RetainedSnapshotRequest__Output as _cluster_v1_RetainedSnapshotRequest__Output } from './cluster/v1/RetainedSnapshotRequest.js';
import type { RetainedUpdate as _cluster_v1_RetainedUpdate, RetainedUpdate__Output as _cluster_v1_RetainedUpdate__Output } from './cluster/v1/RetainedUpdate.js';
import type { RouteDelta as _cluster_v1_RouteDelta, RouteDelta__Output as _cluster_v1_RouteDelta__Output } from './cluster/v1/RouteDelta.js';
import type { SessionCopy as _cluster_v1_SessionCopy, SessionCopy__Output as _cluster_v1_SessionCopy__Output } from './cluster/v1/SessionCopy.js';
import type { SessionMessage as _cluster_v1_SessionMessage, SessionMessage__Output as _cluster_v1_SessionMessage__Output } from './cluster/v1/SessionMessage.js';
import type { SessionSnapshot as _cluster_v1_SessionSnapshot, SessionSnapshot__Output as _cluster_v1_SessionSnapshot__Output } from './cluster/v1/SessionSnapshot.js';
import type { SessionSubscription as _cluster_v1_SessionSubscription, SessionSubscription__Output as _cluster_v1_SessionSubscription__Output } from './cluster/v1/SessionSubscription.js';
import type { SessionWill as _cluster_v1_SessionWill, SessionWill__Output as _cluster_v1_SessionWill__Output } from './cluster/v1/SessionWill.js';
import type { StatusRequest as _cluster_v1_StatusRequest, StatusRequest__Output as _cluster_v1_StatusRequest__Output } from './cluster/v1/StatusRequest.js';
import type { StatusResponse as _cluster_v1_StatusResponse, StatusResponse__Output as _cluster_v1_StatusResponse__Output } from './cluster/v1/StatusResponse.js';
import type { TakeoverAbort as _cluster_v1_TakeoverAbort, TakeoverAbort__Output as _cluster_v1_TakeoverAbort__Output } from './cluster/v1/TakeoverAbort.js';
import type { TakeoverBegin as _cluster_v1_TakeoverBegin, TakeoverBegin__Output as _cluster_v1_TakeoverBegin__Output } from './cluster/v1/TakeoverBegin.js';
import type { TakeoverClaim as _cluster_v1_TakeoverClaim, TakeoverClaim__Output as _cluster_v1_TakeoverClaim__Output } from './cluster/v1/TakeoverClaim.js';
import type { TakeoverClaimed as _cluster_v1_TakeoverClaimed, TakeoverClaimed__Output as _cluster_v1_TakeoverClaimed__Output } from './cluster/v1/TakeoverClaimed.js';
import type { TakeoverEnd as _cluster_v1_TakeoverEnd, TakeoverEnd__Output as _cluster_v1_TakeoverEnd__Output } from './cluster/v1/TakeoverEnd.js';
import type { TakeoverEnded as _cluster_v1_TakeoverEnded, TakeoverEnded__Output as _cluster_v1_TakeoverEnded__Output } from './cluster/v1/TakeoverEnded.js';
import type { TakeoverExported as _cluster_v1_TakeoverExported, TakeoverExported__Output as _cluster_v1_TakeoverExported__Output } from './cluster/v1/TakeoverExported.js';
import type { TakeoverMessage as _cluster_v1_TakeoverMessage, TakeoverMessage__Output as _cluster_v1_TakeoverMessage__Output } from './cluster/v1/TakeoverMessage.js';
import type { TakeoverReceipt as _cluster_v1_TakeoverReceipt, TakeoverReceipt__Output as _cluster_v1_TakeoverReceipt__Output } from './cluster/v1/TakeoverReceipt.js';
import type { TakeoverRelease as _cluster_v1_TakeoverRelease, TakeoverRelease__Output as _cluster_v1_TakeoverRelease__Output } from './cluster/v1/TakeoverRelease.js';
import type { TakeoverReleased as _cluster_v1_TakeoverReleased, TakeoverReleased__Output as _cluster_v1_TakeoverReleased__Output } from './cluster/v1/TakeoverReleased.js';
import type { UserProperty as _cluster_v1_UserProperty, UserProperty__Output as _cluster_v1_UserProperty__Output } from './cluster/v1/UserProperty.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  cluster: {
    v1: {
      AdoptRequest: MessageTypeDefinition<_cluster_v1_AdoptRequest, _cluster_v1_AdoptRequest__Output>
      AdoptResponse: MessageTypeDefinition<_cluster_v1_AdoptResponse, _cluster_v1_AdoptResponse__Output>
      Cluster: SubtypeConstructor<typeof grpc.Client, _cluster_v1_ClusterClient> & { service: _cluster_v1_ClusterDefinition }
      DigestSet: MessageTypeDefinition<_cluster_v1_DigestSet, _cluster_v1_DigestSet__Output>
      DrainRequest: MessageTypeDefinition<_cluster_v1_DrainRequest, _cluster_v1_DrainRequest__Output>
      DrainResponse: MessageTypeDefinition<_cluster_v1_DrainResponse, _cluster_v1_DrainResponse__Output>
      Evict: MessageTypeDefinition<_cluster_v1_Evict, _cluster_v1_Evict__Output>
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
      NodeLoad: MessageTypeDefinition<_cluster_v1_NodeLoad, _cluster_v1_NodeLoad__Output>
      OriginDigest: MessageTypeDefinition<_cluster_v1_OriginDigest, _cluster_v1_OriginDigest__Output>
      PeerBatch: MessageTypeDefinition<_cluster_v1_PeerBatch, _cluster_v1_PeerBatch__Output>
      PeerMessage: MessageTypeDefinition<_cluster_v1_PeerMessage, _cluster_v1_PeerMessage__Output>
      Registration: MessageTypeDefinition<_cluster_v1_Registration, _cluster_v1_Registration__Output>
      Registrations: MessageTypeDefinition<_cluster_v1_Registrations, _cluster_v1_Registrations__Output>
      RetainedBatch: MessageTypeDefinition<_cluster_v1_RetainedBatch, _cluster_v1_RetainedBatch__Output>
      RetainedMessage: MessageTypeDefinition<_cluster_v1_RetainedMessage, _cluster_v1_RetainedMessage__Output>
      RetainedSnapshotRequest: MessageTypeDefinition<_cluster_v1_RetainedSnapshotRequest, _cluster_v1_RetainedSnapshotRequest__Output>
      RetainedUpdate: MessageTypeDefinition<_cluster_v1_RetainedUpdate, _cluster_v1_RetainedUpdate__Output>
      RouteDelta: MessageTypeDefinition<_cluster_v1_RouteDelta, _cluster_v1_RouteDelta__Output>
      SessionCopy: MessageTypeDefinition<_cluster_v1_SessionCopy, _cluster_v1_SessionCopy__Output>
      SessionMessage: MessageTypeDefinition<_cluster_v1_SessionMessage, _cluster_v1_SessionMessage__Output>
      SessionSnapshot: MessageTypeDefinition<_cluster_v1_SessionSnapshot, _cluster_v1_SessionSnapshot__Output>
      SessionSubscription: MessageTypeDefinition<_cluster_v1_SessionSubscription, _cluster_v1_SessionSubscription__Output>
      SessionWill: MessageTypeDefinition<_cluster_v1_SessionWill, _cluster_v1_SessionWill__Output>
      StatusRequest: MessageTypeDefinition<_cluster_v1_StatusRequest, _cluster_v1_StatusRequest__Output>
      StatusResponse: MessageTypeDefinition<_cluster_v1_StatusResponse, _cluster_v1_StatusResponse__Output>
      TakeoverAbort: MessageTypeDefinition<_cluster_v1_TakeoverAbort, _cluster_v1_TakeoverAbort__Output>
      TakeoverBegin: MessageTypeDefinition<_cluster_v1_TakeoverBegin, _cluster_v1_TakeoverBegin__Output>
      TakeoverClaim: MessageTypeDefinition<_cluster_v1_TakeoverClaim, _cluster_v1_TakeoverClaim__Output>
      TakeoverClaimed: MessageTypeDefinition<_cluster_v1_TakeoverClaimed, _cluster_v1_TakeoverClaimed__Output>
      TakeoverEnd: MessageTypeDefinition<_cluster_v1_TakeoverEnd, _cluster_v1_TakeoverEnd__Output>
      TakeoverEnded: MessageTypeDefinition<_cluster_v1_TakeoverEnded, _cluster_v1_TakeoverEnded__Output>
      TakeoverExported: MessageTypeDefinition<_cluster_v1_TakeoverExported, _cluster_v1_TakeoverExported__Output>
      TakeoverMessage: MessageTypeDefinition<_cluster_v1_TakeoverMessage, _cluster_v1_TakeoverMessage__Output>
      TakeoverReceipt: MessageTypeDefinition<_cluster_v1_TakeoverReceipt, _cluster_v1_TakeoverReceipt__Output>
      TakeoverRelease: MessageTypeDefinition<_cluster_v1_TakeoverRelease, _cluster_v1_TakeoverRelease__Output>
      TakeoverReleased: MessageTypeDefinition<_cluster_v1_TakeoverReleased, _cluster_v1_TakeoverReleased__Output>
      UserProperty: MessageTypeDefinition<_cluster_v1_UserProperty, _cluster_v1_UserProperty__Output>
    }
  }
}

