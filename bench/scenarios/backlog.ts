// Scenarios of a subscriber that falls behind (issue 23): how fast a deep backlog drains, and the
// QoS 1 flow with publishers paced by their PUBACKs only, so a queue forms whenever the subscriber
// is slower than they are, at a given per-session queue limit.
import { performance } from 'node:perf_hooks';
import { RawClient } from '../loadgen/client.js';
import { FrameScanner, PacketType, publishLayout } from '../loadgen/frame-scanner.js';
import { ACK, publishTemplate, writeAck } from '../loadgen/packets.js';
import { connectClients, publishCounted, runFlow, until } from './common.js';
import type { LoadgenContext, MetricSpec, ScenarioDef } from './types.js';

const DEEP = 100_000;
const SHALLOW = 1_000;
/** Shallow drains timed (after one untimed, which warms the JIT up): 20,000 messages in all. */
const SHALLOW_ROUNDS = 20;

/**
 * A QoS 1 subscriber that acknowledges nothing until told to drain, then acknowledges every
 * message as it comes (the acks of one read in one write).
 */
class DrainingSubscriber {
  delivered = 0;
  lastAt = 0;
  private acking = false;
  private held: number[] = [];
  private acks: number[] = [];

  private constructor(readonly client: RawClient) {
    client.scanner.bodyMask |= FrameScanner.mask(PacketType.PUBLISH);
    client.onFrame = (type, flags, body) => {
      if (type !== PacketType.PUBLISH) return;
      this.delivered++;
      const id = publishLayout(flags, body, false).packetId;
      (this.acking ? this.acks : this.held).push(id);
    };
    client.afterChunk = () => {
      this.lastAt = performance.now();
      this.flush();
    };
  }

  static async connect(ctx: LoadgenContext, filter: string): Promise<DrainingSubscriber> {
    const c = await RawClient.connect({ port: ctx.port, clientId: `drain-${ctx.runId}-${ctx.index}`, clean: true });
    await c.subscribeAll([filter], 1);
    return new DrainingSubscriber(c);
  }

  /** Stops acknowledging: from now on the broker's window fills and the rest queues. */
  hold(): void {
    this.acking = false;
  }

  /** Acknowledges what it holds and everything after; returns when it started. */
  drain(): number {
    this.acking = true;
    this.acks.push(...this.held);
    this.held = [];
    const at = performance.now();
    this.flush();
    return at;
  }

  private flush(): void {
    if (this.acks.length === 0) return;
    const out = Buffer.allocUnsafe(this.acks.length * 4);
    this.acks.forEach((id, i) => writeAck(out, i * 4, ACK.PUBACK, id));
    this.acks = [];
    this.client.write(out);
  }
}

/**
 * Queues `depth` QoS 1 messages for the subscriber while it acknowledges nothing (all PUBACKed to
 * their publishers), then lets it drain them. Returns the messages it received during the drain
 * and the time from its first PUBACK to the last of them.
 */
async function backlogDrain(ctx: LoadgenContext, sub: DrainingSubscriber, round: number, depth: number): Promise<{ messages: number; ms: number }> {
  sub.hold();
  const t = publishTemplate('bench/d/x', ctx.params.payloadBytes, 1, 4);
  const before = sub.delivered;
  // Fresh publishers each round: publishCounted leaves its handlers on the clients it is given.
  const pubs = await connectClients(ctx, `dpub${round}`, 4);
  await publishCounted(pubs, () => t, depth, 16, 300_000);
  for (const p of pubs) p.destroy();
  const atStart = sub.delivered;
  const t0 = sub.drain();
  await until(() => sub.delivered - before, depth, 300_000, `drain of a ${depth}-message backlog`);
  return { messages: sub.delivered - atStart, ms: sub.lastAt - t0 };
}

export const backlogDrainScenario: ScenarioDef = {
  name: 'backlog-drain',
  summary: `QoS 1: a backlog of ${DEEP.toLocaleString('en-US')} messages for one online subscriber (clean session) that acknowledged nothing, drained as it acknowledges each; against backlogs of ${SHALLOW.toLocaleString('en-US')} drained the same way. Queue limit 0 (unlimited)`,
  broker: { maxQueuedMessages: 0 },
  metrics: [
    { key: 'deepPerSec', label: `drain of a ${DEEP / 1000}k backlog`, unit: 'msgs/s', better: 'higher', throughput: true },
    { key: 'shallowPerSec', label: `drain of ${SHALLOW / 1000}k backlogs`, unit: 'msgs/s', better: 'higher', throughput: true },
    { key: 'deepOverShallow', label: `${DEEP / 1000}k backlog rate / ${SHALLOW / 1000}k backlog rate`, unit: 'ratio', better: 'higher' },
  ],
  timeoutSec: () => 900,
  cpuPerMessage: { from: 'start', to: 'end', countKey: 'delivered' },
  async run(ctx) {
    const sub = await DrainingSubscriber.connect(ctx, 'bench/d/#');
    await backlogDrain(ctx, sub, 0, SHALLOW); // warms up
    let messages = 0;
    let ms = 0;
    for (let r = 1; r <= SHALLOW_ROUNDS; r++) {
      const d = await backlogDrain(ctx, sub, r, SHALLOW);
      messages += d.messages;
      ms += d.ms;
    }
    const shallowPerSec = (messages * 1000) / ms;
    ctx.progress(`shallow: ${Math.round(shallowPerSec)} msgs/s; queuing ${DEEP} messages`);
    await ctx.mark('start');
    const deep = await backlogDrain(ctx, sub, SHALLOW_ROUNDS + 1, DEEP);
    await ctx.mark('end');
    const deepPerSec = (deep.messages * 1000) / deep.ms;
    sub.client.destroy();
    // `delivered` is what the CPU per message divides by: the publishes and the drain of the deep backlog.
    return { metrics: { deepPerSec, shallowPerSec, deepOverShallow: deepPerSec / shallowPerSec, delivered: DEEP } };
  },
};

const openMetrics: MetricSpec[] = [
  { key: 'deliveredPerSec', label: "subscriber's rate", unit: 'msgs/s', better: 'higher', throughput: true, loadgenKey: 'loadgenCores' },
  { key: 'publishedPerSec', label: "publishers' rate", unit: 'msgs/s', better: 'higher' },
  { key: 'droppedPct', label: 'published, acknowledged and never delivered', unit: '%', better: 'lower' },
  { key: 'latencyP50Ms', label: 'latency p50', unit: 'ms', better: 'lower' },
  { key: 'latencyP99Ms', label: 'latency p99', unit: 'ms', better: 'lower' },
];

/**
 * The QoS 1 flow: 16 publishers (16 in flight each, paced by PUBACKs alone), one QoS 1
 * subscriber on bench/# that acknowledges everything. No delivery window: when the subscriber is
 * slower than the publishers, its session queues up to the limit and drops beyond it.
 */
function qos1Queue(limit: number): ScenarioDef {
  return {
    name: `qos1-queue-${limit}`,
    summary: `QoS 1, publishers paced by PUBACKs only: 16 publishers (16 in flight each) → 1 QoS 1 subscriber on bench/#, queue limit ${limit === 0 ? '0 (unlimited)' : limit}`,
    broker: { maxQueuedMessages: limit },
    metrics: openMetrics,
    timeoutSec: (p) => p.durationSec + p.warmupSec + 180,
    cpuPerMessage: { from: 'start', to: 'end', countKey: 'delivered' },
    run: (ctx) =>
      runFlow(ctx, {
        publishers: 16,
        pubTopics: (i) => [`bench/q/${i}`],
        subscribers: 1,
        subFilters: () => ['bench/#'],
        qos: 1,
        subQos: 1,
        fanOut: 1,
        window: 1 << 30,
        batch: 4,
        inflightPerPublisher: 16,
        latency: true,
        settleMs: 120_000,
      }),
  };
}

export const qos1Queue1000 = qos1Queue(1000);
export const qos1Queue0 = qos1Queue(0);
