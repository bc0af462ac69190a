// Scenarios on the stateful paths: QoS 1 queued for offline persistent sessions and drained on
// reconnect (Shoal's SQLite path), and retained messages fanned out to new subscribers.
import { performance } from 'node:perf_hooks';
import { RawClient } from '../loadgen/client.js';
import { FrameScanner, PacketType, publishLayout } from '../loadgen/frame-scanner.js';
import { ACK, DISCONNECT, publishTemplate, writeAck } from '../loadgen/packets.js';
import { median } from '../stats.js';
import { connectClients, publishCounted, sleep, until } from './common.js';
import type { LoadgenContext, ScenarioDef } from './types.js';

const SESSIONS = 100;
/** Per session; under the 1,000-message offline queue limit of Shoal and Mosquitto. */
const QUEUED = 900;
/**
 * Both stateful scenarios repeat their burst on the same broker with fresh sessions or topics.
 * The first burst runs right after the broker started, so it also measures the JIT compiler of
 * the Node brokers (on one core, V8's background threads, mostly compiling, take 35–50 % of the
 * CPU of Shoal's first queue and drain); bursts 3 to 5 measure the same work on a warm broker, as the
 * flow scenarios do after their warm-up. Both are reported; both are held to the targets.
 */
const BURSTS = 5;
const WARM_FROM = 2;

/** The warm figure of a per-burst series: the median of bursts WARM_FROM and later. */
export function warmMedian(values: readonly number[]): number {
  return median(values.slice(WARM_FROM));
}

const WARM = `bursts ${WARM_FROM + 1}–${BURSTS} on the same broker`;

interface QueueBurst {
  enqueueMs: number;
  drainMs: number;
  drained: number;
  notPresent: number;
  timedOut: boolean;
}

/**
 * One burst of the persistent scenario: SESSIONS new offline sessions subscribed to their own
 * topic get QUEUED QoS 1 messages each, then all reconnect at once and drain, acking each message.
 * Marks (for CPU per message) only around the first burst.
 */
async function queueAndDrain(ctx: LoadgenContext, burst: number): Promise<QueueBurst> {
  const marks = burst === 0;
  const topic = burst === 0 ? 'bench/ps' : `bench/ps${burst}`;
  const ids = Array.from({ length: SESSIONS }, (_, i) => `ps-${ctx.runId}-${burst}-${i}`);
  // Create the sessions, subscribe, leave.
  for (let i = 0; i < SESSIONS; i += 20) {
    await Promise.all(ids.slice(i, i + 20).map(async (clientId) => {
      const c = await RawClient.connect({ port: ctx.port, clientId, clean: false, keepalive: 600 });
      await c.subscribeAll([topic], 1);
      const closed = new Promise<void>((r) => c.socket.once('close', () => r()));
      c.write(DISCONNECT);
      c.socket.end();
      await Promise.race([closed, sleep(5000)]);
    }));
  }
  const pubs = await connectClients(ctx, `pspub${burst}`, 4);
  const t = publishTemplate(topic, ctx.params.payloadBytes, 1, 4);
  ctx.progress(`burst ${burst + 1}/${BURSTS}: ${SESSIONS} offline sessions; publishing ${QUEUED} QoS 1 messages to each`);
  if (marks) await ctx.mark('enqueue-start');
  const t0 = performance.now();
  await publishCounted(pubs, () => t, QUEUED, 16, 120_000);
  const enqueueMs = performance.now() - t0;
  if (marks) await ctx.mark('enqueue-end');
  for (const p of pubs) p.destroy();
  // Reconnect every session at once and drain, acking each message.
  let drained = 0;
  let notPresent = 0;
  const t1 = performance.now();
  if (marks) await ctx.mark('drain-start');
  const subs = await Promise.all(ids.map((clientId) =>
    RawClient.connect({
      port: ctx.port,
      clientId,
      clean: false,
      keepalive: 600,
      prepare: (c) => {
        c.scanner.bodyMask |= FrameScanner.mask(PacketType.PUBLISH);
        c.onFrame = (type, flags, body) => {
          if (type !== PacketType.PUBLISH) return;
          drained++;
          const ack = Buffer.allocUnsafe(4);
          writeAck(ack, 0, ACK.PUBACK, publishLayout(flags, body, false).packetId);
          c.write(ack);
        };
      },
    })));
  for (const s of subs) if (!s.sessionPresent) notPresent++;
  const target = SESSIONS * QUEUED;
  let timedOut = false;
  const ticker = setInterval(() => ctx.progress(`burst ${burst + 1}: drained ${drained}/${target}`), 5000);
  try {
    await until(() => drained, target, 120_000, 'drain');
  } catch {
    timedOut = true;
  }
  // A broker that stops short of the target would otherwise count its last idle second.
  const drainMs = performance.now() - t1;
  clearInterval(ticker);
  if (marks) await ctx.mark('drain-end');
  for (const s of subs) s.destroy();
  return { enqueueMs, drainMs, drained, notPresent, timedOut };
}

export const persistent: ScenarioDef = {
  name: 'persistent',
  summary: `QoS 1 to ${SESSIONS} offline persistent sessions (${QUEUED} msgs each, clean=false), then reconnect and drain; ${BURSTS} bursts, fresh sessions each`,
  metrics: [
    { key: 'enqueuedPerSec', label: 'queued for offline sessions (first burst)', unit: 'msgs/s', better: 'higher', throughput: true },
    { key: 'enqueuedWarmPerSec', label: `queued for offline sessions (${WARM})`, unit: 'msgs/s', better: 'higher', throughput: true },
    { key: 'drainedPerSec', label: 'drained on reconnect (first burst)', unit: 'msgs/s', better: 'higher', throughput: true },
    { key: 'drainedWarmPerSec', label: `drained on reconnect (${WARM})`, unit: 'msgs/s', better: 'higher', throughput: true },
    { key: 'missing', label: 'queued messages not drained (all bursts)', unit: 'msgs', better: 'lower' },
  ],
  timeoutSec: () => 600,
  cpuPerMessage: { from: 'enqueue-start', to: 'drain-end', countKey: 'drained' },
  async run(ctx) {
    const bursts: QueueBurst[] = [];
    for (let b = 0; b < BURSTS; b++) bursts.push(await queueAndDrain(ctx, b));
    const target = SESSIONS * QUEUED;
    const notes: string[] = [];
    bursts.forEach((r, b) => {
      if (r.notPresent > 0) notes.push(`burst ${b + 1}: ${r.notPresent} sessions not present on reconnect`);
      if (r.timedOut) notes.push(`burst ${b + 1}: drain incomplete after 120 s: ${r.drained}/${target}`);
    });
    const first = bursts[0]!;
    return {
      metrics: {
        enqueuedPerSec: (target * 1000) / first.enqueueMs,
        enqueuedWarmPerSec: warmMedian(bursts.map((r) => (target * 1000) / r.enqueueMs)),
        drainedPerSec: (first.drained * 1000) / first.drainMs,
        drainedWarmPerSec: warmMedian(bursts.map((r) => (r.drained * 1000) / r.drainMs)),
        // The first burst's count: the CPU-per-message figure is taken around it.
        drained: first.drained,
        missing: bursts.reduce((n, r) => n + Math.max(0, target - r.drained), 0),
      },
      notes,
    };
  },
};

const RETAINED = 10_000;
const RETAINED_SUBS = 10;

export const retained: ScenarioDef = {
  name: 'retained',
  summary: `${RETAINED} retained messages (bench/r/<i>), then ${RETAINED_SUBS} clients subscribe bench/r/# at once; ${BURSTS} bursts, fresh topics each`,
  metrics: [
    { key: 'retainedPerSec', label: 'retained delivered on subscribe (first burst)', unit: 'msgs/s', better: 'higher', throughput: true },
    { key: 'retainedWarmPerSec', label: `retained delivered on subscribe (${WARM})`, unit: 'msgs/s', better: 'higher', throughput: true },
    { key: 'storedPerSec', label: 'retained stored, QoS 1 publish (first burst)', unit: 'msgs/s', better: 'higher', throughput: true },
    { key: 'storedWarmPerSec', label: `retained stored, QoS 1 publish (${WARM})`, unit: 'msgs/s', better: 'higher', throughput: true },
  ],
  timeoutSec: () => 600,
  cpuPerMessage: { from: 'start', to: 'end', countKey: 'delivered' },
  async run(ctx) {
    const stored: number[] = [];
    const fanned: number[] = [];
    let first = 0;
    for (let b = 0; b < BURSTS; b++) {
      // Each burst its own subtree, so a subscriber gets that burst's messages only.
      const prefix = b === 0 ? 'bench/r' : `bench/r${b}`;
      const pubs = await connectClients(ctx, `rpub${b}`, 4);
      const templates = Array.from({ length: RETAINED }, (_, i) => publishTemplate(`${prefix}/${i}`, ctx.params.payloadBytes, 1, 4, true));
      const t0 = performance.now();
      await publishCounted(pubs, (n) => templates[n]!, RETAINED, 16, 120_000);
      stored.push((RETAINED * 1000) / (performance.now() - t0));
      for (const p of pubs) p.destroy();
      const subs = await connectClients(ctx, `rsub${b}`, RETAINED_SUBS);
      if (b === 0) await ctx.mark('start');
      const t1 = performance.now();
      const subscribed = subs.map((s) => s.subscribeAll([`${prefix}/#`], 0));
      const delivered = (): number => subs.reduce((a, s) => a + s.scanner.counts[PacketType.PUBLISH]!, 0);
      await until(delivered, RETAINED * RETAINED_SUBS, 120_000, `retained delivery (burst ${b + 1})`);
      fanned.push((delivered() * 1000) / (performance.now() - t1));
      await Promise.all(subscribed);
      if (b === 0) {
        await ctx.mark('end');
        first = delivered();
      }
      for (const s of subs) s.destroy();
      ctx.progress(`burst ${b + 1}/${BURSTS}: stored ${Math.round(stored[b]!)} msgs/s, fanned out ${Math.round(fanned[b]!)} msgs/s`);
    }
    return {
      metrics: {
        retainedPerSec: fanned[0]!,
        retainedWarmPerSec: warmMedian(fanned),
        storedPerSec: stored[0]!,
        storedWarmPerSec: warmMedian(stored),
        delivered: first,
      },
    };
  },
};
