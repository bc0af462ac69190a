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
import type { OwnerCandidate } from './client-owner.js';
import type { PeerMessage, Registration } from './peer-messages.js';
import { batches, RegistrySync, viewKey } from './registry-sync.js';
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
  /** Run the ordinary local CONNECT (a session moved here is resumed by it: Session Present);
   * `moved`: a session was moved here for it; `wasHere`: a session of this id already lived here. */
  proceed(moved: boolean, wasHere: boolean): void;
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
  /** Sends registrations and evictions to a peer on its ordered stream (lane 0). */
  readonly peer: (to: NodeName, message: PeerMessage) => void;
  /** The shard's part (Supervisor.takeover); answers come back through shardReply(). */
  readonly shards: { takeover(clientId: string, request: TakeoverRequest): void };
  /** The owner of a client id among the live members, self included (clientOwner). */
  readonly owner: (clientId: string) => NodeName;
  /** Whether `node` is a live member (or this node). */
  readonly live: (node: NodeName) => boolean;
  readonly clock: TakeoverClock;
  readonly log: Logger;
  /** A takeover this node claimed moved a session here ('completed') or failed, `ms` after the CONNECT (metrics). */
  readonly onEnd?: (outcome: 'completed' | 'failed', ms: number) => void;
}

/** How long an owner lets a claim for an unknown client id wait for the members' lists after a
 * membership change before answering "none known" (a member that never sends its list must not
 * block CONNECTs; below the claimant's step time of 5 s). */
export const REGISTRY_GRACE_MS = 2_000;
/** Membership events come in bursts (a join sees every member): lists go once the burst is over. */
export const REREGISTER_DELAY_MS = 20;

type Claim = Extract<SessionTakeoverMessage, { kind: 'claim' }>;
type Release = Extract<SessionTakeoverMessage, { kind: 'release' }>;

const WARN_EVENTS = new Set(['cluster.takeover.failed', 'cluster.takeover.in_doubt', 'cluster.takeover.aborted']);

export class TakeoverService {
  readonly timings: TakeoverTimings;
  private readonly takeovers = new Map<string, B>();
  /** When each takeover in `takeovers` began (its CONNECT), for onEnd. */
  private readonly startedAt = new Map<string, number>();
  private readonly waiters = new Map<string, ConnectWaiter>();
  private readonly holder: TakeoverHolder<SessionSnapshot, StoredMessage>;
  readonly registry: ClaimRegistry;
  /** Sessions living here, and whether the owners' lists are complete (see registry-sync.ts). */
  readonly sessions = new RegistrySync();
  /** Claims for client ids this owner knows no location of, waiting for a complete registry. */
  private readonly parked = new Map<string, Claim>();
  /** Releases sent and not yet answered (`released`), by takeover id: resent every retryMs to
   * the client id's owner of the moment, for up to decisionTtlMs (after a membership change the
   * full lists say where sessions live anyway). */
  private readonly releases = new Map<string, { message: Release; until: number; lastSent: number }>();
  private graceTimer: unknown = null;
  private reregisterTimer: unknown = null;
  private goneScheduled = false;
  private members: readonly OwnerCandidate[] = [];
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
    this.startedAt.set(id, now);
    this.waiters.set(id, waiter);
    this.runB(t, out);
  }

  /**
   * Push direction: takes the session of `clientId` over from wherever it lives, as a CONNECT
   * would, with no connection: it ends up offline here. Resolves with the outcome.
   */
  adopt(clientId: string): Promise<{ moved: boolean; detail: string }> {
    return new Promise((resolve) => {
      this.connect(clientId, false, {
        proceed: (moved, wasHere) => {
          // Nothing moved and none lived here: the CONNECT path would have made one, this makes
          // none. One that lives here already (a second push, or its client moved it here
          // meanwhile) stays registered: unregistering it would let a later CONNECT elsewhere
          // make a second session.
          if (!moved && !wasHere) this.sessions.ended(clientId);
          resolve({ moved, detail: '' });
        },
        refuse: (_code, detail) => resolve({ moved: false, detail }),
      });
    });
  }

  /** A takeover message from `from` (or this node). */
  receive(from: NodeName, m: SessionTakeoverMessage): void {
    if (this.closed) return;
    const now = this.opts.clock.now();
    switch (m.kind) {
      case 'claim':
        if (this.opts.owner(m.clientId) !== this.opts.self && !this.registry.locked(m.clientId, now)) {
          // Not the owner in this node's view (views differ while membership changes): a grant
          // here could meet one by the node that is, and two sessions would live. The claimant
          // refuses its CONNECT (0x89) and the client retries once the views agree.
          this.send({ type: 'send', to: from, message: { kind: 'claimed', id: m.id, clientId: m.clientId, granted: false, holder: null } });
          return;
        }
        if (!this.sessions.complete() && this.registry.location(m.clientId) === null && !this.registry.locked(m.clientId, now)) {
          // Not every member's list is in since membership changed: "none known" may be wrong.
          this.parked.set(m.id, m);
          this.armGrace();
          return;
        }
        this.toRegistry(m, now);
        return;
      case 'release':
        this.release(from, m, now);
        return;
      case 'released':
        this.releases.delete(m.id);
        return;
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

  /** Registrations from `from` (a peer, or this node for the ids it owns itself). */
  registrations(from: NodeName, view: string, entries: readonly Registration[], complete: boolean): void {
    if (this.closed) return;
    const now = this.opts.clock.now();
    for (const e of entries) this.register(from, e, now);
    if (complete) {
      const before = this.sessions.complete();
      if (this.sessions.markComplete(from, view)) {
        // Tests (and operators) wait for this line after a membership change or a healed partition.
        if (!before) this.opts.log.info({ event: 'cluster.registry.complete', view, locations: this.registry.size }, 'every live member has registered its sessions with this owner');
        this.releaseParked('complete');
      }
    }
  }

  /** One registration from `from`: records where the session lives, ending the older of two. */
  private register(from: NodeName, e: Registration, now: number): void {
    if (!e.present) {
      this.registry.unregister(e.clientId, from, now);
      return;
    }
    // A claim holds the id: a takeover is moving the session, and both its old node and its
    // new one (installed, not yet accepted) list it. Its release says where it lives; an
    // eviction now could end the copy the old node is handing over to.
    if (this.registry.locked(e.clientId, now)) return;
    const loser = this.registry.register(e.clientId, from, e.since, this.opts.live);
    if (loser === null) return;
    this.opts.log.warn({ event: 'cluster.registry.conflict', clientId: e.clientId, winner: this.registry.location(e.clientId), loser: loser.node }, `client ${e.clientId} has a session on ${from} and on another node; the later one stays, ${loser.node} ends its copy`);
    const evict: PeerMessage = { kind: 'evict', clientId: e.clientId, since: loser.since, winner: this.registry.location(e.clientId) ?? '' };
    if (loser.node === this.opts.self) this.evicted(evict.clientId, evict.since, evict.winner);
    else this.opts.peer(loser.node, evict);
  }

  /**
   * A claimant's release. One that holds no lock here (its lease ran out, this owner restarted
   * or took the id over since the claim, a late duplicate) still says where the session lives
   * now: a success counts as a registration of the claimant. A node that does not own the id in
   * its view leaves it unanswered, so the claimant resends it to the owner it sees.
   */
  private release(from: NodeName, m: Release, now: number): void {
    const out: SendEffect[] = [];
    const verdict = this.registry.release(m, now, out);
    if (verdict === 'unlocked' && this.opts.owner(m.clientId) === this.opts.self) {
      if (m.location !== null && m.location === from) this.register(from, { clientId: m.clientId, present: true, since: m.since }, now);
      out.push(this.registry.released(m));
    }
    for (const e of out) this.send(e);
  }

  /** The owner says a later registration of `clientId` won: end the copy here if it is that one. */
  evicted(clientId: string, since: number, winner: string): void {
    if (this.closed || this.sessions.local.get(clientId) !== since) return;
    this.opts.log.warn({ event: 'cluster.registry.evicted', clientId, winner }, `ending the session of ${clientId} here: node ${winner} holds a later one (its connection gets 0x8E)`);
    // Discarded as a Clean Start would: the connection closed with 0x8E, the session ended.
    this.opts.shards.takeover(clientId, { op: 'export', id: `evict/${this.opts.self}/${++this.counter}`, discard: true });
  }

  /** A session arrived here other than through connect() (restored from storage, or installed). */
  sessionHere(clientId: string): void {
    this.sessions.restored(clientId);
  }

  /** A session ended here or moved away: its owner forgets it (batched per event-loop turn). */
  sessionGone(clientId: string): void {
    this.sessions.ended(clientId);
    if (this.goneScheduled || this.closed) return;
    this.goneScheduled = true;
    this.opts.clock.setTimer(0, () => {
      this.goneScheduled = false;
      for (const [owner, entries] of this.sessions.takeGone(this.opts.owner)) this.sendRegistrations(owner, entries, false);
    });
  }

  /**
   * The live members changed (`members`: self included). Owners drop what they no longer own,
   * and once the burst of changes is over this node sends every member its full list.
   */
  membersChanged(members: readonly OwnerCandidate[]): void {
    if (this.closed || viewKey(members) === this.sessions.view) return;
    this.members = members;
    this.registry.retain((clientId) => this.opts.owner(clientId) === this.opts.self);
    this.sessions.viewChanged(members);
    if (this.reregisterTimer !== null) this.opts.clock.clearTimer(this.reregisterTimer);
    this.reregisterTimer = this.opts.clock.setTimer(REREGISTER_DELAY_MS, () => {
      this.reregisterTimer = null;
      this.reregister();
    });
    if (this.sessions.complete()) this.releaseParked('complete');
  }

  /** Sends every live member (self included) the sessions here that it owns, then complete. */
  private reregister(): void {
    const names = this.members.map((m) => m.name);
    let total = 0;
    for (const [owner, list] of this.sessions.fullLists(names, this.opts.owner)) {
      total += list.length;
      this.sendRegistrations(owner, list, true);
    }
    this.opts.log.info({ event: 'cluster.registry.sent', sessions: total, members: names.length, view: this.sessions.view }, `registered ${total} sessions with their owners`);
  }

  private sendRegistrations(owner: NodeName, list: readonly Registration[], complete: boolean): void {
    const view = this.sessions.view;
    const parts = batches(list);
    parts.forEach((entries, i) => {
      const last = complete && i === parts.length - 1;
      if (owner === this.opts.self) this.registrations(owner, view, entries, last);
      else if (entries.length > 0 || last) this.opts.peer(owner, { kind: 'registrations', view, entries, complete: last });
    });
  }

  private toRegistry(m: Extract<SessionTakeoverMessage, { kind: 'claim' | 'release' }>, now: number): void {
    const out: SendEffect[] = [];
    this.registry.receive(m, now, out);
    for (const e of out) this.send(e);
  }

  private armGrace(): void {
    if (this.graceTimer !== null) return;
    this.graceTimer = this.opts.clock.setTimer(REGISTRY_GRACE_MS, () => {
      this.graceTimer = null;
      if (this.parked.size === 0 || this.sessions.complete()) return;
      this.opts.log.warn({ event: 'cluster.registry.incomplete', missing: this.sessions.missing(), waiting: this.parked.size }, `no session list from ${this.sessions.missing().join(', ')} within ${REGISTRY_GRACE_MS} ms of the membership change; answering claims with what is known`);
      this.sessions.giveUp();
      this.releaseParked('grace');
    });
  }

  private releaseParked(why: 'complete' | 'grace'): void {
    if (this.graceTimer !== null && why === 'complete') {
      this.opts.clock.clearTimer(this.graceTimer);
      this.graceTimer = null;
    }
    if (this.parked.size === 0) return;
    const claims = [...this.parked.values()];
    this.parked.clear();
    const now = this.opts.clock.now();
    for (const m of claims) this.toRegistry(m, now);
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
    for (const t of [this.timer, this.graceTimer, this.reregisterTimer]) if (t !== null) this.opts.clock.clearTimer(t);
    this.timer = this.graceTimer = this.reregisterTimer = null;
    for (const w of this.waiters.values()) w.refuse(0x89, 'the node is shutting down; retry on another node');
    this.waiters.clear();
    this.takeovers.clear();
    this.startedAt.clear();
    this.releases.clear();
  }

  private runB(t: B, out: readonly BEffect[]): void {
    const { shards } = this.opts;
    for (const e of out) {
      switch (e.type) {
        case 'send':
          if (e.message.kind === 'release') {
            const now = this.opts.clock.now();
            this.releases.set(e.message.id, { message: e.message, until: now + this.timings.decisionTtlMs, lastSent: now });
            this.armAt(now + this.timings.retryMs);
          }
          this.send(e);
          break;
        case 'log':
          this.logEffect(e, t.id);
          if (e.event === 'cluster.takeover.done' || e.event === 'cluster.takeover.failed') {
            const began = this.startedAt.get(t.id);
            if (began !== undefined) this.opts.onEnd?.(e.event === 'cluster.takeover.done' ? 'completed' : 'failed', this.opts.clock.now() - began);
          }
          break;
        case 'connectLocal':
        case 'accept': {
          const wasHere = this.sessions.local.has(t.clientId);
          this.sessions.here(t.clientId, this.opts.clock.now());
          this.takeWaiter(t.id)?.proceed(e.type === 'accept', wasHere);
          break;
        }
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
    if (at === null) {
      this.takeovers.delete(t.id);
      this.startedAt.delete(t.id);
    }
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
    for (const [id, r] of this.releases) {
      if (now >= r.until) {
        this.releases.delete(id);
        this.opts.log.warn({ event: 'cluster.takeover.release_unanswered', clientId: r.message.clientId, takeover: id }, `no owner answered the release of ${r.message.clientId} within ${this.timings.decisionTtlMs} ms; the next membership change registers the session with its owner`);
        continue;
      }
      if (now >= r.lastSent + this.timings.retryMs) {
        r.lastSent = now;
        // To the owner of the moment: ownership may have moved since the claim.
        this.send({ type: 'send', to: this.opts.owner(r.message.clientId), message: r.message });
      }
      next = Math.min(next, r.lastSent + this.timings.retryMs);
    }
    if (next !== Infinity) this.armAt(next);
  }
}
