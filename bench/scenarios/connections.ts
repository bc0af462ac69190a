// Connection scenarios: connect rate and memory per idle connection (10k clients), and the most
// idle connections one node holds (19k by default, spread over load generator processes because
// each process may open at most 20,000 files).
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { RawClient } from '../loadgen/client.js';
import { PINGREQ } from '../loadgen/packets.js';
import { PacketType } from '../loadgen/frame-scanner.js';
import { sleep, until } from './common.js';
import type { BrokerSample, LoadgenContext, MarkSamples, Metrics, ScenarioDef } from './types.js';

/** Sockets per load generator process, safely under the 20,000 open-files cap. */
const PER_PROCESS = 4_750;
const KEEPALIVE_SEC = 600;

/** Connects `n` clients, `concurrency` handshakes at a time; failures are counted, not fatal. */
async function connectTolerant(ctx: LoadgenContext, n: number, concurrency: number, prefix: string): Promise<{ clients: RawClient[]; failed: number; errors: string[]; ms: number }> {
  const clients: RawClient[] = [];
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  const t0 = performance.now();
  let lastLog = t0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      try {
        clients.push(await RawClient.connect({ port: ctx.port, clientId: `${prefix}-${ctx.runId}-${ctx.index}-${i}`, keepalive: KEEPALIVE_SEC, timeoutMs: 30_000 }));
      } catch (err) {
        failed++;
        if (errors.length < 3) errors.push(err instanceof Error ? err.message : String(err));
      }
      const now = performance.now();
      if (now - lastLog > 5000) {
        lastLog = now;
        ctx.progress(`connected ${clients.length}/${n} (${failed} failed)`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { clients, failed, errors, ms: performance.now() - t0 };
}

/** A 3.1.1 CONNACK, accepted, no session present. */
const CONNACK_OK = Buffer.from([0x20, 0x02, 0x00, 0x00]);

/**
 * Runs the load generator's own connect path `n` times against a stub broker in this process
 * (it answers whatever a client sends with one CONNACK), so that V8 has compiled it before the
 * timed burst. Measured with a harness against Mosquitto, a fresh load generator spent 53 µs of
 * user CPU per connection in its first 10,000 connections and 25 µs by its third 10,000, and
 * it was the bottleneck: the burst then measured V8 compiling the client, not the broker.
 */
async function warmUp(ctx: LoadgenContext, n: number): Promise<void> {
  const stub = net.createServer((s) => {
    s.on('data', () => s.write(CONNACK_OK));
    s.on('error', () => undefined); // the client resets the socket when it is done
  });
  await new Promise<void>((resolve, reject) => {
    stub.once('error', reject);
    stub.listen(0, '127.0.0.1', () => resolve());
  });
  try {
    const { port } = stub.address() as net.AddressInfo;
    const t0 = performance.now();
    const errors: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        try {
          // Closed at once: the process may hold at most 20,000 files, stub sides included.
          (await RawClient.connect({ port, clientId: `warm-${ctx.runId}-${ctx.index}-${i}`, keepalive: KEEPALIVE_SEC, timeoutMs: 30_000 })).destroy();
        } catch (err) {
          errors.push(err instanceof Error ? err.message : String(err));
        }
      }
    };
    await Promise.all(Array.from({ length: 100 }, worker));
    if (errors.length > 0) throw new Error(`load generator warm-up: ${errors.length} of ${n} connects to its own stub failed (first: ${errors[0]}); the connect burst was not run`);
    ctx.progress(`load generator warmed up: ${n} connects to its own stub in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
  } finally {
    await new Promise<void>((resolve) => stub.close(() => resolve()));
  }
}

/** Sends PINGREQ on every client and counts the PINGRESPs: the connections that are really alive. */
async function pingAll(clients: RawClient[], ms: number): Promise<number> {
  const before = clients.map((c) => c.scanner.counts[PacketType.PINGRESP]!);
  for (const c of clients) if (!c.closed) c.write(PINGREQ);
  const alive = (): number => clients.reduce((a, c, i) => a + (c.scanner.counts[PacketType.PINGRESP]! > before[i]! ? 1 : 0), 0);
  try {
    await until(alive, clients.length, ms, 'PINGRESP');
  } catch {
    // fewer answered: report how many did
  }
  return alive();
}

/**
 * Over the timed parts of bursts 2 and 3 (marks warm<k>Start / warm<k>End, so not the 2 s between
 * them in which the broker closes the connections reset after a burst): the broker's CPU per
 * connection and the load generator's CPU use in cores.
 */
function warmBursts(s: MarkSamples, n: number): { cpuUsPerConn: number; loadgenCores: number } {
  let brokerUs = 0;
  let loadgenUs = 0;
  let wallUs = 0;
  for (const k of [2, 3]) {
    const from = s.broker[`warm${k}Start`];
    const to = s.broker[`warm${k}End`];
    const lgFrom = s.loadgenCpuUs[`warm${k}Start`];
    const lgTo = s.loadgenCpuUs[`warm${k}End`];
    if (!from || !to || lgFrom === undefined || lgTo === undefined) return { cpuUsPerConn: Number.NaN, loadgenCores: Number.NaN };
    brokerUs += to.cpuUs - from.cpuUs;
    loadgenUs += lgTo - lgFrom;
    wallUs += (to.atMs - from.atMs) * 1000;
  }
  return { cpuUsPerConn: n > 0 ? brokerUs / n : Number.NaN, loadgenCores: wallUs > 0 ? loadgenUs / wallUs : Number.NaN };
}

function memPerConnKb(b: Record<string, BrokerSample>, n: number): number {
  const base = b.baseline;
  const held = b.held;
  if (!base || !held || n <= 0) return Number.NaN;
  return (held.rssKb - base.rssKb) / n;
}

export const connect: ScenarioDef = {
  name: 'connect',
  summary: 'Connect rate of 10k clients (100 handshakes in flight) on a fresh broker, then of two more bursts on the same broker; broker memory per connection right after the first burst (idle measures it after a hold)',
  metrics: [
    // loadgenCores is the runner's figure over baseline → connected, the first burst.
    { key: 'connectPerSec', label: 'connect rate', unit: 'conn/s', better: 'higher', throughput: true, loadgenKey: 'loadgenCores' },
    { key: 'connectPerSecWarm', label: 'connect rate, bursts 2–3 on the same broker', unit: 'conn/s', better: 'higher', throughput: true, loadgenKey: 'loadgenCoresWarm' },
    { key: 'warmCpuUs', label: 'broker CPU per connection, bursts 2–3', unit: 'µs', better: 'lower' },
    { key: 'loadgenCoresWarm', label: 'load generator CPU use, bursts 2–3', unit: 'cores', better: 'lower' },
    { key: 'memAfterBurstKb', label: 'memory per connection right after the burst (RSS)', unit: 'KB', better: 'lower' },
    { key: 'held', label: 'connections alive (PINGRESP)', unit: 'conns', better: 'higher' },
  ],
  timeoutSec: () => 180,
  cpuPerMessage: { from: 'baseline', to: 'connected', countKey: 'held' },
  async run(ctx) {
    const n = ctx.params.clients ?? 10_000;
    await warmUp(ctx, 20_000);
    await sleep(500);
    await ctx.mark('baseline');
    const r = await connectTolerant(ctx, n, 100, 'c');
    await ctx.mark('connected');
    // Let lazily allocated per-connection state settle before reading RSS.
    await sleep(3000);
    const held = await pingAll(r.clients, 20_000);
    await ctx.mark('held');
    for (const c of r.clients) c.destroy();
    // The first burst also measures V8 compiling a fresh broker (Shoal: ~60 µs of CPU per
    // connection, then 33-40). A broker that restarts meets a reconnect storm fresh; one that has
    // been up meets it warm. Two more bursts, new client ids, after the resets of the last one.
    await sleep(2000);
    const rates: number[] = [];
    let warmConnected = 0;
    for (const burst of [2, 3]) {
      await ctx.mark(`warm${burst}Start`);
      const w = await connectTolerant(ctx, n, 100, `c${burst}`);
      await ctx.mark(`warm${burst}End`);
      rates.push((w.clients.length * 1000) / w.ms);
      warmConnected += w.clients.length;
      for (const c of w.clients) c.destroy();
      if (w.errors.length > 0) r.errors.push(...w.errors);
      if (burst === 2) await sleep(2000);
    }
    return {
      metrics: { connectPerSec: (r.clients.length * 1000) / r.ms, connectPerSecWarm: (rates[0]! + rates[1]!) / 2, warmConnected, held, failed: r.failed },
      notes: r.errors,
    };
  },
  derive: (s: MarkSamples, m: Metrics) => {
    const warm = warmBursts(s, m.warmConnected ?? 0);
    return { memAfterBurstKb: memPerConnKb(s.broker, m.held ?? 0), warmCpuUs: warm.cpuUsPerConn, loadgenCoresWarm: warm.loadgenCores };
  },
};

export const idle: ScenarioDef = {
  name: 'idle',
  summary: 'Idle connections held on one node (19k by default, 4,750 per load generator process)',
  metrics: [
    { key: 'held', label: 'idle connections held (PINGRESP after hold)', unit: 'conns', better: 'higher' },
    { key: 'memPerConnKb', label: 'memory per idle connection (RSS)', unit: 'KB', better: 'lower' },
    { key: 'failed', label: 'connects refused/failed', unit: 'conns', better: 'lower' },
  ],
  processes: (p) => Math.ceil((p.clients ?? 19_000) / PER_PROCESS),
  timeoutSec: (p) => p.holdSec + 240,
  async run(ctx) {
    const total = ctx.params.clients ?? 19_000;
    const mine = Math.floor(total / ctx.processes) + (ctx.index < total % ctx.processes ? 1 : 0);
    await sleep(500);
    await ctx.mark('baseline');
    const r = await connectTolerant(ctx, mine, 50, 'idle');
    ctx.progress(`process ${ctx.index}: ${r.clients.length} connected, ${r.failed} failed in ${(r.ms / 1000).toFixed(1)}s; holding ${ctx.params.holdSec}s`);
    await ctx.mark('connected');
    await sleep(ctx.params.holdSec * 1000);
    const held = await pingAll(r.clients, 30_000);
    await ctx.mark('held');
    for (const c of r.clients) c.destroy();
    return { metrics: { held, failed: r.failed, connected: r.clients.length }, notes: r.errors };
  },
  derive: (s, m) => ({ memPerConnKb: memPerConnKb(s.broker, m.held ?? 0) }),
};
