// The shell around the session actors of one shard: owns the sessions, executes the pure
// transitions' output (group-committed store ops, timers), and releases effects to the main
// thread only after the ops they depend on are durable, with two exceptions for QoS 0 and 1
// copies to online sessions: their PUBLISH goes at once (see releaseEarly), and their write waits
// a few milliseconds for the subscriber's acknowledgement, which cancels it (see
// DEFER_WRITE_MS). Hosted by shard-host.ts, in a worker or on the main thread; takes its port
// and store as parameters, so tests can run it in-process.
import type { SessionStore, StoredMessage, StoreOp } from '../storage/types.js';
import { detachForTakeover, dropForTakeover, handleSession, handleSharedDelivery, installSession, restoreSession, takeArrived } from './session.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { queueSharedOffline } from './session-outbound.js';
import { nextDeadline, newOutput, type SessionEffect, type SessionEvent, type SessionLimits, type SessionOutput, type SessionState, type TakeoverRequest } from './session-types.js';
import { DeferredPuts } from './deferred-puts.js';
import { deliveryQos, deliveryRetain } from './shard-batch.js';
import type { FromShard, ToShard } from './shard-protocol.js';

export interface ShardPort {
  post(message: FromShard): void;
}

export interface Clock {
  now(): number;
  setTimer(ms: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => setTimeout(fn, Math.min(ms, 2 ** 31 - 1)),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * How long the write of a QoS 0/1 copy to an online session may wait for the subscriber's
 * acknowledgement before it is written anyway. It is also the most a publisher's PUBACK can wait
 * for a subscriber that does not keep up. A subscriber that keeps up acknowledges within a
 * millisecond or two under load (the bench's window of 256 messages at 100k msgs/s is 2.6 ms
 * deep, queue included).
 */
export const DEFER_WRITE_MS = 5;

interface PendingFlush {
  ops: StoreOp[];
  effects: SessionEffect[];
  tickets: number[];
  /** Puts this batch's deliveries made for copies to online sessions (see DeferredPuts). Null: none. */
  deferrable: Set<StoreOp> | null;
}

function newPending(): PendingFlush {
  return { ops: [], effects: [], tickets: [], deferrable: null };
}

/** The tickets of one flush: they go once it is durable and its deferred copies are resolved. */
interface TicketGroup {
  readonly batch: number;
  readonly tickets: number[];
  committed: boolean;
}

export class Shard {
  private readonly sessions = new Map<string, SessionState>();
  private readonly timers = new Map<string, { at: number; handle: unknown }>();
  /** What the current batch produced, not yet handed to storage. */
  private pending: PendingFlush = newPending();
  /** A commit in flight; later flushes wait for it so effects keep their order. */
  private committing: Promise<void> | null = null;
  /**
   * Connections with effects waiting for a commit (pending or in flight), and how many: their
   * later effects wait too, so nothing overtakes a CONNACK, an ack or a QoS 2 PUBLISH.
   */
  private readonly heldConns = new Map<number, number>();
  private closed = false;
  /** Writes of copies to online sessions held back for their acknowledgement. */
  private readonly deferred = new DeferredPuts();
  /** Off while shutting down (the last commits must hold everything) and when not configured. */
  private deferring: boolean;
  private deferTimer: unknown = null;
  /** Tickets of flushes not yet answered, in order. */
  private readonly ticketGroups: TicketGroup[] = [];
  /** The number of the last flush. */
  private flushes = 0;
  /**
   * At least every session's nextSeq: the seq a 'deliver' entry gives all its copies, which is
   * then above every seq each of them has used (seqs only need to increase per session).
   */
  private nextSeq = 1;
  /**
   * The shard's nextSeq when plan() last took the pending ops: a copy with a lower seq had its
   * put (if it has one) planned by then, so it is held back, written or cancelled; a copy with
   * this seq or above has its put still pending, ahead of any later op on it. (A copy delivered
   * by a single event takes its session's own next seq, which may be lower: then it counts as
   * planned, which only makes releaseEarly hold its PUBLISH when it need not.)
   */
  private plannedBelowSeq = 1;
  /**
   * Sessions exported for a cross-node takeover, by client id: the takeover's id and the first
   * seq of what arrived since (see takeover()). Their timers are off and a CONNECT here is refused.
   */
  private readonly exported = new Map<string, { id: string; fromSeq: number }>();
  /**
   * Sessions installed by a cross-node takeover whose old node's arrivals are still to come: the
   * takeover's id and the first seq of what reached the session here directly (see takeArrived).
   */
  private readonly installed = new Map<string, { id: string; directFrom: number }>();
  /** Batches that arrived before start() finished loading: handled right after it. */
  private early: (readonly ToShard[])[] | null = [];

  constructor(
    private readonly port: ShardPort,
    private readonly store: SessionStore,
    private readonly limits: SessionLimits,
    private readonly clock: Clock = systemClock,
    /** See DEFER_WRITE_MS; 0 writes every copy with its batch. */
    private readonly deferWriteMs: number = DEFER_WRITE_MS,
  ) {
    this.deferring = deferWriteMs > 0;
  }

  /** Loads persisted sessions and reports their routes (and wills now due) to main. */
  async start(): Promise<void> {
    const stored = await this.store.loadAll();
    const out = newOutput();
    const now = this.clock.now();
    for (const st of stored) {
      const s = restoreSession(st, now, out);
      if (s !== null) {
        this.sessions.set(s.clientId, s);
        this.armTimer(s);
        if (s.nextSeq > this.nextSeq) this.nextSeq = s.nextSeq;
      }
    }
    if (out.store.length > 0) await this.store.apply(out.store);
    this.plannedBelowSeq = this.nextSeq; // everything loaded is committed
    this.port.post({ t: 'ready', sessions: this.sessions.size, effects: out.effects });
    const early = this.early ?? [];
    this.early = null;
    for (const batch of early) this.handleBatch(batch);
  }

  /** Handles one batch from main; its output is flushed as one group commit. */
  handleBatch(batch: readonly ToShard[]): void {
    if (this.closed) return;
    if (this.early !== null) {
      // Not loaded yet (a restarted shard gets events at once, and restored timers may fire):
      // handling them now would create sessions that the load then overwrites.
      this.early.push(batch);
      return;
    }
    const from = this.pending.effects.length;
    const opsFrom = this.pending.ops.length;
    try {
      const now = this.clock.now();
      const out = newOutput();
      out.effects = this.pending.effects;
      out.store = this.pending.ops;
      for (const m of batch) {
        if (m.t === 'event') {
          const at = out.store.length;
          this.handle(m.clientId, m.event, now, out);
          if (m.event.type === 'deliver' && out.store.length > at) this.noteDeferrable(out.store, at);
        } else if (m.t === 'deliver') {
          const at = out.store.length;
          this.deliverEntry(m, now, out);
          if (out.store.length > at) this.noteDeferrable(out.store, at);
        } else if (m.t === 'ticket') {
          this.pending.tickets.push(m.id);
        } else if (m.t === 'takeover') {
          this.takeover(m.clientId, m.request, now, out);
        }
      }
    } catch (err) {
      // A bug or a malformed event: the sessions' state may be half-updated, so nothing more may
      // leave this shard. Stop it; the supervisor restarts it from what was committed. Caught
      // here (not left to crash the thread) because a main-thread shard shares its thread with
      // every connection, and timers call this too.
      this.fail('shard event handling failed', err);
      return;
    }
    this.releaseEarly(from, opsFrom);
    this.flush();
  }

  /**
   * Posts this batch's QoS 0 and 1 PUBLISHes now, ahead of the commit they would wait for, when
   * nothing of their connection is held; everything else stays in order behind the commit.
   * Sending a QoS 1 copy before its putMessage is durable loses nothing acknowledged: the
   * publisher's PUBACK (its ticket) still waits until the copy is committed or acknowledged, so
   * if the commit fails the publisher sends again, and a second copy is what QoS 1 allows
   * (MQTT 4.3.2). What it buys: a
   * copy acknowledged while its put is still pending is finished in the same batch, and the
   * fan-out log then never writes it. QoS 2 keeps commit-first, which exactly-once needs.
   *
   * Not early either: the first send of a copy whose put is already committed (or committing)
   * in state 'queued', typically a queue drained on reconnect. Sent before its updateMessage to
   * 'inflight' is durable, a crash would leave the store saying it was never sent, and the copy
   * would go out again after the restart as a new PUBLISH, with a new packet id and DUP=0, to a
   * client that already has it [MQTT-3.3.1-1, MQTT-4.4.0-1]. An update that folds into a put
   * still held back or still pending reaches the store with that put, so it needs no wait.
   */
  private releaseEarly(from: number, opsFrom: number): void {
    // Nothing to wait for: flush() posts the whole batch now, in one message.
    if (this.committing === null && this.pending.ops.length === 0) return;
    const ops = this.pending.ops;
    /** Connections with a copy sent whose 'queued' state may already be durable. */
    let unrecorded: Set<number> | null = null;
    for (let i = opsFrom; i < ops.length; i++) {
      const op = ops[i]!;
      if (op.op !== 'updateMessage' || op.state !== 'inflight') continue;
      if (op.seq >= this.plannedBelowSeq || this.deferred.holds(op.clientId, op.seq)) continue;
      const conn = this.sessions.get(op.clientId)?.connId;
      if (conn !== undefined && conn !== null) (unrecorded ??= new Set()).add(conn);
    }
    const effects = this.pending.effects;
    let early: SessionEffect[] | null = null;
    let w = from;
    for (let r = from; r < effects.length; r++) {
      const e = effects[r]!;
      if (e.type === 'publish' && e.publish.qos < 2 && !this.heldConns.has(e.connId) && (unrecorded === null || !unrecorded.has(e.connId))) {
        (early ??= []).push(e);
        continue;
      }
      effects[w++] = e;
      const conn = connectionOf(e);
      if (conn !== null) this.heldConns.set(conn, (this.heldConns.get(conn) ?? 0) + 1);
    }
    effects.length = w;
    if (early !== null) this.port.post({ t: 'effects', effects: early, tickets: [] });
  }

  /**
   * Marks the puts a delivery made for QoS 0/1 copies to an online session: they may wait for the
   * subscriber's acknowledgement (DeferredPuts). Not a copy for an offline session, which waits
   * for its client for as long as it takes, and no put a session writes for another reason
   * (persistAll rewrites copies acknowledged to their publishers long ago).
   */
  private noteDeferrable(ops: readonly StoreOp[], from: number): void {
    for (let i = from; i < ops.length; i++) {
      const op = ops[i]!;
      if (op.op !== 'putMessage' || op.message.qos === 2) continue;
      const s = this.sessions.get(op.clientId);
      if (s !== undefined && s.connId !== null) (this.pending.deferrable ??= new Set()).add(op);
    }
  }

  /**
   * Posts pending effects, and forgets the held ones in heldConns (a batch that had nothing to
   * wait for was not counted there, and nothing else was held then).
   */
  private postHeld(effects: SessionEffect[], tickets: number[]): void {
    if (effects.length === 0 && tickets.length === 0) return;
    for (const e of effects) {
      const conn = connectionOf(e);
      if (conn === null) continue;
      const n = this.heldConns.get(conn);
      if (n === undefined) continue;
      if (n <= 1) this.heldConns.delete(conn);
      else this.heldConns.set(conn, n - 1);
    }
    this.port.post({ t: 'effects', effects, tickets });
  }

  private handle(clientId: string, event: SessionEvent, now: number, out: SessionOutput): void {
    if (this.exported.size > 0 && this.exported.has(clientId) && !this.whileExported(event, out)) return;
    const before = this.sessions.get(clientId) ?? null;
    const after = handleSession(before, event, now, this.limits, out);
    this.track(clientId, before, after);
  }

  /**
   * A 'deliver' entry: its copies share one frozen StoredMessage per distinct (QoS, retain,
   * subscription ids), under one seq above every session's (see `nextSeq`). A publish queued for
   * N offline sessions then costs one message object, not N, in memory and in the store's log.
   */
  private deliverEntry(entry: Extract<ToShard, { t: 'deliver' }>, now: number, out: SessionOutput): void {
    const seq = this.nextSeq++;
    const from = out.store.length;
    /** Each shared copy, with the putShared of the sessions that queued it directly (null: none yet). */
    const groups = new Map<StoredMessage, PutShared | null>();
    let shared: StoredMessage | null = null;
    let group: PutShared | null = null;
    let sharedCode = -1;
    let generic = false;
    for (let i = 0; i < entry.clientIds.length; i++) {
      const code = entry.delivery[i]!;
      const ids = entry.subscriptionIds[i]!;
      if (shared === null || code !== sharedCode || !sameIds(ids, shared.subscriptionIds)) {
        const q: StoredMessage = { seq, state: 'queued', packetId: null, qos: deliveryQos(code), retain: deliveryRetain(code), subscriptionIds: ids, message: entry.message };
        shared = Object.freeze(q);
        sharedCode = code;
        group = null;
        groups.set(shared, null);
      }
      const clientId = entry.clientIds[i]!;
      const state = this.sessions.get(clientId);
      // The usual copy (an offline session queues it) joins the entry's putShared at once: no
      // putMessage op per session for coalesceSharedPuts to fold (warm queue bursts +7-8 %).
      // A delivery changes no deadline, so the session's timer is left as it is.
      if (state !== undefined && queueSharedOffline(state, shared, now, this.limits)) {
        if (group === null) {
          group = { op: 'putShared', clientIds: [], message: shared };
          groups.set(shared, group);
          out.store.push(group);
        }
        group.clientIds.push(clientId);
        continue;
      }
      generic = true;
      const s = handleSharedDelivery(state ?? null, shared, now, this.limits, out);
      // A repeated client in the entry took a seq of its own (deliverShared).
      if (s !== null && s.nextSeq > this.nextSeq) this.nextSeq = s.nextSeq;
    }
    if (generic && out.store.length > from) coalesceSharedPuts(out.store, from, groups);
  }

  /**
   * An event for a session exported to another node: deliveries queue in it as usual (it is
   * offline), a CONNECT here is refused with 0x89 so the client retries (the session is moving;
   * the cluster's claim lock normally stops it before), and its timers wait for the outcome (the
   * other node may resume it). Packets of its closed connection are stale anyway. Returns whether
   * the event is handled as usual.
   */
  private whileExported(event: SessionEvent, out: SessionOutput): boolean {
    if (event.type === 'deliver') return true;
    if (event.type === 'connect') {
      out.effects.push({ type: 'close', connId: event.connId, reasonCode: ReasonCode.ServerBusy, detail: 'the session is moving to another node of the cluster; retry' });
    }
    return false;
  }

  /** A step of a cross-node takeover (TakeoverRequest); its answer is an effect, so it leaves after the commit. */
  private takeover(clientId: string, request: TakeoverRequest, now: number, out: SessionOutput): void {
    const s = this.sessions.get(clientId);
    const ex = this.exported.get(clientId);
    const reply = (r: Extract<SessionEffect, { type: 'takeover' }>['reply']): void => {
      out.effects.push({ type: 'takeover', clientId, reply: r });
    };
    switch (request.op) {
      case 'export': {
        if (s === undefined || ex !== undefined) {
          // None here, or exported already (a second takeover is the cluster layer's to refuse).
          reply({ op: 'exported', id: request.id, session: null });
          return;
        }
        const fromSeq = Math.max(this.nextSeq, s.nextSeq);
        const moved = detachForTakeover(s, request.discard, now, out);
        if (moved === null) {
          this.track(clientId, s, null);
        } else {
          this.cancelTimer(clientId);
          this.exported.set(clientId, { id: request.id, fromSeq });
        }
        reply({ op: 'exported', id: request.id, session: moved });
        return;
      }
      case 'install': {
        if (s !== undefined && s.connId !== null) {
          reply({ op: 'installed', id: request.id, ok: false, detail: `client ${clientId} is connected to this node` });
          return;
        }
        if (s !== undefined) dropForTakeover(s, out); // an offline copy here is older than the one moving in
        this.exported.delete(clientId);
        const installed = installSession(request.session, out);
        // Copies that reach it from now on take seqs above every seq it moved with.
        installed.nextSeq = Math.max(installed.nextSeq, this.nextSeq);
        this.installed.set(clientId, { id: request.id, directFrom: installed.nextSeq });
        this.track(clientId, s ?? null, installed);
        reply({ op: 'installed', id: request.id, ok: true, detail: '' });
        return;
      }
      case 'drop': {
        if (request.handover && s !== undefined && ex?.id !== request.id) {
          out.effects.push({ type: 'event', name: 'session.takeover.lost_export', clientId, detail: `takeover ${request.id}: this shard no longer holds the export (restarted?); the session stays here` });
          reply({ op: 'dropped', id: request.id, ok: false, arrived: [] });
          return;
        }
        this.exported.delete(clientId);
        this.installed.delete(clientId);
        const arrived = s === undefined || ex === undefined ? [] : [...s.inflight.toArray(), ...s.queue.toArray()].filter((m) => m.seq >= ex.fromSeq);
        if (s !== undefined) {
          dropForTakeover(s, out);
          this.track(clientId, s, null);
        }
        reply({ op: 'dropped', id: request.id, ok: true, arrived });
        return;
      }
      case 'resume':
        this.exported.delete(clientId);
        if (s !== undefined) this.armTimer(s);
        reply({ op: 'resumed', id: request.id });
        return;
      case 'arrived': {
        const inst = this.installed.get(clientId);
        if (inst?.id === request.id) this.installed.delete(clientId);
        if (s === undefined) {
          if (request.messages.length > 0) out.effects.push({ type: 'event', name: 'session.takeover.arrivals_lost', clientId, detail: `takeover ${request.id}: ${request.messages.length} copies arrived for a session no longer here` });
          return;
        }
        takeArrived(s, request.messages, inst?.id === request.id ? inst.directFrom : Infinity, now, this.limits, out);
        this.track(clientId, s, s);
        return;
      }
    }
  }

  private fail(what: string, err: unknown): void {
    this.closed = true;
    this.clearDeferTimer();
    for (const t of this.timers.values()) this.clock.clearTimer(t.handle);
    this.timers.clear();
    const e = err instanceof Error ? err : new Error(String(err));
    this.port.post({ t: 'fatal', message: `${what}: ${e.message}`, ...(e.stack ? { stack: e.stack } : {}) });
  }

  private track(clientId: string, before: SessionState | null, after: SessionState | null): void {
    if (after !== null && after.nextSeq > this.nextSeq) this.nextSeq = after.nextSeq;
    if (after === null) {
      if (before !== null) this.sessions.delete(clientId);
      this.cancelTimer(clientId);
      return;
    }
    if (after !== before) this.sessions.set(clientId, after);
    this.armTimer(after);
  }

  private armTimer(s: SessionState): void {
    const at = nextDeadline(s);
    const current = this.timers.get(s.clientId);
    if (current !== undefined && current.at === at) return;
    if (current !== undefined) this.clock.clearTimer(current.handle);
    if (at === null) {
      this.timers.delete(s.clientId);
      return;
    }
    const clientId = s.clientId;
    const handle = this.clock.setTimer(Math.max(0, at - this.clock.now()), () => {
      this.timers.delete(clientId);
      this.handleBatch([{ t: 'event', clientId, event: { type: 'timer' } }]);
    });
    this.timers.set(clientId, { at, handle });
  }

  private cancelTimer(clientId: string): void {
    const t = this.timers.get(clientId);
    if (t === undefined) return;
    this.clock.clearTimer(t.handle);
    this.timers.delete(clientId);
  }

  private flush(): void {
    if (this.closed) return; // failed: what the failing batch produced must not leave
    if (this.committing !== null) return; // picked up when the running commit finishes
    const p = this.pending;
    if (p.effects.length === 0 && p.tickets.length === 0 && p.ops.length === 0 && this.deferred.size === 0) return;
    this.pending = newPending();
    this.plannedBelowSeq = this.nextSeq;
    const batch = ++this.flushes;
    /** The flush numbers of the deferred copies this commit writes. */
    const written: number[] = [];
    const ops = this.plan(p, batch, written);
    const group: TicketGroup | null = p.tickets.length === 0 ? null : { batch, tickets: p.tickets, committed: false };
    if (group !== null) this.ticketGroups.push(group);
    this.armDeferTimer();
    if (ops.length === 0) {
      if (group !== null) group.committed = true;
      this.postHeld(p.effects, this.readyTickets());
      return;
    }
    // Acknowledgements that cancelled deferred copies may have answered earlier flushes' tickets.
    const ready = this.readyTickets();
    // Pending with no ops of its own, this commit holds only copies whose hold came due: its
    // effects depend on none of them and go now. Held until the commit, they could be overtaken
    // by the next batch's early PUBLISH to the same connection when releaseEarly left them whole
    // (uncounted in heldConns). Its tickets still wait (readyTickets).
    let held = p.effects;
    if (p.ops.length === 0) {
      this.postHeld(held, ready);
      held = [];
    } else if (ready.length > 0) this.port.post({ t: 'effects', effects: [], tickets: ready });
    this.committing = this.store.apply(ops).then(
      () => {
        this.committing = null;
        for (const b of written) this.deferred.resolve(b);
        if (group !== null) group.committed = true;
        this.postHeld(held, this.readyTickets());
        this.flush();
      },
      (err: unknown) => {
        // Durability is gone for this shard: nothing acknowledged may be claimed. Report and stop;
        // the supervisor restarts the shard, which reloads what was committed.
        this.committing = null;
        this.fail('shard storage commit failed', err);
      },
    );
  }

  /**
   * The ops of flush `batch` as they go to the store: its deferrable puts held back, the deletes
   * and updates of copies still held back absorbed, and the copies held for DEFER_WRITE_MS
   * written at the end. A client's held copies are written first, in order, before
   * - a deleteSession of it, which must not run before them (it would leave them behind);
   * - another put for it, so its puts reach the store in seq order (the fan-out index's fast
   *   path; it accepts them out of order);
   * - a putMeta of it (a disconnect, mostly): an offline client acknowledges nothing soon.
   * Deletes and updates of its other copies, its subscriptions and its inbound QoS 2 ids concern
   * other rows, so a held copy may be written after them.
   */
  private plan(p: PendingFlush, batch: number, written: number[]): StoreOp[] {
    const deferrable = this.deferring ? p.deferrable : null;
    const deferred = this.deferred;
    if (deferrable === null && deferred.size === 0) return p.ops;
    const now = this.clock.now();
    const ops: StoreOp[] = [];
    for (const op of p.ops) {
      switch (op.op) {
        case 'putMessage':
          if (deferrable !== null && deferrable.has(op)) {
            deferred.defer(op, batch, now);
            continue;
          }
          deferred.writeClient(op.clientId, ops, written);
          break;
        case 'deleteMessage':
        case 'updateMessage':
          if (deferred.absorb(op)) continue;
          break;
        case 'putShared':
          for (const c of op.clientIds) deferred.writeClient(c, ops, written);
          break;
        case 'putMeta':
          deferred.writeClient(op.meta.clientId, ops, written);
          break;
        case 'deleteSession':
          deferred.writeClient(op.clientId, ops, written);
          break;
        default:
          break;
      }
      ops.push(op);
    }
    deferred.writeOlder(this.deferring ? now - this.deferWriteMs : Infinity, ops, written);
    return ops;
  }

  /** Tickets whose flushes are durable and whose deferred copies are durable or acknowledged. */
  private readyTickets(): number[] {
    const groups = this.ticketGroups;
    if (groups.length === 0) return [];
    const first = this.deferred.firstUnresolved();
    let ready: number[] = [];
    while (groups.length > 0 && groups[0]!.committed && groups[0]!.batch < first) {
      const g = groups.shift()!;
      ready = ready.length === 0 ? g.tickets : ready.concat(g.tickets);
    }
    return ready;
  }

  /** Copies held back get written when they are due, even with nothing else to flush. */
  private armDeferTimer(): void {
    if (this.deferTimer !== null) return;
    const oldest = this.deferred.oldest();
    if (oldest === null) return;
    this.deferTimer = this.clock.setTimer(Math.max(0, oldest + this.deferWriteMs - this.clock.now()), () => {
      this.deferTimer = null;
      // With a commit in flight this returns at once; the flush after the commit arms it again.
      this.flush();
    });
  }

  private clearDeferTimer(): void {
    if (this.deferTimer === null) return;
    this.clock.clearTimer(this.deferTimer);
    this.deferTimer = null;
  }

  /** Waits for outstanding commits, then closes the store. */
  async shutdown(): Promise<void> {
    this.deferring = false;
    this.clearDeferTimer();
    while (this.committing !== null) await this.committing;
    this.flush();
    while (this.committing !== null) await this.committing;
    this.closed = true;
    for (const t of this.timers.values()) this.clock.clearTimer(t.handle);
    this.timers.clear();
    await this.store.close();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** For tests and the cluster's takeover: the plain state of one session. */
  session(clientId: string): SessionState | undefined {
    return this.sessions.get(clientId);
  }
}

type PutShared = Extract<StoreOp, { op: 'putShared' }>;

/** The connection an effect goes to, or null for effects that concern no connection. */
function connectionOf(e: SessionEffect): number | null {
  switch (e.type) {
    case 'connack':
    case 'flow':
    case 'publish':
    case 'packet':
    case 'close':
    case 'qos2Status':
      return e.connId;
    case 'route':
    case 'routes':
    case 'event':
    case 'takeover':
      return null;
  }
}

/**
 * Replaces the putMessage ops of each shared copy in ops[from..] by one putShared op: the copy's
 * existing one in `groups`, or a new one at the place of its first put. The store then checks the
 * copy once and plans its recipients in one loop. Moving a client's put within one entry changes
 * nothing: every other op the entry produced is for another (client, seq) (a dropped older copy, a
 * session's own copy under a later seq).
 */
export function coalesceSharedPuts(ops: StoreOp[], from: number, groups: Map<StoredMessage, PutShared | null>): void {
  // By identity, in a Map: an entry whose copies all carry different subscription ids has as many
  // shared copies as sessions, and a search of the list per op made that quadratic (10,000 such
  // copies: 17.8 ms, against ~1 ms with the Map once warm).
  let w = from;
  for (let r = from; r < ops.length; r++) {
    const op = ops[r]!;
    const group = op.op === 'putMessage' ? groups.get(op.message) : undefined;
    if (group === undefined || op.op !== 'putMessage') {
      ops[w++] = op;
      continue;
    }
    if (group === null) {
      const created: PutShared = { op: 'putShared', clientIds: [op.clientId], message: op.message };
      groups.set(op.message, created);
      ops[w++] = created;
    } else group.clientIds.push(op.clientId);
  }
  ops.length = w;
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
