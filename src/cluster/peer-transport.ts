// How cluster code talks to other nodes, whatever carries the bytes: src/cluster/grpc-transport.ts
// in production, an in-memory network in the simulator. Batches go out on `lanes` ordered streams
// per peer; a message's lane is chosen by its topic's hash (laneFor), so messages on one topic
// keep their order while other topics do not wait behind them. Route deltas and digests use lane
// 0, so one origin's deltas stay in sequence order.

import type { PeerMessage, RetainedUpdate, RouteSlice } from './peer-messages.js';
import type { SessionTakeoverMessage } from './takeover-codec.js';
import { hashA } from './route-digest.js';
import type { DrainReport } from './node-drain.js';
import type { MemberInfo } from './types.js';
import type { NodeLoad } from '../metrics/node-metrics.js';

export interface PeerTransportEvents {
  /** A message from `from` (admitted: right secret, known name, current incarnation). */
  message: [from: string, message: PeerMessage];
  /** A session takeover message (src/cluster/takeover.ts) from `from`, admitted like a message. */
  takeover: [from: string, message: SessionTakeoverMessage];
  /** Every outgoing stream to the peer is open and admitted by it. */
  'peer-up': [peer: MemberInfo];
  /** The peer's streams failed or it was disconnected; messages sent meanwhile wait (bounded). */
  'peer-down': [name: string, reason: string];
}

/** One member in a Status answer. */
export interface MemberStatusInfo {
  readonly node: string;
  readonly incarnation: number;
  readonly state: string;
  readonly routeCount: number;
  /** The answering node's digest of the member's routes ("" when it holds none): equal on every
   * node once route replication has converged. */
  readonly routeHash: string;
  readonly forwardQueueDepth: number;
  readonly grpcAddress: string;
  /** "host:port" MQTT clients should use; absent when the member advertises none. */
  readonly mqttAddress?: string;
}

export interface ClusterStatus {
  readonly node: string;
  readonly incarnation: number;
  readonly protocolVersion: number;
  readonly members: readonly MemberStatusInfo[];
  /** The answering node's own load; null from a node that does not report it. */
  readonly load: NodeLoad | null;
}

/** The outcome of an Adopt call: moved, nothing to move (detail ''), or refused (detail why). */
export interface AdoptOutcome {
  readonly moved: boolean;
  readonly detail: string;
}

/** What a node answers to its peers' control calls. */
export interface ControlHandlers {
  /** Takes the session of `clientId` over from `from` (push direction); resolves when done. */
  adopt(from: string, clientId: string): Promise<AdoptOutcome>;
  routeSlice(origin: string): RouteSlice | null;
  retainedSnapshot(): Iterable<RetainedUpdate>;
  status(): ClusterStatus;
  /** `shoal drain`: leave gracefully; resolves with the report once this node has left. */
  drain(): Promise<DrainReport>;
}

/** Whether a caller naming itself (node, incarnation) may call: a current member, a node not (or
 * not yet) a member, or an older incarnation of a member. */
export type Admission = 'accept' | 'unknown' | 'stale';

export interface PeerTransport {
  /** Ordered streams per peer. */
  readonly lanes: number;
  /** Starts (or, for a new incarnation, restarts) the streams to `peer`; idempotent. */
  connect(peer: MemberInfo): void;
  /** Closes the streams to `name` and forgets it; calls from it are refused from now on. */
  disconnect(name: string): void;
  /** Queues `message` for `peer` on `lane`; false (and counted) when the peer is unknown or its
   * bounded buffer is full. */
  send(peer: string, message: PeerMessage, lane: number): boolean;
  fetchSlice(peer: string, origin: string, deadlineMs: number): Promise<RouteSlice | null>;
  fetchRetained(peer: string, deadlineMs: number): Promise<RetainedUpdate[]>;
  status(peer: string, deadlineMs: number): Promise<ClusterStatus>;
  /** Carries one takeover message to `peer` (its own call, not a lane: an exported session can be
   * large and must not hold up forwarding). Resolves once the peer took it; rejects when the peer
   * is unknown, refuses, or does not answer within `deadlineMs` (the protocol resends). */
  takeover(peer: string, message: SessionTakeoverMessage, deadlineMs: number): Promise<void>;
  /** Asks `peer` to take this node's session of `clientId` over (push direction). */
  adopt(peer: string, clientId: string, deadlineMs: number): Promise<AdoptOutcome>;
  on<E extends keyof PeerTransportEvents>(event: E, listener: (...args: PeerTransportEvents[E]) => void): this;
  off<E extends keyof PeerTransportEvents>(event: E, listener: (...args: PeerTransportEvents[E]) => void): this;
  close(): Promise<void>;
}

/** The lane for messages on `topic`. */
export function laneFor(topic: string, lanes: number): number {
  return hashA(topic) % lanes;
}
