// Fakes around the real Shard (src/actors/shard.ts) for tests that drive it in-process: a virtual
// clock, a store whose commits wait for the test, and a port that records what the shard posts.
import assert from 'node:assert/strict';
import type { Clock, ShardPort } from '../../src/actors/shard.js';
import type { SessionEffect, TakeoverReply } from '../../src/actors/session-types.js';
import type { FromShard } from '../../src/actors/shard-protocol.js';
import { MemorySessionStore } from '../../src/storage/memory-session-store.js';
import type { SessionStore, StoredSession, StoreOp } from '../../src/storage/types.js';
import { T0 } from './session-driver.js';

/** A virtual clock: timers fire only when the test advances time, in due order. */
export class FakeClock implements Clock {
  t = T0;
  private nextId = 1;
  readonly timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  dueTimes(): number[] {
    return [...this.timers.values()].map((x) => x.at).sort((a, b) => a - b);
  }
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      const next = [...this.timers.entries()].filter(([, x]) => x.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = target;
  }
}

/** A store whose commits wait for the test: proves what is released before and after durability. */
export class GatedStore implements SessionStore {
  readonly inner = new MemorySessionStore();
  readonly waiting: { ops: readonly StoreOp[]; release: () => void; fail: (e: Error) => void }[] = [];
  readonly committed: (readonly StoreOp[])[] = [];
  gated = true;
  closed = false;

  loadAll(): Promise<StoredSession[]> {
    return this.inner.loadAll();
  }
  async apply(ops: readonly StoreOp[]): Promise<void> {
    if (this.gated) await new Promise<void>((release, fail) => this.waiting.push({ ops, release, fail }));
    await this.inner.apply(ops);
    this.committed.push(ops);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  /** Lets the oldest waiting commit through. */
  release(): readonly StoreOp[] {
    const w = this.waiting.shift();
    assert.ok(w, 'a commit is waiting');
    w.release();
    return w.ops;
  }
}

/** Collects what the shard posts; `next` awaits a message with a timeout (no sleeping). */
export class Port implements ShardPort {
  readonly posted: FromShard[] = [];
  private waiters: { done: () => boolean; resolve: () => void }[] = [];
  post(message: FromShard): void {
    this.posted.push(message);
    this.waiters = this.waiters.filter((w) => (w.done() ? (w.resolve(), false) : true));
  }
  count(n: number, what = `${n} posted messages`): Promise<void> {
    return this.until(() => this.posted.length >= n, what);
  }
  ticket(id: number): Promise<void> {
    return this.until(() => this.tickets().includes(id), `ticket ${id}`);
  }
  /** The shard's answer to a takeover step (a 'takeover' effect with that op), once posted. */
  async takeoverReply<Op extends TakeoverReply['op']>(clientId: string, op: Op): Promise<Extract<TakeoverReply, { op: Op }>> {
    const find = (): Extract<TakeoverReply, { op: Op }> | undefined => {
      for (const e of this.effects()) if (e.type === 'takeover' && e.clientId === clientId && e.reply.op === op) return e.reply as Extract<TakeoverReply, { op: Op }>;
      return undefined;
    };
    await this.until(() => find() !== undefined, `the takeover reply ${op} for ${clientId}`);
    return find()!;
  }
  private async until(done: () => boolean, what: string): Promise<void> {
    if (done()) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.waiters.push({ done, resolve })),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 2000))),
    ]).finally(() => clearTimeout(timer));
  }
  effects(): SessionEffect[] {
    return this.posted.flatMap((m) => (m.t === 'effects' || m.t === 'ready' ? m.effects : []));
  }
  tickets(): number[] {
    return this.posted.flatMap((m) => (m.t === 'effects' ? m.tickets : []));
  }
}
