// The typed messages across the thread boundary between the main thread (supervisor) and one
// shard worker. Each direction is one discriminated union; messages travel in arrays (batches)
// because one postMessage per message costs ~4x the throughput (../shared/STACK.md).
import type { SessionEffect, SessionEvent, SessionLimits } from './session-types.js';

export interface ShardInit {
  shardIndex: number;
  /** Directory of the shard's SQLite file; null keeps sessions in memory only (tests, benches). */
  dataDir: string | null;
  storageSync: 'normal' | 'full';
  limits: SessionLimits;
}

export type ToShard =
  | { t: 'event'; clientId: string; event: SessionEvent }
  /** Acknowledge `id` once every event before it in this stream is durable. */
  | { t: 'ticket'; id: number }
  | { t: 'shutdown' };

export type FromShard =
  /** After start: the sessions restored from storage, as effects (routes, wills due). */
  | { t: 'ready'; sessions: number; effects: SessionEffect[] }
  /** Effects in order, released only after the store ops they depend on are committed. */
  | { t: 'effects'; effects: SessionEffect[]; tickets: number[] }
  | { t: 'stats'; sessions: number; queued: number; inflight: number }
  | { t: 'closed' }
  | { t: 'fatal'; message: string; stack?: string };
