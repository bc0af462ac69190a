// Entry point of one shard worker thread: a long-running piscina task that owns one Shard and
// talks to the main thread over the MessagePort it was handed (../shared/STACK.md: one host
// task per thread, all traffic over the port).
import { join } from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import { MemorySessionStore } from '../storage/memory-session-store.js';
import { SqliteSessionStore } from '../storage/sqlite-session-store.js';
import type { SessionStore } from '../storage/types.js';
import { Shard } from './shard.js';
import type { FromShard, ShardInit, ToShard } from './shard-protocol.js';

export interface ShardTask extends ShardInit {
  port: MessagePort;
}

export default async function runShard(task: ShardTask): Promise<string> {
  const { port } = task;
  const post = (m: FromShard): void => port.postMessage(m);
  let store: SessionStore;
  try {
    store = task.dataDir === null
      ? new MemorySessionStore()
      : await SqliteSessionStore.open(join(task.dataDir, `shard-${task.shardIndex}.db`), { synchronous: task.storageSync === 'full' ? 'FULL' : 'NORMAL' });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    post({ t: 'fatal', message: `shard ${task.shardIndex}: cannot open its store: ${e.message}`, ...(e.stack ? { stack: e.stack } : {}) });
    port.close();
    return 'failed';
  }
  const shard = new Shard({ post }, store, task.limits);
  return await new Promise<string>((resolve) => {
    port.on('message', (batch: ToShard[]) => {
      if (batch.length === 1 && batch[0]!.t === 'shutdown') {
        void shard.shutdown().then(
          () => {
            post({ t: 'closed' });
            port.close();
            resolve('closed');
          },
          (err: unknown) => {
            post({ t: 'fatal', message: `shard ${task.shardIndex}: shutdown failed: ${String(err)}` });
            port.close();
            resolve('failed');
          },
        );
        return;
      }
      shard.handleBatch(batch);
    });
    shard.start().catch((err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      post({ t: 'fatal', message: `shard ${task.shardIndex}: start failed: ${e.message}`, ...(e.stack ? { stack: e.stack } : {}) });
    });
  });
}
