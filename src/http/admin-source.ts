// What the HTTP layer (admin API, /metrics, /ready, dashboard) reads from the node: the types
// only. The node builds one AdminSource (ShoalNode.adminSource in src/node.ts); the HTTP code
// never reaches into the node's maps itself, so it cannot disturb the hot path's state.
import type { ShardGaugeReading } from '../metrics/shard-gauges.js';
import type { BrokerCounters, NodeLoad } from '../metrics/node-metrics.js';
import type { TopicCount } from '../metrics/top-topics.js';

export type { NodeLoad };

export interface ClientInfo {
  clientId: string;
  /** The node the client is connected to, or whose shard holds its session. */
  node: string;
  connected: boolean;
  /** CONNECT User Name of the current connection; null offline or when none was given. */
  username: string | null;
  /** "ip:port" of the current connection; null offline. */
  address: string | null;
  /** 3 (3.1), 4 (3.1.1) or 5; null offline. */
  protocolVersion: number | null;
  /** ISO time of the current connection's CONNACK; null offline. */
  connectedAt: string | null;
  keepaliveSec: number | null;
  /** Session Expiry > 0: the session outlives its connection. */
  persistent: boolean;
  subscriptions: number;
  /** Wire bytes of the current connection; null offline. */
  bytesReceived: number | null;
  bytesSent: number | null;
}

export interface SubscriptionInfo {
  clientId: string;
  filter: string;
  qos: number;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
  subscriptionId: number | null;
}

export interface RouteInfo {
  filter: string;
  /** Nodes with at least one subscriber of the filter, sorted. */
  nodes: string[];
}

export interface RetainedInfo {
  topic: string;
  qos: number;
  payloadBytes: number;
  /** The payload as UTF-8 when it is valid UTF-8 of at most 1 KiB, else null (see payloadBase64). */
  payload: string | null;
  /** The first 1 KiB of the payload, base64, when `payload` is null. */
  payloadBase64: string | null;
}

export interface MemberInfoView {
  node: string;
  /** 'alive' | 'suspect' | 'down'; this node is always 'alive'. */
  state: string;
  self: boolean;
  incarnation: number | null;
  grpcAddress: string | null;
  routes: number;
  /** Forwarded messages waiting for this member's acknowledgement. */
  forwardQueueDepth: number;
  /** Null when the member did not answer (down, or an older version without it). */
  load: NodeLoad | null;
}

export interface Readiness {
  ready: boolean;
  /** Each condition, true when met. */
  checks: Record<string, boolean>;
  /** What is still awaited, for an operator, when not ready. */
  waitingFor: string[];
}

/** What the cluster adds to the HTTP views; absent on a node running alone. */
export interface ClusterView {
  members(): Promise<MemberInfoView[]>;
  routeList(): RouteInfo[];
  /** Route counts per origin node. */
  routeCounts(): Map<string, number>;
  /** Forwarded messages awaiting acknowledgement, per peer. */
  forwardQueueDepths(): Map<string, number>;
  /** Members (others) by state, this node not included. */
  memberStates(): Map<string, number>;
  readiness(): Readiness;
}

export interface AdminSource {
  readonly nodeName: string;
  readonly startedAt: number;
  readonly counters: BrokerCounters;
  /** Every client with a connection or a session on this node (unordered). */
  clients(): ClientInfo[];
  client(clientId: string): ClientInfo | null;
  /** Closes the client's connection with 0x98 Administrative action; false when not connected here. */
  kick(clientId: string): boolean;
  subscriptions(): SubscriptionInfo[];
  subscriptionCount(): number;
  /** Distinct filters of this node's subscriptions, kept as they change; only when alone (in a
   * cluster, see ClusterView.routeList). */
  localFilters(): string[];
  retained(): RetainedInfo[];
  retainedCount(): number;
  connections(): number;
  sessions(): number;
  /** Wire bytes of the open connections, summed now. */
  openConnectionBytes(): { received: number; sent: number };
  load(): NodeLoad;
  topTopics(n: number): TopicCount[];
  shardMailboxDepths(): number[];
  shardReadings(): ShardGaugeReading[];
  /** The MQTT listeners are up (false while starting and once stopping). */
  listening(): boolean;
  cluster: ClusterView | null;
}
