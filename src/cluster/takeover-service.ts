// The shell that drives the takeover machines (src/cluster/takeover.ts) on one node, in all three
// roles at once: the new node of each CONNECT (Takeover), the old node of sessions that live here
// (TakeoverHolder) and the owner of the client ids hashed to this node (ClaimRegistry). It turns
// their effects into work: messages to peers through `wire`, the shard's export/install/drop/
// resume/arrived through `shards`, and the waiting CONNECT's outcome through its ConnectWaiter
// (proceed: the node's ordinary local connect; refuse: CONNACK 0x89). Time comes from `clock`,
// with one timer for the machines' next deadline; no gRPC, no membership and no node here, so the
// multi-node simulator can drive this same class over its own network.
import type { SessionSnapshot, TakeoverReply, TakeoverRequest } from '../actors/session-types.js';
import type { Logger } from '../log.js';
import type { StoredMessage } from '../storage/types.js';
import type { SessionTakeoverMessage } from './takeover-codec.js';
import {
  ClaimRegistry,
  DEFAULT_TAKEOVER_TIMINGS,
  Takeover,
  TakeoverHolder,
  type HolderEffect,
  type NodeName,
  type Send,
  type TakeoverEffect,
  type TakeoverLog,
  type TakeoverTimings,
} from './takeover.js';

type B = Takeover<SessionSnapshot, StoredMessage>;
type BEffect = TakeoverEffect<SessionSnapshot, StoredMessage>;
type AEffect = HolderEffect<SessionSnapshot, StoredMessage>;
type SendEffect = Send<SessionSnapshot, StoredMessage>;

/** Where a CONNECT waiting for the cluster goes on. */
export interface ConnectWaiter {
  /** Run the ordinary local CONNECT (a session moved here is resumed by it: Session Present). */
  proceed(): void;
  /** Refuse the CONNECT with `reasonCode` (v5; 3.1.1 maps it), `detail` saying why. */
  refuse(reasonCode: number, detail: string): void;
}

export interface TakeoverClock {
  now(): number;
  setTimer(ms: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

export interface TakeoverServiceOptions {
  readonly self: NodeName;
  /** Makes takeover ids unique across restarts of this node. */
  readonly incarnation: number;
  readonly timings?: TakeoverTimings;
  /** Sends one message to a peer, fire and forget: the machines resend what gets no answer. */
  readonly wire: (to: NodeName, message: SessionTakeoverMessage) => void;
  /** The shard's part (Supervisor.takeover); answers come back through shardReply(). */
  readonly shards: { takeover(clientId: string, request: TakeoverRequest): void };
  /** The owner of a client id among the live members, self included (clientOwner). */
  readonly owner: (clientId: string) => NodeName;
  /** Whether `node` is a live member (or this node). */
  readonly live: (node: NodeName) => boolean;
  readonly clock: TakeoverClock;
  readonly log: Logger;
}

const WARN_EVENTS = new Set(['cluster.takeover.failed', 'cluster.takeover.in_doubt', 'cluster.takeover.aborted']);

export class TakeoverService {
  readonly timings: TakeoverTimings;
  private readonly takeovers = new Map<string, B>();
  private readonly waiters = new Map<string, ConnectWaiter>();
  private readonly holder: TakeoverHolder<SessionSnapshot, StoredMessage>;
  readonly registry: ClaimRegistry;
  private counter = 0;
  private timer: unknown = null;
  private timerAt = Infinity;
  private closed = false;

  constructor(private readonly opts: TakeoverServiceOptions) {
    this.timings = opts.timings ?? DEFAULT_TAKEOVER_TIMINGS;
    this.holder = new TakeoverHolder(opts.self, this.timings);
    this.registry = new ClaimRegistry(this.timings);
  }

  /** Takeovers under way with this node as the new node. */
  get active(): number {
    return this.takeovers.size;
  }

  /**
   * A CONNECT for `clientId` on this node: claims the id at its owner, which answers where the
   * session lives; a session elsewhere is moved here first. `waiter` hears the outcome once.
   */
  connect(clientId: string, cleanStart: boolean, waiter: ConnectWaiter): void {
    if (this.closed) {
      waiter.refuse(0x89, 'the node is shutting down');
      return;
    }
    const id = `${this.opts.self}/${this.opts.incarnation}/${++this.counter}`;
    const out: BEffect[] = [];
    const now = this.opts.clock.now();
    const t: B = new Takeover(id, clientId, this.opts.self, this.opts.owner(clientId), cleanStart, this.timings, now, out);
    this.takeovers.set(id, t);
    this.waiters.set(id, waiter);
    this.runB(t, out);
  }

  /** A takeover message from `from` (or this node). */
  receive(from: NodeName, m: SessionTakeoverMessage): void {
    if (this.closed) return;
    const now = this.opts.clock.now();
    switch (m.kind) {
      case 'claim':
      case 'release': {
        const out: SendEffect[] = [];
        this.registry.receive(m, now, out);
        for (const e of out) this.send(e);
        return;
      }
      case 'begin':
      case 'end':
      case 'abort': {
        const out: AEffect[] = [];
        this.holder.receive(m, now, out);
        this.runA(out);
        if (m.kind === 'begin') this.armAt(now + this.timings.holdMs);
        return;
      }
      case 'claimed':
      case 'exported':
      case 'ended': {
        const t = this.takeovers.get(m.id);
        if (t === undefined) return; // finished: a late duplicate
        const out: BEffect[] = [];
        if (m.kind === 'claimed' && m.granted && m.holder !== null && m.holder !== this.opts.self && !this.opts.live(m.holder)) {
          // The session lives on a node that is down: unavailable until it returns (README,
          // Takeover). A Clean Start does not want it: a new session here.
          if (t.cleanStart) t.receive({ ...m, holder: null }, now, out);
          else t.refuseUnavailable(`node ${m.holder}, which holds this session, is down; retry once it is back, or connect with Clean Start for a new session`, out);
        } else {
          t.receive(m, now, out);
        }
        this.runB(t, out);
        return;
      }
    }
  }

  /** A shard's answer to a takeover step (the node's 'takeover' effect). */
  shardReply(clientId: string, reply: TakeoverReply): void {
    if (this.closed) return;
    const now = this.opts.clock.now();
    switch (reply.op) {
      case 'exported': {
        const out: AEffect[] = [];
        this.holder.exported(clientId, reply.id, reply.session, now, out);
        this.runA(out);
        return;
      }
      case 'dropped': {
        // The old node's handover, or the new node's undoing of an install (no holder entry).
        const out: AEffect[] = [];
        if (reply.ok) this.holder.handedOver(clientId, reply.id, reply.arrived, now, out);
        else this.holder.handoverFailed(clientId, reply.id, now, out);
        this.runA(out);
        return;
      }
      case 'installed': {
        const t = this.takeovers.get(reply.id);
        if (t === undefined) return;
        const out: BEffect[] = [];
        if (reply.ok) t.installed(now, out);
        else t.installFailed(reply.detail, out);
        this.runB(t, out);
        return;
      }
      case 'resumed':
        return;
    }
  }

  /** Refuses what waits and stops the timer (the node is stopping). */
  close(): void {
    this.closed = true;
    if (this.timer !== null) this.opts.clock.clearTimer(this.timer);
    this.timer = null;
    for (const w of this.waiters.values()) w.refuse(0x89, 'the node is shutting down; retry on another node');
    this.waiters.clear();
    this.takeovers.clear();
  }

  private runB(t: B, out: readonly BEffect[]): void {
    const { shards } = this.opts;
    for (const e of out) {
      switch (e.type) {
        case 'send':
          this.send(e);
          break;
        case 'log':
          this.logEffect(e, t.id);
          break;
        case 'connectLocal':
        case 'accept':
          this.takeWaiter(t.id)?.proceed();
          break;
        case 'refuse':
          this.takeWaiter(t.id)?.refuse(e.reasonCode, e.detail);
          break;
        case 'install':
          shards.takeover(e.clientId, { op: 'install', id: t.id, session: e.session });
          break;
        case 'uninstall':
          shards.takeover(e.clientId, { op: 'drop', id: t.id, handover: false });
          break;
        case 'deliver':
          shards.takeover(e.clientId, { op: 'arrived', id: t.id, messages: e.buffered });
          break;
      }
    }
    const at = t.nextDeadline();
    if (at === null) this.takeovers.delete(t.id);
    else this.armAt(at);
  }

  private runA(out: readonly AEffect[]): void {
    for (const e of out) {
      if (e.type === 'send') this.send(e);
      else if (e.type === 'log') this.logEffect(e, null);
      else {
        const request: TakeoverRequest =
          e.type === 'export' ? { op: 'export', id: e.id, discard: e.discard } : e.type === 'handover' ? { op: 'drop', id: e.id, handover: true } : { op: 'resume', id: e.id };
        this.opts.shards.takeover(e.clientId, request);
      }
    }
  }

  private takeWaiter(id: string): ConnectWaiter | undefined {
    const w = this.waiters.get(id);
    this.waiters.delete(id);
    return w;
  }

  private send(e: SendEffect): void {
    if (e.to === this.opts.self) {
      // The owner (or old node) is this node: the same path, one microtask later, so no machine
      // is re-entered while it runs.
      const m = e.message;
      queueMicrotask(() => this.receive(this.opts.self, m));
      return;
    }
    this.opts.wire(e.to, e.message);
  }

  private logEffect(e: TakeoverLog, id: string | null): void {
    const fields = { event: e.event, clientId: e.clientId, ...(id === null ? {} : { takeover: id }) };
    if (e.event === 'cluster.takeover.unresolved') this.opts.log.error(fields, e.detail);
    else if (WARN_EVENTS.has(e.event)) this.opts.log.warn(fields, e.detail);
    else this.opts.log.info(fields, e.detail);
  }

  /** Makes the timer fire by `at`. Deadlines only move later once set, so an early fire just
   * finds less to do; the fire recomputes the earliest. */
  private armAt(at: number): void {
    if (this.closed || at >= this.timerAt) return;
    if (this.timer !== null) this.opts.clock.clearTimer(this.timer);
    this.timerAt = at;
    this.timer = this.opts.clock.setTimer(Math.max(0, at - this.opts.clock.now()), () => this.fire());
  }

  private fire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.closed) return;
    const now = this.opts.clock.now();
    for (const t of [...this.takeovers.values()]) {
      const due = t.nextDeadline();
      if (due === null || due > now) continue;
      const out: BEffect[] = [];
      t.tick(now, out);
      this.runB(t, out);
    }
    const hout: AEffect[] = [];
    this.holder.tick(now, hout);
    this.runA(hout);
    let next = this.holder.nextDeadline() ?? Infinity;
    for (const t of this.takeovers.values()) next = Math.min(next, t.nextDeadline() ?? Infinity);
    if (next !== Infinity) this.armAt(next);
  }
}
