// Main-thread side of the session actors: starts each shard (a long-running piscina task, or on
// the main thread), hashes client ids to shards, batches events per shard (one postMessage per
// shard per event-loop turn) and hands each shard's effects to the node.
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { MainThreadChannel } from './main-thread-channel.js';
import { hostShard } from './shard-host.js';
import type { SessionEffect, SessionEvent, SessionLimits, TakeoverRequest } from './session-types.js';
import type { FromShard, ToShard } from './shard-protocol.js';
import { appendDelivery } from './shard-batch.js';
import type { AppMessage, QoS } from '../protocol/message.js';
import { readShardGauges, shardGaugesBuffer, type ShardGaugeReading } from '../metrics/shard-gauges.js';

/**
 * Where shards run. 'workers': one worker thread each, so session work uses other cores, at the
 * cost of a structured clone of every batch both ways. 'main': on the main thread, no thread hop;
 * measured faster on 1 and 2 cores (see resolveShardHost in config/options.ts).
 */
export type ShardHostMode = 'workers' | 'main';

/** What the supervisor needs of a channel to a shard: a MessagePort, or a MainThreadChannel. */
interface ShardChannel {
  postMessage(batch: ToShard[]): void;
  close(): void;
}

export interface SupervisorOptions {
  shards: number;
  /** Default 'workers'. */
  host?: ShardHostMode;
  dataDir: string | null;
  storageSync: 'normal' | 'full';
  limits: SessionLimits;
  /** Effects of one shard, in order; tickets whose events are durable. */
  onEffects(shard: number, effects: SessionEffect[], tickets: number[]): void;
  /** The sessions a restarted shard reloaded from storage, as effects (default: onEffects). */
  onRestored?(shard: number, effects: SessionEffect[]): void;
  /** Called right before each turn's batches are posted: last chance to add tickets to them. */
  onFlush?(): void;
  /** A shard failed (storage error, crash); the supervisor restarts it. */
  onShardFailure(shard: number, message: string): void;
}

export class ShardStartError extends Error {
  constructor(readonly shard: number, message: string) {
    super(`shard ${shard} failed to start: ${message}. Check that the data directory is writable and not used by another node.`);
    this.name = 'ShardStartError';
  }
}

interface ShardSlot {
  port: ShardChannel;
  batch: ToShard[];
  task: Promise<unknown>;
  sessions: number;
  closed: Promise<void>;
  resolveClosed: () => void;
  ready: { resolve: (e: SessionEffect[]) => void; reject: (e: Error) => void } | null;
}

/**
 * Restored sessions' subscriptions before anything they route: a will due at restart must reach
 * every restored subscriber [MQTT-3.1.2-8], also those of sessions (or shards) restored after
 * the will's own session.
 */
function routesFirst(effects: SessionEffect[]): SessionEffect[] {
  return [...effects.filter((e) => e.type === 'routes'), ...effects.filter((e) => e.type !== 'routes')];
}

/** FNV-1a: a stable client id → shard hash (the cluster will use the same function). */
export function shardOf(clientId: string, shards: number): number {
  // Called once per routed copy: a publish queued for 100 offline sessions hashed 100 client ids,
  // ~8 % of a warm queue burst's samples (perf, one shard) for a result that is always 0.
  if (shards === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < clientId.length; i++) {
    h ^= clientId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

export class ShardSupervisor {
  private readonly pool: Piscina | null = null;
  private readonly slots: ShardSlot[] = [];
  private flushScheduled = false;
  private closing = false;
  /** The shards' own counts for /metrics (mailbox progress, commit latency). */
  private readonly gauges: SharedArrayBuffer;
  /** Messages posted to each shard since it started: minus what it applied, its mailbox depth. */
  private readonly posted: number[];

  constructor(private readonly opts: SupervisorOptions) {
    this.gauges = shardGaugesBuffer(opts.shards);
    this.posted = new Array<number>(opts.shards).fill(0);
    if (opts.host === 'main') return;
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    this.pool = new Piscina({
      filename: new URL(`./shard-worker${ext}`, import.meta.url).href,
      minThreads: opts.shards,
      maxThreads: opts.shards,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      // With the default 'sync' an idle worker blocks in Atomics.wait and its timers and SQLite
      // callbacks stall (../shared/STACK.md).
      atomics: 'disabled',
    });
  }

  get shardCount(): number {
    return this.opts.shards;
  }

  get hostMode(): ShardHostMode {
    return this.pool === null ? 'main' : 'workers';
  }

  /** Starts every shard; resolves with the effects that restore their sessions (routes, wills). */
  async start(): Promise<SessionEffect[]> {
    const restored = await Promise.all(Array.from({ length: this.opts.shards }, (_, i) => this.startShard(i)));
    return routesFirst(restored.flat());
  }

  private startShard(index: number): Promise<SessionEffect[]> {
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    const init = { shardIndex: index, dataDir: this.opts.dataDir, storageSync: this.opts.storageSync, limits: this.opts.limits, gauges: this.gauges };
    // A restarted shard never applies what its predecessor left in the mailbox.
    this.posted[index] = readShardGauges(this.gauges, index).applied;
    let slot: ShardSlot;
    const receive = (m: FromShard): void => this.onMessage(index, slot, m);
    if (this.pool === null) {
      const channel = new MainThreadChannel(receive);
      slot = { port: channel, batch: [], task: Promise.resolve(), sessions: 0, closed, resolveClosed, ready: null };
      slot.task = hostShard(init, channel.link);
    } else {
      const { port1, port2 } = new MessageChannel();
      slot = { port: port1, batch: [], task: Promise.resolve(), sessions: 0, closed, resolveClosed, ready: null };
      port1.on('message', receive);
      slot.task = this.pool
        .run({ ...init, port: port2 }, { transferList: [port2] })
        .catch((err: unknown) => receive({ t: 'fatal', message: err instanceof Error ? err.message : String(err) }));
    }
    this.slots[index] = slot;
    return new Promise<SessionEffect[]>((resolve, reject) => (slot.ready = { resolve, reject }));
  }

  private onMessage(index: number, slot: ShardSlot, m: FromShard): void {
    switch (m.t) {
      case 'effects':
        this.opts.onEffects(index, m.effects, m.tickets);
        break;
      case 'ready':
        slot.sessions = m.sessions;
        slot.ready?.resolve(m.effects);
        slot.ready = null;
        break;
      case 'closed':
        slot.resolveClosed();
        break;
      case 'stats':
        slot.sessions = m.sessions;
        break;
      case 'fatal':
        if (slot.ready !== null) {
          slot.ready.reject(new ShardStartError(index, m.message));
          slot.ready = null;
          return;
        }
        slot.resolveClosed();
        if (this.closing || this.slots[index] !== slot) return;
        slot.port.close();
        this.opts.onShardFailure(index, m.message);
        // Restart: the new shard reloads what was committed; the node closes that shard's clients.
        void this.startShard(index).then(
          (effects) => (this.opts.onRestored ?? ((i, e) => this.opts.onEffects(i, e, [])))(index, routesFirst(effects)),
          (err: unknown) => this.opts.onShardFailure(index, `restart failed: ${String(err)}`),
        );
        break;
    }
  }

  shardFor(clientId: string): number {
    return shardOf(clientId, this.opts.shards);
  }

  send(clientId: string, event: SessionEvent): void {
    this.enqueue(this.shardFor(clientId), { t: 'event', clientId, event });
  }

  /** A step of a cross-node takeover for the session of `clientId`; answered by a 'takeover' effect. */
  takeover(clientId: string, request: TakeoverRequest): void {
    this.enqueue(this.shardFor(clientId), { t: 'takeover', clientId, request });
  }

  /**
   * Sends `message` to the session of `clientId`, as a 'deliver' event would, and returns the
   * client's shard. Consecutive copies of the same message object to one shard share one entry
   * of its batch (see appendDelivery in shard-batch.ts); anything sent to the shard in between
   * starts a new one, so the order of events per shard is kept.
   */
  deliver(clientId: string, message: AppMessage, qos: QoS, retain: boolean, subscriptionIds: number[]): number {
    const shard = this.shardFor(clientId);
    appendDelivery(this.slots[shard]!.batch, clientId, message, qos, retain, subscriptionIds);
    this.requestFlush();
    return shard;
  }

  /** Asks `shard` to acknowledge `id` once everything sent to it so far is durable. */
  ticket(shard: number, id: number): void {
    this.enqueue(shard, { t: 'ticket', id });
  }

  private enqueue(shard: number, m: ToShard): void {
    this.slots[shard]!.batch.push(m);
    this.requestFlush();
  }

  /**
   * Makes sure a flush (and so the onFlush hook) runs this turn even if nothing is queued. One
   * batch per shard per turn of the event loop: everything the sockets delivered in this I/O
   * phase travels together.
   */
  requestFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.opts.onFlush?.(); // may add tickets: flushScheduled is still true, so no second flush
    this.flushScheduled = false;
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i]!;
      if (slot.batch.length === 0) continue;
      const batch = slot.batch;
      slot.batch = [];
      this.posted[i]! += batch.length;
      slot.port.postMessage(batch);
    }
  };

  /** Per shard: messages posted and not yet taken by the shard (0 for main-thread shards between turns). */
  mailboxDepths(): number[] {
    return this.posted.map((posted, i) => Math.max(0, posted - readShardGauges(this.gauges, i).applied));
  }

  /** Per shard: its counts since the node started (commit latency, messages applied). */
  shardReadings(): ShardGaugeReading[] {
    return this.posted.map((_, i) => readShardGauges(this.gauges, i));
  }

  /** Flushes, asks every shard to commit and close its store, then stops the threads. */
  async close(): Promise<void> {
    this.closing = true;
    this.flush();
    for (const slot of this.slots) slot.port.postMessage([{ t: 'shutdown' } satisfies ToShard]);
    await Promise.all(this.slots.map((s) => s.closed));
    await Promise.all(this.slots.map((s) => s.task));
    for (const slot of this.slots) slot.port.close();
    await this.pool?.destroy();
  }
}
