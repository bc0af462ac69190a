// What counting costs the PUBLISH hot path, per message, in a tight loop of 20 M calls:
//   node --import tsx bench/metrics-cost.ts
// The per-QoS counters the node increments (BrokerCounters), and the top-topics sample
// (TopTopics, 1 in 64) against counting every message in the same summary (1 in 1), for 10,
// 1,000 and 100,000 distinct topics published round-robin.
import { BrokerCounters } from '../src/metrics/node-metrics.js';
import { TopTopics } from '../src/metrics/top-topics.js';

const N = 20_000_000;

function nsPer(fn: (i: number) => void): number {
  for (let i = 0; i < 1_000_000; i++) fn(i); // warm-up: let V8 optimise the loop body
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / N;
}

const c = new BrokerCounters();
const counters = nsPer((i) => {
  const q = i % 3;
  c.messagesReceived[q]!++;
  c.payloadBytesReceived[q]! += 10;
});
console.log(`per-QoS counters: ${counters.toFixed(1)} ns/publish`);
for (const distinct of [10, 1_000, 100_000]) {
  const topics = Array.from({ length: distinct }, (_, i) => `sensors/${i}/temp`);
  const sampled = new TopTopics(100, 64);
  const every = new TopTopics(100, 1);
  const s = nsPer((i) => sampled.offer(topics[i % distinct]!));
  const e = nsPer((i) => every.offer(topics[i % distinct]!));
  console.log(`top topics, ${distinct} topics: sampled 1/64 ${s.toFixed(1)} ns, every message ${e.toFixed(1)} ns (${(e / s).toFixed(1)}x)`);
}
