// `node --import tsx bench/transports.ts [--messages N] [--rounds R] [--only tcp] [--root DIR]`
// (--root: run the broker from another checkout, e.g. to compare plain TCP with an older build.)
// What a transport costs: the same QoS 0 stream (a raw publisher writing pre-encoded batches, one
// MQTT.js subscriber, 64-byte payloads) over plain TCP, TLS,
// WebSocket and secure WebSocket against one `shoal start` process, rounds interleaved
// (TCP TLS WS WSS, TCP TLS ...), medians and each one's ratio to TCP in the same run. The
// subscriber's costs (MQTT.js, its TLS and WebSocket) are in the figures too, as for a real client.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import net from 'node:net';
import tls from 'node:tls';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import WebSocket from 'ws';
import { makePki } from '../test/helpers/certs.js';
import { ROOT } from './brokers.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
function text(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const MESSAGES = arg('messages', 50_000);
const ONLY_TCP = text('only') === 'tcp';
const BROKER_ROOT = text('root') ?? ROOT;
const ROUNDS = arg('rounds', 5);
const BATCH = 100;
const WINDOW = 2000;
const PAYLOAD = Buffer.alloc(64, 0x61);

const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-transports-'));
const pki = makePki(dir);
const server = pki.server('server', '1001');
const ca = readFileSync(pki.ca);

const child = spawn(
  process.execPath,
  ['--import', 'tsx', 'src/main.ts', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--shard-host', 'main', '--log-level', 'info', '--sys-interval', '0',
    ...(ONLY_TCP ? [] : ['--tls', '127.0.0.1:0', '--ws', '127.0.0.1:0', '--wss', '127.0.0.1:0', '--tls-cert', server.cert, '--tls-key', server.key])],
  { cwd: BROKER_ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SHOAL_LOG_LEVEL: '' } },
);
const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
  child.once('exit', (code) => reject(new Error(`shoal exited (${code}) before listening`)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const l = JSON.parse(line) as Record<string, unknown>;
    if (l.event === 'node.listening') resolve(l);
  });
  setTimeout(() => reject(new Error('no node.listening line within 30 s')), 30_000).unref();
});
const port = (key: string): string => String(listening[key]).split(':').pop()!;
const URLS = {
  tcp: `mqtt://127.0.0.1:${port('address')}`,
  tls: `mqtts://localhost:${port('tls')}`,
  ws: `ws://127.0.0.1:${port('ws')}/mqtt`,
  wss: `wss://localhost:${port('wss')}/mqtt`,
} as const;
type Transport = keyof typeof URLS;

/** A raw byte pipe to the broker over one transport: the publisher writes pre-encoded batches. */
async function rawPipe(transport: Transport): Promise<{ send(buf: Buffer): void; close(): void }> {
  const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `raw-${transport}-${Math.random()}`, clean: true, keepalive: 0 });
  if (transport === 'ws' || transport === 'wss') {
    const ws = new WebSocket(URLS[transport], 'mqtt', { ca });
    await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const connack = new Promise<void>((resolve) => ws.once('message', () => resolve()));
    ws.send(connect);
    await connack;
    return { send: (buf) => ws.send(buf), close: () => ws.close() };
  }
  const { hostname, port: p } = new URL(URLS[transport]);
  const socket = transport === 'tls' ? tls.connect({ host: '127.0.0.1', servername: hostname, port: Number(p), ca }) : net.connect({ host: '127.0.0.1', port: Number(p) });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => resolve()).once('error', reject));
  const connack = new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.write(connect);
  await connack;
  return { send: (buf) => void socket.write(buf), close: () => socket.destroy() };
}

/**
 * Messages per second from the first publish to the last receipt. The publisher writes BATCH
 * pre-encoded PUBLISH packets per write and stays at most WINDOW messages ahead of the
 * subscriber (MQTT.js), so neither the publisher's encoding nor a growing backlog is measured.
 */
async function round(transport: Transport, n: number): Promise<number> {
  const topic = `bench/${transport}`;
  const batch = Buffer.concat(Array.from({ length: BATCH }, () => mqttPacket.generate({ cmd: 'publish', topic, payload: PAYLOAD, qos: 0, dup: false, retain: false })));
  const sub = await mqtt.connectAsync(URLS[transport], { ca, reconnectPeriod: 0, protocolVersion: 4 });
  await sub.subscribeAsync(topic, { qos: 0 });
  const pub = await rawPipe(transport);
  let got = 0;
  let sent = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const refill = (): void => {
      while (sent < n && sent - got < WINDOW) {
        pub.send(batch);
        sent += BATCH;
      }
    };
    sub.on('message', () => {
      if (++got === n) resolve();
      else if (got % BATCH === 0) refill();
    });
    refill();
  });
  const rate = n / ((performance.now() - started) / 1000);
  pub.close();
  await sub.endAsync();
  return rate;
}

const rates: Record<Transport, number[]> = { tcp: [], tls: [], ws: [], wss: [] };
const order = ONLY_TCP ? (['tcp'] as Transport[]) : (Object.keys(URLS) as Transport[]);
for (const t of order) await round(t, MESSAGES / 10); // warm-up
for (let r = 0; r < ROUNDS; r++) for (const t of order) rates[t].push(await round(t, MESSAGES));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`QoS 0, ${MESSAGES} × 64 B per round, ${ROUNDS} rounds interleaved; medians (msgs/s) and ratio to TCP`);
for (const t of order) console.log(`${t.padEnd(4)} ${Math.round(median(rates[t])).toString().padStart(8)}  ${(median(rates[t]) / median(rates.tcp)).toFixed(2)}  rounds: ${rates[t].map(Math.round).join(' ')}`);
child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));
rmSync(dir, { recursive: true, force: true });
