// How fast SqliteSessionStore.apply() writes putMessage ops at different batch sizes, so the
// shard's group-commit batch size is chosen from numbers. Not a test.
//   node --import tsx bench/storage-apply.ts [--ops 100000] [--batches 1,16,256] [--synchronous NORMAL|FULL] [--payload 64] [--fanout 1]
// --fanout N: each message object is put to N consecutive clients (one publish reaching N
// offline sessions), so the store can write its body once per batch.
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

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-'));
try {
  console.log(`SqliteSessionStore.apply: ${totalOps} putMessage ops, ${payload.length}-byte payloads, fan-out ${fanout}, synchronous=${synchronous}, node ${process.version}, ${os.cpus().length} cpus`);
  for (const batchSize of batchSizes) {
    const store = await SqliteSessionStore.open(path.join(dir, `bench-${batchSize}.db`), { synchronous });
    const ops = Array.from({ length: totalOps }, (_, i) => putMessage(i));
    const start = process.hrtime.bigint();
    for (let i = 0; i < totalOps; i += batchSize) await store.apply(ops.slice(i, i + batchSize));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    await store.close();
    const rate = Math.round(totalOps / seconds);
    console.log(`batch ${String(batchSize).padStart(4)}: ${rate.toLocaleString('en-US').padStart(9)} ops/s  ${(seconds * 1000).toFixed(0).padStart(6)} ms  ${((seconds * 1e6 * batchSize) / totalOps).toFixed(1)} µs/apply`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
