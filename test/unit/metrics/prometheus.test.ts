// The registry over a node's plain counters, without a node: the takeover seam and the shards'
// shared gauges come out as Prometheus histograms a text-format parser reads back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { AdminSource } from '../../../src/http/admin-source.js';
import { BrokerCounters } from '../../../src/metrics/node-metrics.js';
import { createRegistry } from '../../../src/metrics/prometheus.js';
import { ShardGauges, readShardGauges, shardGaugesBuffer } from '../../../src/metrics/shard-gauges.js';

function fakeSource(counters: BrokerCounters, gauges: SharedArrayBuffer, posted: number[]): AdminSource {
  return {
    nodeName: 'n1',
    startedAt: 0,
    counters,
    clients: () => [],
    client: () => null,
    kick: () => false,
    subscriptions: () => [],
    subscriptionCount: () => 0,
    localFilters: () => ['a/#'],
    retained: () => [],
    retainedCount: () => 0,
    connections: () => 0,
    sessions: () => 0,
    openConnectionBytes: () => ({ received: 0, sent: 0 }),
    load: () => ({ connections: 0, messagesReceived: 0, messagesSent: 0, bytesReceived: 0, bytesSent: 0, subscriptions: 0, retained: 0 }),
    topTopics: () => [],
    shardMailboxDepths: () => posted.map((p, i) => p - readShardGauges(gauges, i).applied),
    shardReadings: () => posted.map((_, i) => readShardGauges(gauges, i)),
    listening: () => true,
    cluster: null,
  };
}

test('takeovers reported through the NodeMetrics seam and shard commits become histograms; mailbox depth is posted minus applied', async () => {
  const counters = new BrokerCounters();
  counters.observeTakeover('completed', 3);
  counters.observeTakeover('completed', 10); // on a bound: counted in le="0.01"
  counters.observeTakeover('failed', 2000);
  counters.dropped('queue_full');
  const buffer = shardGaugesBuffer(2);
  const s0 = new ShardGauges(buffer, 0);
  const s1 = new ShardGauges(buffer, 1);
  s0.committed(0.0004);
  s1.committed(0.003);
  s1.committed(7); // past the last bound: +Inf only
  s0.applied(5);
  s1.applied(2);
  const registry = createRegistry(fakeSource(counters, buffer, [9, 2]));
  const families = new Map(parsePrometheusTextFormat(await registry.metrics()).map((f) => [f.name, f]));

  const takeover = families.get('shoal_takeover_duration_seconds')!;
  assert.equal(takeover.type, 'HISTOGRAM');
  const t = takeover.metrics[0]!;
  assert.equal(t.count, '3');
  assert.equal(Number(t.sum), 2.013);
  assert.equal(t.buckets!['0.0025'], '0');
  assert.equal(t.buckets!['0.005'], '1');
  assert.equal(t.buckets!['0.01'], '2');
  assert.equal(t.buckets!['1'], '2');
  assert.equal(t.buckets!['2.5'], '3');
  assert.equal(t.buckets!['+Inf'], '3');
  const outcomes = families.get('shoal_takeovers_total')!.metrics.map((m) => [m.labels!.outcome, m.value]);
  assert.deepEqual(outcomes, [['completed', '2'], ['failed', '1']]);

  const commits = families.get('shoal_storage_commit_duration_seconds')!.metrics[0]!;
  assert.equal(commits.count, '3');
  assert.equal(commits.buckets!['0.0005'], '1');
  assert.equal(commits.buckets!['0.005'], '2');
  assert.equal(commits.buckets!['2.5'], '2');
  assert.equal(commits.buckets!['+Inf'], '3');
  assert.ok(Math.abs(Number(commits.sum) - 7.0034) < 1e-9);

  const depth = families.get('shoal_shard_mailbox_depth')!.metrics.map((m) => [m.labels!.shard, m.value]);
  assert.deepEqual(depth, [['0', '4'], ['1', '0']]);
  assert.equal(families.get('shoal_messages_dropped_total')!.metrics.find((m) => m.labels!.cause === 'queue_full')!.value, '1');
  assert.equal(families.get('shoal_routes')!.metrics[0]!.value, '1');
});
