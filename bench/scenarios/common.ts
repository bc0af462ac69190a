// Building blocks shared by the throughput scenarios: connect publishers and subscribers, run a
// Flow through warm-up and a measured window (bracketed by marks the runner samples the broker
// at), and turn counters into rates.
import { performance } from 'node:perf_hooks';
import { connectMany, type RawClient } from '../loadgen/client.js';
import { Flow, type FlowOptions } from '../loadgen/flow.js';
import { LatencyRecorder } from '../loadgen/latency.js';
import { publishTemplate, type MqttVersion, type PublishTemplate } from '../loadgen/packets.js';
import type { LoadgenContext, Metrics } from './types.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface FlowScenario {
  publishers: number;
  pubTopics: (i: number) => string[];
  subscribers: number;
  subFilters: (i: number) => string[];
  qos: 0 | 1 | 2;
  subQos: 0 | 1 | 2;
  fanOut: number;
  window: number;
  batch: number;
  inflightPerPublisher?: number;
  latency?: boolean;
  version?: MqttVersion;
  /** Subscribers (their ids) may hold a wider filter set; subscribe in SUBSCRIBE packets of this many. */
  filtersPerSubscribe?: number;
  /** Open loop at this publish rate (see FlowOptions.ratePerSec); default closed loop. */
  ratePerSec?: number;
  /** Subscribers connect with clean session false (persistent sessions); default clean. */
  persistentSubscribers?: boolean;
  /**
   * After the measured window the publishers stop and the subscribers get up to this long to
   * receive what is still queued for them (done after 2 s without a delivery); then every message
   * published and never delivered counts as dropped (metrics `dropped`, `droppedPct`). For flows
   * whose window does not bound the broker's queues.
   */
  settleMs?: number;
}

/** A settling flow is done after this long without a delivery: what is left was dropped. */
const SETTLE_QUIET_MS = 2000;

/** Waits until nothing is owed, or nothing arrived for SETTLE_QUIET_MS, or `ms` passed. */
async function settleFlow(flow: Flow, ms: number): Promise<void> {
  const end = performance.now() + ms;
  let last = flow.delivered;
  let quietSince = performance.now();
  while (flow.outstanding() > 0 && performance.now() < end) {
    await sleep(50);
    if (flow.delivered !== last) {
      last = flow.delivered;
      quietSince = performance.now();
    } else if (performance.now() - quietSince >= SETTLE_QUIET_MS) return;
  }
}

export async function connectClients(ctx: LoadgenContext, prefix: string, n: number, version: MqttVersion = 4, clean = true): Promise<RawClient[]> {
  return connectMany(n, 50, (i) => ({ port: ctx.port, clientId: `${prefix}-${ctx.runId}-${ctx.index}-${i}`, version, clean }));
}

export async function subscribeInChunks(c: RawClient, filters: string[], qos: 0 | 1 | 2, per: number): Promise<void> {
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < filters.length; i += per) {
    inFlight.push(c.subscribeAll(filters.slice(i, i + per), qos));
    if (inFlight.length >= 8) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
}

/** Runs the flow: warm-up, then the measured window between marks 'start' and 'end'. */
export async function runFlow(ctx: LoadgenContext, s: FlowScenario): Promise<{ metrics: Metrics; notes: string[] }> {
  const { durationSec, warmupSec, payloadBytes } = ctx.params;
  const version = s.version ?? 4;
  const subs = await connectClients(ctx, 'sub', s.subscribers, version, !s.persistentSubscribers);
  const t0 = performance.now();
  await Promise.all(subs.map((c, i) => subscribeInChunks(c, s.subFilters(i), s.subQos, s.filtersPerSubscribe ?? 100)));
  const subscribeMs = performance.now() - t0;
  const pubs = await connectClients(ctx, 'pub', s.publishers, version);
  const templates: PublishTemplate[][] = pubs.map((_, i) => s.pubTopics(i).map((t) => publishTemplate(t, payloadBytes, s.qos, version)));
  const latency = s.latency ? new LatencyRecorder() : null;
  const opts: FlowOptions = {
    publishers: pubs,
    templates,
    subscribers: subs,
    qos: s.qos,
    subQos: s.subQos,
    fanOut: s.fanOut,
    window: s.window,
    batch: s.batch,
    inflightPerPublisher: s.inflightPerPublisher ?? 1 << 30,
    latency,
    ...(s.ratePerSec !== undefined ? { ratePerSec: s.ratePerSec } : {}),
  };
  const flow = new Flow(opts);
  ctx.progress(`${s.publishers} publishers, ${s.subscribers} subscribers connected; warming up ${warmupSec}s`);
  flow.start();
  await sleep(warmupSec * 1000);
  const perSub = (): number[] => subs.map((c) => c.scanner.counts[3]!);
  const s0 = perSub();
  const d0 = flow.delivered;
  const p0 = flow.published;
  const l0 = flow.lost;
  const m0 = performance.now();
  if (latency) latency.recording = true;
  await ctx.mark('start');
  const ticker = progressTicker(ctx, () => flow.delivered - d0, m0, durationSec);
  await sleep(durationSec * 1000);
  const d1 = flow.delivered;
  const s1 = perSub();
  const p1 = flow.published;
  const l1 = flow.lost;
  const m1 = performance.now();
  if (latency) latency.recording = false;
  clearInterval(ticker);
  await ctx.mark('end');
  flow.stop();
  if (s.settleMs !== undefined) await settleFlow(flow, s.settleMs);
  const seconds = (m1 - m0) / 1000;
  const metrics: Metrics = {
    deliveredPerSec: (d1 - d0) / seconds,
    publishedPerSec: (p1 - p0) / seconds,
    delivered: d1 - d0,
    lost: l1 - l0,
    stalls: flow.stalls,
    subscribeMs,
    // Least-served subscriber relative to the mean (1 = even; shared subscriptions should be near 1).
    balance: subs.length > 1 ? Math.min(...s1.map((v, i) => v - s0[i]!)) / ((d1 - d0) / subs.length) : 1,
  };
  const notes: string[] = [];
  if (latency) {
    const l = latency.summary();
    metrics.latencyP50Ms = l.p50;
    metrics.latencyP99Ms = l.p99;
    metrics.latencyMaxMs = l.max;
  }
  if (s.settleMs !== undefined) {
    // Over the whole run, warm-up included: every published message either arrived or was dropped.
    metrics.dropped = flow.published * s.fanOut - flow.delivered;
    metrics.droppedPct = (100 * metrics.dropped) / (flow.published * s.fanOut);
  } else if (l1 > l0) notes.push(`${l1 - l0} deliveries never arrived (stalled ${flow.stalls}×)`);
  for (const c of [...pubs, ...subs]) c.destroy();
  return { metrics, notes };
}

/** Logs a progress line every 5 s while a phase longer than 10 s runs. */
export function progressTicker(ctx: LoadgenContext, count: () => number, since: number, durationSec: number): NodeJS.Timeout {
  const t = setInterval(() => {
    if (durationSec < 10) return;
    const s = (performance.now() - since) / 1000;
    ctx.progress(`${s.toFixed(0)}/${durationSec}s: ${Math.round(count() / s)} msgs/s`);
  }, 5000);
  return t;
}

/**
 * Publishes exactly `total` QoS 1 messages spread over `clients` (at most `inflight` unacked each)
 * and resolves when every PUBACK is in. Used where no subscriber is online to close a Flow loop.
 */
export async function publishCounted(clients: RawClient[], templates: (n: number) => PublishTemplate, total: number, inflight: number, timeoutMs: number): Promise<void> {
  let sent = 0;
  let acked = 0;
  let failed: Error | null = null;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`publishCounted: ${acked}/${total} PUBACKs after ${timeoutMs} ms`)), timeoutMs);
    const state = clients.map(() => ({ inflight: 0, nextId: 1 }));
    const pump = (k: number): void => {
      const c = clients[k]!;
      const st = state[k]!;
      while (st.inflight < inflight && sent < total) {
        const t = templates(sent++);
        const buf = Buffer.from(t.bytes);
        buf.writeUInt16BE(st.nextId, t.idOffset);
        st.nextId = st.nextId === 65535 ? 1 : st.nextId + 1;
        st.inflight++;
        c.write(buf);
      }
    };
    clients.forEach((c, k) => {
      c.scanner.bodyMask |= 1 << 4; // PUBACK
      c.onFrame = (type) => {
        if (type !== 4) return;
        state[k]!.inflight--;
        if (++acked === total) {
          clearTimeout(timer);
          resolve();
        } else pump(k);
      };
      c.socket.once('close', () => {
        failed ??= new Error(`publisher ${c.clientId} disconnected after ${acked}/${total} PUBACKs`);
        clearTimeout(timer);
        reject(failed);
      });
      pump(k);
    });
  });
}

/** Resolves when `count()` reaches `target`, or rejects after `ms`. */
export async function until(count: () => number, target: number, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (count() < target) {
    if (performance.now() > end) throw new Error(`${what}: ${count()}/${target} after ${ms} ms`);
    await sleep(5);
  }
}
