// Starts real Shoal nodes for integration tests: real TCP on 127.0.0.1 (port 0), real shard
// worker threads, real SQLite files in a fresh temp directory. Also small await-helpers so tests
// wait for events with a timeout instead of sleeping.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { parseConfig, type ShoalConfig } from '../../src/config/options.js';
import { createLogger } from '../../src/log.js';
import { startNode, type NodeHandle } from '../../src/node.js';

export interface TestNode {
  handle: NodeHandle;
  config: ShoalConfig;
  url: string;
  dataDir: string;
  /** JSON log lines written so far. */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

export function tempDir(prefix = 'shoal-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestNode(overrides: Record<string, unknown> = {}, opts: { dataDir?: string; inMemory?: boolean } = {}): Promise<TestNode> {
  const dataDir = opts.dataDir ?? tempDir();
  // SHOAL_SHARD_HOST=main|workers runs the suites against either shard host (npm test runs both).
  const host = process.env.SHOAL_SHARD_HOST;
  const config = parseConfig({ listen: '127.0.0.1:0', dataDir, shards: 2, sysIntervalSec: 0, logLevel: 'info', http: 'off', ...(host ? { shardHost: host } : {}), ...overrides }, 'test');
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const handle = await startNode(config, { logger: createLogger(config.logLevel, { destination: sink }), inMemory: opts.inMemory ?? false });
  const url = `mqtt://127.0.0.1:${handle.mqtt.port}`;
  return {
    handle,
    config,
    url,
    dataDir,
    logs,
    async stop() {
      await handle.close('test');
    },
  };
}

/** A TCP port on 127.0.0.1 that was free a moment ago, for a process that must be told its port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ port: 0, host: '127.0.0.1' }, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Connects an MQTT.js client (no automatic reconnect) and waits for CONNACK. */
export async function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
}

/** Resolves with the first matching event, or rejects after `ms` naming what it waited for. */
export function waitFor<T extends unknown[]>(
  emitter: { on(event: string, fn: (...args: T) => void): unknown; off(event: string, fn: (...args: T) => void): unknown },
  event: string,
  pred: (...args: T) => boolean = () => true,
  ms = 5000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, fn);
      reject(new Error(`timed out after ${ms} ms waiting for '${event}'`));
    }, ms);
    const fn = (...args: T): void => {
      if (!pred(...args)) return;
      clearTimeout(timer);
      emitter.off(event, fn);
      resolve(args);
    };
    emitter.on(event, fn);
  });
}

export interface Received {
  topic: string;
  payload: string;
  packet: mqtt.IPublishPacket;
}

/** Collects messages on a client; `next(n)` waits for the n-th message with a timeout. */
export function collector(client: MqttClient): { messages: Received[]; until(n: number, ms?: number): Promise<Received[]> } {
  const messages: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), packet });
    for (const w of [...waiters]) if (messages.length >= w.n) w.resolve();
  });
  return {
    messages,
    until(n, ms = 5000) {
      if (messages.length >= n) return Promise.resolve(messages);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: got ${messages.length} of ${n} messages`)), ms);
        waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(messages); } });
      });
    },
  };
}

/**
 * Connects an MQTT.js client with a collector attached before CONNECT, so messages a resumed
 * session sends right after CONNACK are counted.
 */
export async function connectCollecting(url: string, opts: IClientOptions = {}): Promise<{ c: MqttClient; got: ReturnType<typeof collector> }> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  const got = collector(c);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return { c, got };
}

/**
 * Reconnects `clientId` with clean session false, collecting from before CONNECT, and resolves with
 * the client, its collector and the CONNACK's session-present flag.
 */
export async function resumeSession(url: string, clientId: string): Promise<{ c: MqttClient; got: ReturnType<typeof collector>; sessionPresent: boolean }> {
  const c = mqtt.connect(url, { clientId, clean: false, reconnectPeriod: 0, connectTimeout: 5000 });
  const got = collector(c);
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
  });
  return { c, got, sessionPresent: connack.sessionPresent };
}
