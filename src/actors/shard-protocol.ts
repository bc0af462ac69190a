// The typed messages across the thread boundary between the main thread (supervisor) and one
// shard worker. Each direction is one discriminated union; messages travel in arrays (batches)
// because one postMessage per message costs ~4x the throughput (../shared/STACK.md).
import type { AppMessage } from '../protocol/message.js';
import type { SessionEffect, SessionEvent, SessionLimits, TakeoverRequest } from './session-types.js';

export interface ShardInit {
  shardIndex: number;
  /** Directory of the shard's SQLite file; null keeps sessions in memory only (tests, benches). */
  dataDir: string | null;
  storageSync: 'normal' | 'full';
  limits: SessionLimits;
  /** Where the shard counts for /metrics (src/metrics/shard-gauges.ts); shared, not copied. */
  gauges?: SharedArrayBuffer;
}

export type ToShard =
  | { t: 'event'; clientId: string; event: SessionEvent }
  /**
   * One routed message for several sessions of this shard, as 'deliver' events in this order:
   * one entry per (message, shard) instead of an event object per copy (a publish to N sessions
   * costs N of those on the hot path, and N cloned objects with worker shards). Parallel arrays;
   * `delivery[i]` is the copy's QoS | (retain ? RETAIN_FLAG : 0).
   */
  | { t: 'deliver'; message: AppMessage; clientIds: string[]; delivery: number[]; subscriptionIds: number[][] }
  /** A step of a cross-node takeover; answered by a 'takeover' effect. */
  | { t: 'takeover'; clientId: string; request: TakeoverRequest }
  /** Acknowledge `id` once every event before it in this stream is durable. */
  | { t: 'ticket'; id: number }
  | { t: 'shutdown' };

/** The retain bit of a 'deliver' entry's `delivery` codes (the QoS takes the two low bits). */
export const RETAIN_FLAG = 4;

export type FromShard =
  /** After start: the sessions restored from storage, as effects (routes, wills due). */
  | { t: 'ready'; sessions: number; effects: SessionEffect[] }
  /**
   * Effects in order, released only after the store ops they depend on are committed, except a
   * QoS 0/1 PUBLISH, which may come ahead of its commit (Shard.releaseEarly). Tickets wait for the
   * commit, and for each QoS 0/1 copy to an online session before them to be committed or
   * acknowledged (its write may be held back, see DeferredPuts).
   */
  | { t: 'effects'; effects: SessionEffect[]; tickets: number[] }
  | { t: 'stats'; sessions: number; queued: number; inflight: number }
  | { t: 'closed' }
  | { t: 'fatal'; message: string; stack?: string };
