// Original file: proto/cluster.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AdoptRequest as _cluster_v1_AdoptRequest, AdoptRequest__Output as _cluster_v1_AdoptRequest__Output } from '../../cluster/v1/AdoptRequest.js';
import type { AdoptResponse as _cluster_v1_AdoptResponse, AdoptResponse__Output as _cluster_v1_AdoptResponse__Output } from '../../cluster/v1/AdoptResponse.js';
import type { FullSyncRequest as _cluster_v1_FullSyncRequest, FullSyncRequest__Output as _cluster_v1_FullSyncRequest__Output } from '../../cluster/v1/FullSyncRequest.js';
import type { FullSyncResponse as _cluster_v1_FullSyncResponse, FullSyncResponse__Output as _cluster_v1_FullSyncResponse__Output } from '../../cluster/v1/FullSyncResponse.js';
import type { HelloRequest as _cluster_v1_HelloRequest, HelloRequest__Output as _cluster_v1_HelloRequest__Output } from '../../cluster/v1/HelloRequest.js';
import type { HelloResponse as _cluster_v1_HelloResponse, HelloResponse__Output as _cluster_v1_HelloResponse__Output } from '../../cluster/v1/HelloResponse.js';
import type { PeerBatch as _cluster_v1_PeerBatch, PeerBatch__Output as _cluster_v1_PeerBatch__Output } from '../../cluster/v1/PeerBatch.js';
import type { RetainedBatch as _cluster_v1_RetainedBatch, RetainedBatch__Output as _cluster_v1_RetainedBatch__Output } from '../../cluster/v1/RetainedBatch.js';
import type { RetainedSnapshotRequest as _cluster_v1_RetainedSnapshotRequest, RetainedSnapshotRequest__Output as _cluster_v1_RetainedSnapshotRequest__Output } from '../../cluster/v1/RetainedSnapshotRequest.js';
import type { StatusRequest as _cluster_v1_StatusRequest, StatusRequest__Output as _cluster_v1_StatusRequest__Output } from '../../cluster/v1/StatusRequest.js';
import type { StatusResponse as _cluster_v1_StatusResponse, StatusResponse__Output as _cluster_v1_StatusResponse__Output } from '../../cluster/v1/StatusResponse.js';
import type { TakeoverMessage as _cluster_v1_TakeoverMessage, TakeoverMessage__Output as _cluster_v1_TakeoverMessage__Output } from '../../cluster/v1/TakeoverMessage.js';
import type { TakeoverReceipt as _cluster_v1_TakeoverReceipt, TakeoverReceipt__Output as _cluster_v1_TakeoverReceipt__Output } from '../../cluster/v1/TakeoverReceipt.js';

export interface ClusterClient extends grpc.Client {
  /**
   * Push direction (graceful leave): the callee takes the caller's session of `client_id` over as
   * a CONNECT would, with no connection waiting; the session ends up offline on the callee. The
   * answer comes when that takeover is over.
   */
  Adopt(argument: _cluster_v1_AdoptRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_AdoptResponse__Output>): grpc.ClientUnaryCall;
  Adopt(argument: _cluster_v1_AdoptRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cluster_v1_AdoptResponse__Output>): grpc.ClientUnaryCall;
  Adopt(argument: _cluster_v1_AdoptRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_AdoptResponse__Output>): grpc.ClientUnaryCall;
  Adopt(argument: _cluster_v1_AdoptRequest, callback: grpc.requestCallback<_cluster_v1_AdoptResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Push direction (graceful leave): the callee takes the caller's session of `client_id` over as
   * a CONNECT would, with no connection waiting; the session ends up offline on the callee. The
   * answer comes when that takeover is over.
   */
  adopt(argument: _cluster_v1_AdoptRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_AdoptResponse__Output>): grpc.ClientUnaryCall;
  adopt(argument: _cluster_v1_AdoptRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cluster_v1_AdoptResponse__Output>): grpc.ClientUnaryCall;
  adopt(argument: _cluster_v1_AdoptRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_AdoptResponse__Output>): grpc.ClientUnaryCall;
  adopt(argument: _cluster_v1_AdoptRequest, callback: grpc.requestCallback<_cluster_v1_AdoptResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Long-lived stream of batches from the caller to the callee. The callee answers with one
   * empty batch once the caller is admitted (authenticated, known and current incarnation), then
   * may send nothing more; the caller dials K of these per peer and picks one by topic hash, so
   * per-topic order holds without head-of-line blocking across topics.
   */
  Exchange(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_cluster_v1_PeerBatch, _cluster_v1_PeerBatch__Output>;
  Exchange(options?: grpc.CallOptions): grpc.ClientDuplexStream<_cluster_v1_PeerBatch, _cluster_v1_PeerBatch__Output>;
  /**
   * Long-lived stream of batches from the caller to the callee. The callee answers with one
   * empty batch once the caller is admitted (authenticated, known and current incarnation), then
   * may send nothing more; the caller dials K of these per peer and picks one by topic hash, so
   * per-topic order holds without head-of-line blocking across topics.
   */
  exchange(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_cluster_v1_PeerBatch, _cluster_v1_PeerBatch__Output>;
  exchange(options?: grpc.CallOptions): grpc.ClientDuplexStream<_cluster_v1_PeerBatch, _cluster_v1_PeerBatch__Output>;
  
  /**
   * One origin's whole route slice as the callee knows it (anti-entropy repair).
   */
  FullSync(argument: _cluster_v1_FullSyncRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_FullSyncResponse__Output>): grpc.ClientUnaryCall;
  FullSync(argument: _cluster_v1_FullSyncRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cluster_v1_FullSyncResponse__Output>): grpc.ClientUnaryCall;
  FullSync(argument: _cluster_v1_FullSyncRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_FullSyncResponse__Output>): grpc.ClientUnaryCall;
  FullSync(argument: _cluster_v1_FullSyncRequest, callback: grpc.requestCallback<_cluster_v1_FullSyncResponse__Output>): grpc.ClientUnaryCall;
  /**
   * One origin's whole route slice as the callee knows it (anti-entropy repair).
   */
  fullSync(argument: _cluster_v1_FullSyncRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_FullSyncResponse__Output>): grpc.ClientUnaryCall;
  fullSync(argument: _cluster_v1_FullSyncRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cluster_v1_FullSyncResponse__Output>): grpc.ClientUnaryCall;
  fullSync(argument: _cluster_v1_FullSyncRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_FullSyncResponse__Output>): grpc.ClientUnaryCall;
  fullSync(argument: _cluster_v1_FullSyncRequest, callback: grpc.requestCallback<_cluster_v1_FullSyncResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Handshake before anything else: who the caller is, which protocol versions it speaks.
   */
  Hello(argument: _cluster_v1_HelloRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  Hello(argument: _cluster_v1_HelloRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cluster_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  Hello(argument: _cluster_v1_HelloRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  Hello(argument: _cluster_v1_HelloRequest, callback: grpc.requestCallback<_cluster_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Handshake before anything else: who the caller is, which protocol versions it speaks.
   */
  hello(argument: _cluster_v1_HelloRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  hello(argument: _cluster_v1_HelloRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cluster_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  hello(argument: _cluster_v1_HelloRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  hello(argument: _cluster_v1_HelloRequest, callback: grpc.requestCallback<_cluster_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every retained message the callee holds, in batches (a joining node's initial copy).
   */
  RetainedSnapshot(argument: _cluster_v1_RetainedSnapshotRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_cluster_v1_RetainedBatch__Output>;
  RetainedSnapshot(argument: _cluster_v1_RetainedSnapshotRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_cluster_v1_RetainedBatch__Output>;
  /**
   * Every retained message the callee holds, in batches (a joining node's initial copy).
   */
  retainedSnapshot(argument: _cluster_v1_RetainedSnapshotRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_cluster_v1_RetainedBatch__Output>;
  retainedSnapshot(argument: _cluster_v1_RetainedSnapshotRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_cluster_v1_RetainedBatch__Output>;
  
  /**
   * Control: the callee's view of the cluster, for `shoal cluster status`.
   */
  Status(argument: _cluster_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _cluster_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cluster_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _cluster_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _cluster_v1_StatusRequest, callback: grpc.requestCallback<_cluster_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Control: the callee's view of the cluster, for `shoal cluster status`.
   */
  status(argument: _cluster_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _cluster_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_cluster_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _cluster_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _cluster_v1_StatusRequest, callback: grpc.requestCallback<_cluster_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * One message of a cross-node session takeover (src/cluster/takeover.ts) to the callee; the
   * protocol's answer travels as the callee's own Takeover call back, so the receipt only says
   * the message arrived. A unary call, not the Exchange stream: an exported session can be large
   * and must not hold up forwarding. A peer without this call answers UNIMPLEMENTED: it cannot
   * take part in a takeover (the CONNECT is refused with 0x89 Server busy).
   */
  Takeover(argument: _cluster_v1_TakeoverMessage, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_TakeoverReceipt__Output>): grpc.ClientUnaryCall;
  Takeover(argument: _cluster_v1_TakeoverMessage, metadata: grpc.Metadata, callback: grpc.requestCallback<_cluster_v1_TakeoverReceipt__Output>): grpc.ClientUnaryCall;
  Takeover(argument: _cluster_v1_TakeoverMessage, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_TakeoverReceipt__Output>): grpc.ClientUnaryCall;
  Takeover(argument: _cluster_v1_TakeoverMessage, callback: grpc.requestCallback<_cluster_v1_TakeoverReceipt__Output>): grpc.ClientUnaryCall;
  /**
   * One message of a cross-node session takeover (src/cluster/takeover.ts) to the callee; the
   * protocol's answer travels as the callee's own Takeover call back, so the receipt only says
   * the message arrived. A unary call, not the Exchange stream: an exported session can be large
   * and must not hold up forwarding. A peer without this call answers UNIMPLEMENTED: it cannot
   * take part in a takeover (the CONNECT is refused with 0x89 Server busy).
   */
  takeover(argument: _cluster_v1_TakeoverMessage, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_TakeoverReceipt__Output>): grpc.ClientUnaryCall;
  takeover(argument: _cluster_v1_TakeoverMessage, metadata: grpc.Metadata, callback: grpc.requestCallback<_cluster_v1_TakeoverReceipt__Output>): grpc.ClientUnaryCall;
  takeover(argument: _cluster_v1_TakeoverMessage, options: grpc.CallOptions, callback: grpc.requestCallback<_cluster_v1_TakeoverReceipt__Output>): grpc.ClientUnaryCall;
  takeover(argument: _cluster_v1_TakeoverMessage, callback: grpc.requestCallback<_cluster_v1_TakeoverReceipt__Output>): grpc.ClientUnaryCall;
  
}

export interface ClusterHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Push direction (graceful leave): the callee takes the caller's session of `client_id` over as
   * a CONNECT would, with no connection waiting; the session ends up offline on the callee. The
   * answer comes when that takeover is over.
   */
  Adopt: grpc.handleUnaryCall<_cluster_v1_AdoptRequest__Output, _cluster_v1_AdoptResponse>;
  
  /**
   * Long-lived stream of batches from the caller to the callee. The callee answers with one
   * empty batch once the caller is admitted (authenticated, known and current incarnation), then
   * may send nothing more; the caller dials K of these per peer and picks one by topic hash, so
   * per-topic order holds without head-of-line blocking across topics.
   */
  Exchange: grpc.handleBidiStreamingCall<_cluster_v1_PeerBatch__Output, _cluster_v1_PeerBatch>;
  
  /**
   * One origin's whole route slice as the callee knows it (anti-entropy repair).
   */
  FullSync: grpc.handleUnaryCall<_cluster_v1_FullSyncRequest__Output, _cluster_v1_FullSyncResponse>;
  
  /**
   * Handshake before anything else: who the caller is, which protocol versions it speaks.
   */
  Hello: grpc.handleUnaryCall<_cluster_v1_HelloRequest__Output, _cluster_v1_HelloResponse>;
  
  /**
   * Every retained message the callee holds, in batches (a joining node's initial copy).
   */
  RetainedSnapshot: grpc.handleServerStreamingCall<_cluster_v1_RetainedSnapshotRequest__Output, _cluster_v1_RetainedBatch>;
  
  /**
   * Control: the callee's view of the cluster, for `shoal cluster status`.
   */
  Status: grpc.handleUnaryCall<_cluster_v1_StatusRequest__Output, _cluster_v1_StatusResponse>;
  
  /**
   * One message of a cross-node session takeover (src/cluster/takeover.ts) to the callee; the
   * protocol's answer travels as the callee's own Takeover call back, so the receipt only says
   * the message arrived. A unary call, not the Exchange stream: an exported session can be large
   * and must not hold up forwarding. A peer without this call answers UNIMPLEMENTED: it cannot
   * take part in a takeover (the CONNECT is refused with 0x89 Server busy).
   */
  Takeover: grpc.handleUnaryCall<_cluster_v1_TakeoverMessage__Output, _cluster_v1_TakeoverReceipt>;
  
}

export interface ClusterDefinition extends grpc.ServiceDefinition {
  Adopt: MethodDefinition<_cluster_v1_AdoptRequest, _cluster_v1_AdoptResponse, _cluster_v1_AdoptRequest__Output, _cluster_v1_AdoptResponse__Output>
  Exchange: MethodDefinition<_cluster_v1_PeerBatch, _cluster_v1_PeerBatch, _cluster_v1_PeerBatch__Output, _cluster_v1_PeerBatch__Output>
  FullSync: MethodDefinition<_cluster_v1_FullSyncRequest, _cluster_v1_FullSyncResponse, _cluster_v1_FullSyncRequest__Output, _cluster_v1_FullSyncResponse__Output>
  Hello: MethodDefinition<_cluster_v1_HelloRequest, _cluster_v1_HelloResponse, _cluster_v1_HelloRequest__Output, _cluster_v1_HelloResponse__Output>
  RetainedSnapshot: MethodDefinition<_cluster_v1_RetainedSnapshotRequest, _cluster_v1_RetainedBatch, _cluster_v1_RetainedSnapshotRequest__Output, _cluster_v1_RetainedBatch__Output>
  Status: MethodDefinition<_cluster_v1_StatusRequest, _cluster_v1_StatusResponse, _cluster_v1_StatusRequest__Output, _cluster_v1_StatusResponse__Output>
  Takeover: MethodDefinition<_cluster_v1_TakeoverMessage, _cluster_v1_TakeoverReceipt, _cluster_v1_TakeoverMessage__Output, _cluster_v1_TakeoverReceipt__Output>
}
