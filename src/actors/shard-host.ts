// Hosts one Shard behind a ShardLink: opens its store, handles batches, shuts down on request and
// turns any failure into one 'fatal' message. The same code runs inside a worker thread
// (shard-worker.ts, link = MessagePort) and on the main thread (main-thread-channel.ts), so the two
// hosting modes cannot drift apart.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ShardGauges } from '../metrics/shard-gauges.js';
import { MemorySessionStore } from '../storage/memory-session-store.js';
import { SqliteSessionStore } from '../storage/sqlite-session-store.js';
import type { SessionStore } from '../storage/types.js';
import { Shard } from './shard.js';
import type { FromShard, ShardInit, ToShard } from './shard-protocol.js';

/** The shard's side of its connection to the supervisor. */
export interface ShardLink {
  post(message: FromShard): void;
  onBatch(handler: (batch: ToShard[]) => void): void;
  close(): void;
}

function describe(err: unknown): { message: string; stack?: string } {
  const e = err instanceof Error ? err : new Error(String(err));
  return { message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
}

/** `store` with each group commit's latency counted (the SQLite commit latency metric). */
function timedStore(store: SessionStore, gauges: ShardGauges): SessionStore {
  return {
    loadAll: () => store.loadAll(),
    close: () => store.close(),
    apply(ops) {
      const start = performance.now();
      return store.apply(ops).then(() => gauges.committed((performance.now() - start) / 1000));
    },
  };
}

/**
 * Runs a shard until it is shut down ('closed') or fails ('failed'). A failure closes the store
 * before 'fatal' is posted, so the supervisor's restart opens the SQLite file afresh.
 */
export async function hostShard(init: ShardInit, link: ShardLink): Promise<'closed' | 'failed'> {
  let store: SessionStore;
  try {
    store = init.dataDir === null
      ? new MemorySessionStore()
      : await SqliteSessionStore.open(join(init.dataDir, `shard-${init.shardIndex}.db`), { synchronous: init.storageSync === 'full' ? 'FULL' : 'NORMAL' });
  } catch (err) {
    const d = describe(err);
    link.post({ t: 'fatal', message: `shard ${init.shardIndex}: cannot open its store: ${d.message}`, ...(d.stack ? { stack: d.stack } : {}) });
    link.close();
    return 'failed';
  }
  const gauges = init.gauges === undefined ? null : new ShardGauges(init.gauges, init.shardIndex);
  if (gauges !== null) store = timedStore(store, gauges);
  return await new Promise<'closed' | 'failed'>((resolve) => {
    let done = false;
    const fail = (fatal: Extract<FromShard, { t: 'fatal' }>): void => {
      if (done) return;
      done = true;
      void store.close().then(
        () => fatal,
        (err: unknown) => ({ ...fatal, message: `${fatal.message}; closing its store also failed: ${describe(err).message}` }),
      ).then((m) => {
        link.post(m);
        link.close();
        resolve('failed');
      });
    };
    const shard = new Shard({ post: (m) => (m.t === 'fatal' ? fail(m) : link.post(m)) }, store, init.limits);
    link.onBatch((batch) => {
      if (done) return;
      if (batch.length === 1 && batch[0]!.t === 'shutdown') {
        done = true;
        void shard.shutdown().then(
          () => {
            link.post({ t: 'closed' });
            link.close();
            resolve('closed');
          },
          (err: unknown) => {
            link.post({ t: 'fatal', message: `shard ${init.shardIndex}: shutdown failed: ${describe(err).message}` });
            link.close();
            resolve('failed');
          },
        );
        return;
      }
      gauges?.applied(batch.length);
      shard.handleBatch(batch);
    });
    shard.start().catch((err: unknown) => {
      const d = describe(err);
      fail({ t: 'fatal', message: `shard ${init.shardIndex}: start failed: ${d.message}`, ...(d.stack ? { stack: d.stack } : {}) });
    });
  });
}
