// The node's Prometheus registry (prom-client). Nothing here runs on the hot path: each metric's
// collect() copies the node's plain counters (src/metrics/node-metrics.ts), the shards' shared
// gauges and the cluster's state into prom-client when /metrics is scraped. One registry per node
// (not prom-client's global one), so several nodes in one process (tests) do not collide.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { AdminSource } from '../http/admin-source.js';
import { readiness } from '../http/readiness.js';
import { reasonName } from '../protocol/reason-codes.js';
import { COMMIT_BUCKETS_SECONDS } from './shard-gauges.js';
import { CLOSE_KINDS, DROP_CAUSES, TAKEOVER_OUTCOMES } from './node-metrics.js';

const QOS_LABELS = ['0', '1', '2'] as const;

/** `0x98 AdministrativeAction` → `AdministrativeAction`: a label value without the code. */
function reasonLabel(code: number): string {
  return reasonName(code).replace(/^0x[0-9a-f]+ /i, '');
}

interface HistogramSample {
  labels: Record<string, string>;
  bounds: readonly number[];
  /** Cumulative, one per bound, then +Inf. */
  cumulative: readonly number[];
  sum: number;
  count: number;
}

/**
 * A histogram whose buckets are counted elsewhere in plain numbers (a shard's shared memory, the
 * takeover counts) and only read here. prom-client's Histogram can only observe() one value at a
 * time, so this speaks its Metric shape (name, help, type, get()) itself.
 */
class ReadHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => HistogramSample[],
  ) {}

  get(): { name: string; help: string; type: string; aggregator: string; values: { metricName: string; labels: Record<string, string | number>; value: number }[] } {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const s of this.read()) {
      s.bounds.forEach((le, i) => values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le }, value: s.cumulative[i]! }));
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export function createRegistry(source: AdminSource): Registry {
  const registry = new Registry();
  const c = source.counters;
  // Process and runtime: CPU, memory, heap, GC, handles, and event-loop lag (nodejs_eventloop_lag_*).
  collectDefaultMetrics({ register: registry });

  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void): void => {
    new Gauge({ name, help, labelNames, registers: [registry], collect(this: Gauge) { this.reset(); collect(this); } });
  };
  /** A counter whose value is copied from a plain number at scrape time (reset, then inc by it). */
  const counter = (name: string, help: string, labelNames: string[], collect: (set: (labels: Record<string, string>, value: number) => void) => void): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect(this: Counter) {
        this.reset();
        collect((labels, value) => this.inc(labels, value));
      },
    });
  };

  gauge('shoal_info', 'Always 1; labels name the node.', ['node'], (g) => g.set({ node: source.nodeName }, 1));
  gauge('shoal_ready', '1 when /ready answers 200 (listeners up; in a cluster joined and route-synced).', [], (g) => g.set(readiness(source).ready ? 1 : 0));
  gauge('shoal_connections', 'Clients connected to this node (CONNACK sent).', [], (g) => g.set(source.connections()));
  gauge('shoal_sessions', 'Sessions on this node: connected clients plus offline persistent sessions.', [], (g) => g.set(source.sessions()));
  counter('shoal_connects_total', 'CONNECTs answered with success (result="accepted"), and connections closed before a successful CONNACK by reason (result="failed": refused, timed out, malformed).', ['result', 'reason'], (set) => {
    set({ result: 'accepted', reason: 'Success' }, c.connectsAccepted);
    for (const [code, n] of c.connectsFailed) set({ result: 'failed', reason: reasonLabel(code) }, n);
  });
  counter('shoal_disconnects_total', 'Connections closed after CONNACK, by who closed (kind) and MQTT reason.', ['kind', 'reason'], (set) => {
    for (const [key, n] of c.disconnects) set({ kind: CLOSE_KINDS[key >> 8]!, reason: reasonLabel(key & 0xff) }, n);
  });
  const perQos = (name: string, help: string, values: readonly number[]): void =>
    counter(name, help, ['qos'], (set) => QOS_LABELS.forEach((qos, i) => set({ qos }, values[i]!)));
  perQos('shoal_messages_received_total', 'PUBLISH packets received from clients, by QoS.', c.messagesReceived);
  perQos('shoal_messages_sent_total', 'PUBLISH packets written to clients, by QoS of the copy.', c.messagesSent);
  perQos('shoal_payload_bytes_received_total', 'Payload bytes of PUBLISH packets received from clients, by QoS.', c.payloadBytesReceived);
  perQos('shoal_payload_bytes_sent_total', 'Payload bytes of PUBLISH packets written to clients, by QoS of the copy.', c.payloadBytesSent);
  counter('shoal_network_bytes_received_total', 'Bytes read from client connections (MQTT framing included).', [], (set) => set({}, c.closedBytesReceived + source.openConnectionBytes().received));
  counter('shoal_network_bytes_sent_total', 'Bytes written to client connections (MQTT framing included).', [], (set) => set({}, c.closedBytesSent + source.openConnectionBytes().sent));
  counter('shoal_messages_dropped_total', 'Message copies not delivered to a subscriber, by cause.', ['cause'], (set) => {
    for (const cause of DROP_CAUSES) set({ cause }, c.drops[cause]);
  });
  gauge('shoal_retained_messages', 'Retained messages held.', [], (g) => g.set(source.retainedCount()));
  gauge('shoal_subscriptions', 'Subscriptions of the sessions on this node.', [], (g) => g.set(source.subscriptionCount()));
  gauge('shoal_routes', 'Route filters held, by the node that subscribes (this node alone: its distinct filters).', ['node'], (g) => {
    if (source.cluster === null) {
      g.set({ node: source.nodeName }, source.localFilters().length);
      return;
    }
    for (const [node, n] of source.cluster.routeCounts()) g.set({ node }, n);
  });
  gauge('shoal_cluster_members', 'Cluster members by state, this node included (as alive); 0 series when not clustered.', ['state'], (g) => {
    if (source.cluster === null) return;
    for (const [state, n] of source.cluster.memberStates()) g.set({ state }, state === 'alive' ? n + 1 : n);
  });
  gauge('shoal_cluster_forward_queue_depth', 'Messages forwarded to a peer and not yet acknowledged by it.', ['peer'], (g) => {
    for (const [peer, n] of source.cluster?.forwardQueueDepths() ?? []) g.set({ peer }, n);
  });
  counter('shoal_takeovers_total', 'Session takeovers this node claimed from another node, by outcome.', ['outcome'], (set) => {
    for (const outcome of TAKEOVER_OUTCOMES) set({ outcome }, c.takeovers[outcome]);
  });
  registerRead(registry, new ReadHistogram('shoal_takeover_duration_seconds', 'Time from claiming a session on another node to the takeover ending.', () => [
    { labels: {}, bounds: c.takeoverSeconds.bounds, cumulative: c.takeoverSeconds.cumulative(), sum: c.takeoverSeconds.sum, count: c.takeoverSeconds.count },
  ]));
  gauge('shoal_shard_mailbox_depth', 'Messages handed to a session shard and not yet taken by it (worker shards; a main-thread shard takes them at once).', ['shard'], (g) => {
    source.shardMailboxDepths().forEach((depth, i) => g.set({ shard: String(i) }, depth));
  });
  // Over all shards, without a shard label: one histogram is what an alert reads, and common
  // text-format parsers (parse-prometheus-text-format) cannot read labelled histograms.
  registerRead(registry, new ReadHistogram('shoal_storage_commit_duration_seconds', 'Duration of the session shards\' SQLite group commits (one transaction per batch), all shards.', () => {
    const all = { labels: {}, bounds: COMMIT_BUCKETS_SECONDS, cumulative: COMMIT_BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0 };
    for (const r of source.shardReadings()) {
      r.cumulativeBuckets.slice(0, -1).forEach((n, i) => (all.cumulative[i]! += n));
      all.sum += r.commitSeconds;
      all.count += r.commits;
    }
    return [all];
  }));
  return registry;
}

function registerRead(registry: Registry, metric: ReadHistogram): void {
  // ReadHistogram has the shape the registry reads (name, help, type, get()), not the class type.
  registry.registerMetric(metric as unknown as Metric);
}
