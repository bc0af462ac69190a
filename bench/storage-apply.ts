// How fast SqliteSessionStore.apply() writes putMessage ops at different batch sizes, so the
// shard's group-commit batch size is chosen from numbers. Not a test.
//   node --import tsx bench/storage-apply.ts [--ops 100000] [--batches 1,16,256] [--synchronous NORMAL|FULL] [--payload 64] [--fanout 1]
// --fanout N: each message object is put to N consecutive clients (one publish reaching N
// offline sessions), so the store can write its body once per batch.
// --drain: then drains every client as a shard does on reconnect (a window of 32 copies sent as
// inflight, each ack deleting one and sending the next), in batches of the same size.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { SynchronousMode } from '../src/storage/sqlite-db.js';
import { SqliteSessionStore } from '../src/storage/sqlite-session-store.js';
import type { StoreOp } from '../src/storage/types.js';
import type { AppMessage } from '../src/protocol/message.js';

const { values } = parseArgs({
  options: {
    ops: { type: 'string', default: '100000' },
    batches: { type: 'string', default: '1,16,256' },
    synchronous: { type: 'string', default: 'NORMAL' },
    payload: { type: 'string', default: '64' },
    fanout: { type: 'string', default: '1' },
    drain: { type: 'boolean', default: false },
  },
});
const totalOps = Number(values.ops);
const batchSizes = values.batches.split(',').map(Number);
const synchronous = values.synchronous.toUpperCase() as SynchronousMode;
const payload = new Uint8Array(Number(values.payload)).fill(0x61);
const CLIENTS = 100;
const fanout = Math.max(1, Number(values.fanout));
const messages = new Map<number, AppMessage>();

function putMessage(i: number): StoreOp {
  return {
    op: 'putMessage',
    clientId: `client-${i % CLIENTS}`,
    message: {
      seq: i,
      state: 'queued',
      packetId: null,
      qos: 1,
      retain: false,
      subscriptionIds: [],
      message: appMessage(Math.floor(i / fanout)),
    },
  };
}

function appMessage(n: number): AppMessage {
  let m = messages.get(n);
  if (m === undefined) messages.set(n, (m = { topic: `sensors/${n % CLIENTS}/temp`, payload, qos: 1, retain: false, publisherId: 'bench' }));
  return m;
}

const WINDOW = 32;

/** The ops of draining every client's copies, round-robin over clients as acks would interleave. */
function drainOpsFor(puts: StoreOp[]): StoreOp[] {
  const byClient = new Map<string, number[]>();
  for (const op of puts) if (op.op === 'putMessage') (byClient.get(op.clientId) ?? byClient.set(op.clientId, []).get(op.clientId)!).push(op.message.seq);
  const out: StoreOp[] = [];
  const pid = (k: number): number => (k % 65535) + 1;
  for (const [clientId, seqs] of byClient) for (let k = 0; k < Math.min(WINDOW, seqs.length); k++) out.push({ op: 'updateMessage', clientId, seq: seqs[k]!, state: 'inflight', packetId: pid(k) });
  const longest = Math.max(...[...byClient.values()].map((s) => s.length));
  for (let k = 0; k < longest; k++) {
    for (const [clientId, seqs] of byClient) {
      if (k >= seqs.length) continue;
      out.push({ op: 'deleteMessage', clientId, seq: seqs[k]! });
      const next = k + WINDOW;
      if (next < seqs.length) out.push({ op: 'updateMessage', clientId, seq: seqs[next]!, state: 'inflight', packetId: pid(next) });
    }
  }
  return out;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-'));
try {
  console.log(`SqliteSessionStore.apply: ${totalOps} putMessage ops, ${payload.length}-byte payloads, fan-out ${fanout}, synchronous=${synchronous}, node ${process.version}, ${os.cpus().length} cpus`);
  for (const batchSize of batchSizes) {
    const store = await SqliteSessionStore.open(path.join(dir, `bench-${batchSize}.db`), { synchronous });
    const ops = Array.from({ length: totalOps }, (_, i) => putMessage(i));
    const start = process.hrtime.bigint();
    for (let i = 0; i < totalOps; i += batchSize) await store.apply(ops.slice(i, i + batchSize));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const rate = Math.round(totalOps / seconds);
    console.log(`batch ${String(batchSize).padStart(4)}: ${rate.toLocaleString('en-US').padStart(9)} ops/s  ${(seconds * 1000).toFixed(0).padStart(6)} ms  ${((seconds * 1e6 * batchSize) / totalOps).toFixed(1)} µs/apply`);
    if (values.drain) {
      const drainOps = drainOpsFor(ops);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < drainOps.length; i += batchSize) await store.apply(drainOps.slice(i, i + batchSize));
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(`  drain: ${Math.round(totalOps / s).toLocaleString('en-US').padStart(9)} copies/s (${drainOps.length} ops)  ${(s * 1000).toFixed(0).padStart(6)} ms`);
    }
    await store.close();
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
