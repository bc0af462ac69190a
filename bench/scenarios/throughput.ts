// Throughput scenarios on the closed-loop Flow: fan-in, fan-out, QoS 1, QoS 2, shared
// subscriptions. All 64-byte payloads (or --payload), MQTT 3.1.1 unless noted.
import { runFlow, type FlowScenario } from './common.js';
import type { MetricSpec, ScenarioDef } from './types.js';

const delivered: MetricSpec = { key: 'deliveredPerSec', label: 'delivered', unit: 'msgs/s', better: 'higher', throughput: true, loadgenKey: 'loadgenCores' };
const lost: MetricSpec = { key: 'lost', label: 'lost (window stalls)', unit: 'msgs', better: 'lower' };
const cpu = { from: 'start', to: 'end', countKey: 'delivered' };
const timeout = (p: { durationSec: number; warmupSec: number }): number => p.durationSec + p.warmupSec + 60;

export const fanIn: ScenarioDef = {
  name: 'fan-in',
  summary: 'QoS 0: 16 publishers (bench/in/<i>) → 1 subscriber on #',
  metrics: [delivered, lost],
  timeoutSec: timeout,
  cpuPerMessage: cpu,
  run: (ctx) =>
    runFlow(ctx, {
      publishers: 16,
      pubTopics: (i) => [`bench/in/${i}`],
      subscribers: 1,
      subFilters: () => ['#'],
      qos: 0,
      subQos: 0,
      fanOut: 1,
      window: 4096,
      batch: 32,
    }),
};

export const fanOut: ScenarioDef = {
  name: 'fan-out',
  summary: 'QoS 0: 1 publisher (bench/out) → 100 subscribers on bench/out; deliveries/s',
  metrics: [{ ...delivered, label: 'deliveries' }, lost],
  timeoutSec: timeout,
  cpuPerMessage: cpu,
  run: (ctx) =>
    runFlow(ctx, {
      publishers: 1,
      pubTopics: () => ['bench/out'],
      subscribers: 100,
      subFilters: () => ['bench/out'],
      qos: 0,
      subQos: 0,
      fanOut: 100,
      window: 256,
      batch: 8,
    }),
};

const latencyMetrics: MetricSpec[] = [
  { key: 'latencyP50Ms', label: 'latency p50 under load', unit: 'ms', better: 'lower' },
  { key: 'latencyP99Ms', label: 'latency p99 under load', unit: 'ms', better: 'lower' },
];

/** The QoS 1/2 flows: 16 publishers (16 in flight each) → 1 subscriber on bench/q/# at the same QoS. */
function qosFlow(qos: 1 | 2): FlowScenario {
  return {
    publishers: 16,
    pubTopics: (i) => [`bench/q/${i}`],
    subscribers: 1,
    subFilters: () => ['bench/q/#'],
    qos,
    subQos: qos,
    fanOut: 1,
    window: 256,
    batch: 4,
    inflightPerPublisher: 16,
    latency: true,
  };
}

/** QoS 1 or 2 end to end, closed loop. */
function qosScenario(qos: 1 | 2): ScenarioDef {
  return {
    name: `qos${qos}`,
    summary: `QoS ${qos}: 16 publishers (16 in flight each) → 1 QoS ${qos} subscriber on bench/q/#; end-to-end latency`,
    metrics: [delivered, ...latencyMetrics, lost],
    timeoutSec: timeout,
    cpuPerMessage: cpu,
    run: (ctx) => runFlow(ctx, qosFlow(qos)),
  };
}

export const qos1 = qosScenario(1);
export const qos2 = qosScenario(2);

/**
 * The qos1 flow with a persistent subscriber (clean session false), the common production setup:
 * Shoal then writes each copy to SQLite before it is sent (so an unacknowledged one survives a
 * restart) and marks it acknowledged in a later commit; Aedes and Mosquitto keep it in memory.
 */
export const qos1Persistent: ScenarioDef = {
  name: 'qos1-persistent',
  summary: 'QoS 1: 16 publishers (16 in flight each) → 1 QoS 1 subscriber on bench/q/# with a persistent session (clean=false)',
  metrics: [delivered, ...latencyMetrics, lost],
  timeoutSec: timeout,
  cpuPerMessage: cpu,
  run: (ctx) => runFlow(ctx, { ...qosFlow(1), persistentSubscribers: true }),
};

/** Fixed QoS 1 load for the latency comparison: well below every broker's QoS 1 capacity here. */
export const QOS1_LATENCY_RATE = 20_000;
/**
 * A second fixed load, near Mosquitto's QoS 1 capacity on one core (~62k msgs/s in the qos1
 * scenario): the issue compares p99 "at that load", and the closed-loop qos1 scenario runs each
 * broker at its own, different saturation, so only an equal offered load compares like for like.
 */
export const QOS1_LATENCY_HIGH_RATE = 50_000;

function qos1LatencyAt(name: string, rate: number): ScenarioDef {
  const k = `${rate / 1000}k`;
  return {
    name,
    summary: `QoS 1 at a fixed ${rate.toLocaleString('en-US')} msgs/s (open loop): 16 publishers → 1 QoS 1 subscriber on bench/q/#; end-to-end latency`,
    metrics: [
      { key: 'latencyP50Ms', label: `latency p50 @${k} QoS 1 msgs/s`, unit: 'ms', better: 'lower' },
      { key: 'latencyP99Ms', label: `latency p99 @${k} QoS 1 msgs/s`, unit: 'ms', better: 'lower' },
      { ...delivered, label: `delivered (check: ≈${rate})`, throughput: false },
      lost,
    ],
    timeoutSec: timeout,
    cpuPerMessage: cpu,
    // One message per write, as a client paced by its application would send them.
    run: (ctx) => runFlow(ctx, { ...qosFlow(1), batch: 1, ratePerSec: rate }),
  };
}

export const qos1Latency = qos1LatencyAt('qos1-latency', QOS1_LATENCY_RATE);
export const qos1LatencyHigh = qos1LatencyAt('qos1-latency-50k', QOS1_LATENCY_HIGH_RATE);

export const shared: ScenarioDef = {
  name: 'shared',
  summary: 'QoS 0 shared subscription: 16 publishers → 4 subscribers (MQTT 3.1.1) in $share/g/bench/s/#',
  metrics: [delivered, { key: 'balance', label: 'least-served subscriber / mean', unit: 'ratio', better: 'higher' }, lost],
  timeoutSec: timeout,
  cpuPerMessage: cpu,
  run: (ctx) =>
    runFlow(ctx, {
      publishers: 16,
      pubTopics: (i) => [`bench/s/${i}`],
      subscribers: 4,
      subFilters: () => ['$share/g/bench/s/#'],
      qos: 0,
      subQos: 0,
      fanOut: 1,
      window: 4096,
      batch: 32,
    }),
};

/** Topic i of the many-topics case: each of the 10k filters m/<a>/<b>/+ matches 10 of the 100k topics. */
export function manyTopic(i: number): string {
  return `m/${i % 100}/${Math.floor(i / 100) % 100}/${Math.floor(i / 10_000)}`;
}

export const manyTopics: ScenarioDef = {
  name: 'many-topics',
  summary: 'Router: 100k distinct topics published by 16 clients, 10k wildcard filters (m/<a>/<b>/+) over 10 subscribers',
  metrics: [delivered, { key: 'subscribeMs', label: 'time to subscribe 10k filters', unit: 'ms', better: 'lower' }, lost],
  timeoutSec: (p) => timeout(p) + 60,
  cpuPerMessage: cpu,
  run: (ctx) =>
    runFlow(ctx, {
      publishers: 16,
      pubTopics: (i) => Array.from({ length: 6250 }, (_, k) => manyTopic(i * 6250 + k)),
      subscribers: 10,
      subFilters: (s) => Array.from({ length: 1000 }, (_, k) => {
        const f = s * 1000 + k;
        return `m/${f % 100}/${Math.floor(f / 100)}/+`;
      }),
      qos: 0,
      subQos: 0,
      fanOut: 1,
      window: 4096,
      batch: 32,
      filtersPerSubscribe: 100,
    }),
};
