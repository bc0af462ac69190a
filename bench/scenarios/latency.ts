// End-to-end latency at a fixed, light load: 1,000 QoS 0 msgs/s from one publisher to one
// subscriber, open loop (sent on schedule whether or not earlier ones arrived).
import { performance } from 'node:perf_hooks';
import { LatencyRecorder } from '../loadgen/latency.js';
import { publishTemplate } from '../loadgen/packets.js';
import { FrameScanner, PacketType, publishLayout } from '../loadgen/frame-scanner.js';
import { connectClients, sleep } from './common.js';
import type { ScenarioDef } from './types.js';

const RATE = 1000;

export const latency: ScenarioDef = {
  name: 'latency',
  summary: 'QoS 0 at 1,000 msgs/s, 1 publisher → 1 subscriber: end-to-end latency',
  metrics: [
    { key: 'latencyP50Ms', label: 'latency p50 @1k msgs/s', unit: 'ms', better: 'lower' },
    { key: 'latencyP99Ms', label: 'latency p99 @1k msgs/s', unit: 'ms', better: 'lower' },
    { key: 'deliveredPerSec', label: 'delivered (check: ≈1000)', unit: 'msgs/s', better: 'higher' },
  ],
  timeoutSec: (p) => p.durationSec + p.warmupSec + 60,
  cpuPerMessage: { from: 'start', to: 'end', countKey: 'delivered' },
  async run(ctx) {
    const [sub] = await connectClients(ctx, 'lsub', 1);
    const [pub] = await connectClients(ctx, 'lpub', 1);
    await sub!.subscribeAll(['bench/lat'], 0);
    const t = publishTemplate('bench/lat', ctx.params.payloadBytes, 0, 4);
    const rec = new LatencyRecorder(1_000_000);
    let received = 0;
    let now = 0;
    sub!.scanner.bodyMask |= FrameScanner.mask(PacketType.PUBLISH);
    sub!.onFrame = (type, flags, body) => {
      if (type !== PacketType.PUBLISH) return;
      received++;
      rec.record(now - body.readDoubleLE(publishLayout(flags, body, false).payloadOffset));
    };
    sub!.socket.prependListener('data', () => {
      now = performance.now();
    });
    let sent = 0;
    const begin = performance.now();
    const timer = setInterval(() => {
      const due = Math.floor(((performance.now() - begin) * RATE) / 1000) - sent;
      for (let i = 0; i < due; i++) {
        const b = Buffer.from(t.bytes);
        b.writeDoubleLE(performance.now(), t.payloadOffset);
        pub!.write(b);
      }
      sent += Math.max(0, due);
    }, 1);
    await sleep(ctx.params.warmupSec * 1000);
    const r0 = received;
    const m0 = performance.now();
    rec.recording = true;
    await ctx.mark('start');
    await sleep(ctx.params.durationSec * 1000);
    rec.recording = false;
    const r1 = received;
    const m1 = performance.now();
    await ctx.mark('end');
    clearInterval(timer);
    const l = rec.summary();
    pub!.destroy();
    sub!.destroy();
    return { metrics: { latencyP50Ms: l.p50, latencyP99Ms: l.p99, latencyMaxMs: l.max, delivered: r1 - r0, deliveredPerSec: ((r1 - r0) * 1000) / (m1 - m0) } };
  },
};
