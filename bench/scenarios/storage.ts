// Scenarios on the stateful paths: QoS 1 queued for offline persistent sessions and drained on
// reconnect (Shoal's SQLite path), and retained messages fanned out to new subscribers.
import { performance } from 'node:perf_hooks';
import { RawClient } from '../loadgen/client.js';
import { FrameScanner, PacketType, publishLayout } from '../loadgen/frame-scanner.js';
import { ACK, DISCONNECT, publishTemplate, writeAck } from '../loadgen/packets.js';
import { connectClients, publishCounted, sleep, until } from './common.js';
import type { ScenarioDef } from './types.js';

const SESSIONS = 100;
/** Per session; under the 1,000-message offline queue limit of Shoal and Mosquitto. */
const QUEUED = 900;

export const persistent: ScenarioDef = {
  name: 'persistent',
  summary: `QoS 1 to ${SESSIONS} offline persistent sessions (${QUEUED} msgs each, clean=false), then reconnect and drain`,
  metrics: [
    { key: 'enqueuedPerSec', label: 'queued for offline sessions', unit: 'msgs/s', better: 'higher', throughput: true },
    { key: 'drainedPerSec', label: 'drained on reconnect', unit: 'msgs/s', better: 'higher', throughput: true },
    { key: 'missing', label: 'queued messages not drained', unit: 'msgs', better: 'lower' },
  ],
  timeoutSec: () => 300,
  cpuPerMessage: { from: 'enqueue-start', to: 'drain-end', countKey: 'drained' },
  async run(ctx) {
    const ids = Array.from({ length: SESSIONS }, (_, i) => `ps-${ctx.runId}-${i}`);
    // Create the sessions, subscribe, leave.
    for (let i = 0; i < SESSIONS; i += 20) {
      await Promise.all(ids.slice(i, i + 20).map(async (clientId) => {
        const c = await RawClient.connect({ port: ctx.port, clientId, clean: false, keepalive: 600 });
        await c.subscribeAll(['bench/ps'], 1);
        const closed = new Promise<void>((r) => c.socket.once('close', () => r()));
        c.write(DISCONNECT);
        c.socket.end();
        await Promise.race([closed, sleep(5000)]);
      }));
    }
    const pubs = await connectClients(ctx, 'pspub', 4);
    const t = publishTemplate('bench/ps', ctx.params.payloadBytes, 1, 4);
    ctx.progress(`${SESSIONS} offline sessions; publishing ${QUEUED} QoS 1 messages to each`);
    await ctx.mark('enqueue-start');
    const t0 = performance.now();
    await publishCounted(pubs, () => t, QUEUED, 16, 120_000);
    const enqueueMs = performance.now() - t0;
    await ctx.mark('enqueue-end');
    for (const p of pubs) p.destroy();
    // Reconnect every session at once and drain, acking each message.
    let drained = 0;
    let notPresent = 0;
    const t1 = performance.now();
    await ctx.mark('drain-start');
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
    const ticker = setInterval(() => ctx.progress(`drained ${drained}/${target}`), 5000);
    try {
      await until(() => drained, target, 120_000, 'drain');
    } catch {
      timedOut = true;
    }
    // A broker that stops short of the target would otherwise count its last idle second.
    const drainMs = performance.now() - t1;
    clearInterval(ticker);
    await ctx.mark('drain-end');
    for (const s of subs) s.destroy();
    const notes: string[] = [];
    if (notPresent > 0) notes.push(`${notPresent} sessions not present on reconnect`);
    if (timedOut) notes.push(`drain incomplete after 120 s: ${drained}/${target}`);
    return {
      metrics: {
        enqueuedPerSec: (target * 1000) / enqueueMs,
        drainedPerSec: (drained * 1000) / drainMs,
        drained,
        missing: Math.max(0, target - drained),
      },
      notes,
    };
  },
};

const RETAINED = 10_000;
const RETAINED_SUBS = 10;

export const retained: ScenarioDef = {
  name: 'retained',
  summary: `${RETAINED} retained messages (bench/r/<i>), then ${RETAINED_SUBS} clients subscribe bench/r/# at once`,
  metrics: [
    { key: 'retainedPerSec', label: 'retained delivered on subscribe', unit: 'msgs/s', better: 'higher', throughput: true },
    { key: 'storedPerSec', label: 'retained stored (QoS 1 publish)', unit: 'msgs/s', better: 'higher' },
  ],
  timeoutSec: () => 240,
  cpuPerMessage: { from: 'start', to: 'end', countKey: 'delivered' },
  async run(ctx) {
    const pubs = await connectClients(ctx, 'rpub', 4);
    const templates = Array.from({ length: RETAINED }, (_, i) => publishTemplate(`bench/r/${i}`, ctx.params.payloadBytes, 1, 4, true));
    const t0 = performance.now();
    await publishCounted(pubs, (n) => templates[n]!, RETAINED, 16, 120_000);
    const storeMs = performance.now() - t0;
    for (const p of pubs) p.destroy();
    const subs = await connectClients(ctx, 'rsub', RETAINED_SUBS);
    await ctx.mark('start');
    const t1 = performance.now();
    const subscribed = subs.map((s) => s.subscribeAll(['bench/r/#'], 0));
    const delivered = (): number => subs.reduce((a, s) => a + s.scanner.counts[PacketType.PUBLISH]!, 0);
    await until(delivered, RETAINED * RETAINED_SUBS, 120_000, 'retained delivery');
    const ms = performance.now() - t1;
    await Promise.all(subscribed);
    await ctx.mark('end');
    for (const s of subs) s.destroy();
    return { metrics: { retainedPerSec: (delivered() * 1000) / ms, storedPerSec: (RETAINED * 1000) / storeMs, delivered: delivered() } };
  },
};
