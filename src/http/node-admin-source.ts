// The node's AdminSource (src/http/admin-source.ts): built over the node's own maps, handed in
// read-only, so the listing, kick and metrics code lives here and not in src/node.ts. Everything
// is read when asked (an API call, a scrape), never on the hot path.
import type { RetainedMessages } from '../broker/retained.js';
import type { LocalRoutes } from '../cluster/local-routes.js';
import type { Logger } from '../log.js';
import type { BrokerCounters, NodeLoad } from '../metrics/node-metrics.js';
import type { ShardGaugeReading } from '../metrics/shard-gauges.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { Router } from '../routing/router.js';
import type { AdminSource, ClientInfo, ClusterView, SubscriptionInfo } from './admin-source.js';
import { retainedInfo } from './retained-info.js';

/** What the admin view reads of a client connection (the node's ClientConnection). */
export interface AdminConnection {
  readonly id: number;
  readonly state: string;
  readonly remoteAddress: string;
  readonly protocolVersion: number;
  readonly keepaliveSec: number;
  /** CONNECT User Name. */
  readonly username: string | null;
  /** Epoch ms of its CONNACK. */
  readonly connectedAt: number;
  readonly stats: { readonly bytesReceived: number; readonly bytesSent: number };
  close(reasonCode: number, detail: string, kind: 'server'): void;
}

/** The node's state the admin view reads; the maps are the node's own, not copies. */
export interface NodeInternals {
  readonly nodeName: string;
  readonly startedAt: number;
  readonly counters: BrokerCounters;
  readonly log: Logger;
  /** Every open connection, by connection id. */
  readonly connections: ReadonlyMap<number, AdminConnection>;
  /** Connections that got CONNACK, by client id. */
  readonly online: ReadonlyMap<string, AdminConnection>;
  /** Sessions on this node, connected or not. */
  readonly sessions: ReadonlySet<string>;
  /** Sessions with Session Expiry > 0. */
  readonly persistent: ReadonlySet<string>;
  readonly router: Router;
  readonly retained: RetainedMessages;
  /** This node's distinct filters when it runs alone. */
  readonly localFilters: LocalRoutes;
  readonly shards: { mailboxDepths(): number[]; shardReadings(): ShardGaugeReading[] };
  readonly cluster: ClusterView | null;
  load(): NodeLoad;
  listening(): boolean;
}

export function nodeAdminSource(n: NodeInternals): AdminSource {
  const info = (clientId: string): ClientInfo | null => {
    const conn = n.online.get(clientId);
    if (conn === undefined && !n.sessions.has(clientId)) return null;
    const subscriptions = n.router.subscriptionsOf(clientId).size;
    const persistent = n.persistent.has(clientId);
    if (conn === undefined) {
      return { clientId, node: n.nodeName, connected: false, username: null, address: null, protocolVersion: null, connectedAt: null, keepaliveSec: null, persistent, subscriptions, bytesReceived: null, bytesSent: null };
    }
    const { bytesReceived, bytesSent } = conn.stats;
    return {
      clientId,
      node: n.nodeName,
      connected: true,
      username: conn.username,
      address: conn.remoteAddress,
      protocolVersion: conn.protocolVersion,
      connectedAt: new Date(conn.connectedAt).toISOString(),
      keepaliveSec: conn.keepaliveSec,
      persistent,
      subscriptions,
      bytesReceived,
      bytesSent,
    };
  };
  return {
    nodeName: n.nodeName,
    startedAt: n.startedAt,
    counters: n.counters,
    clients: () => {
      const ids = new Set(n.sessions);
      for (const id of n.online.keys()) ids.add(id);
      return [...ids].map((id) => info(id)!);
    },
    client: info,
    kick: (clientId) => {
      const conn = n.online.get(clientId);
      if (conn === undefined || conn.state === 'closed') return false;
      n.log.info({ event: 'admin.client.kicked', clientId, connId: conn.id, address: conn.remoteAddress }, 'client disconnected by the admin API');
      // A server-side close: a v5 client gets DISCONNECT 0x98 first, and its will is published.
      conn.close(ReasonCode.AdministrativeAction, 'disconnected by an administrator', 'server');
      return true;
    },
    subscriptions: () => {
      const out: SubscriptionInfo[] = [];
      for (const clientId of n.router.clientIds()) {
        for (const [filter, o] of n.router.subscriptionsOf(clientId)) {
          out.push({ clientId, filter, qos: o.qos, noLocal: o.noLocal, retainAsPublished: o.retainAsPublished, retainHandling: o.retainHandling, subscriptionId: o.subscriptionId ?? null });
        }
      }
      return out;
    },
    subscriptionCount: () => n.router.subscriptionCount,
    localFilters: () => [...n.localFilters.filters()],
    retained: () => [...n.retained.messages()].map(retainedInfo),
    retainedCount: () => n.retained.size,
    connections: () => n.online.size,
    sessions: () => n.sessions.size,
    openConnectionBytes: () => {
      let received = 0;
      let sent = 0;
      for (const conn of n.connections.values()) {
        const s = conn.stats;
        received += s.bytesReceived;
        sent += s.bytesSent;
      }
      return { received, sent };
    },
    load: () => n.load(),
    topTopics: (count) => n.counters.topics.top(count),
    shardMailboxDepths: () => n.shards.mailboxDepths(),
    shardReadings: () => n.shards.shardReadings(),
    listening: () => n.listening(),
    cluster: n.cluster,
  };
}
