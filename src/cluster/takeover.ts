// Session takeover across nodes (issue 17) as pure state machines, one per role: the claim
// registry on the client id's owner node (client-owner.ts), the new node (Takeover, one per
// CONNECT) and the old node (TakeoverHolder, one per node). They exchange TakeoverMessage values
// and return effects for their shells (gRPC, the shard's export/install/drop, the connection);
// time is an argument and no I/O happens here, so tests drive every interleaving.
//
// The order follows EMQX's (../shared/CLUSTER-ANCHORS.md §1 and lesson 6):
//   new node B                      owner O                   old node A
//   claim ───────────────────────▶  lock the id, answer where the session lives
//   begin ──────────────────────────────────────────────────▶ close the old connection (0x8E),
//                                                             export, buffer later deliveries
//   ◀────────────────────────────────────────────── exported (the session as data)
//   install locally (store + routes: B's routes exist before A drops its own)
//   end ────────────────────────────────────────────────────▶ hand over the buffer, drop its copy
//   ◀────────────────────────────────────────────── ended (outcome + buffered deliveries)
//   CONNACK session present; release ──▶ the id now lives on B
//
// The single commit point is A's decision on `end`: until then A may still give the session back
// to itself (its wait for `end` timed out, or B aborted), after it the session is B's. A decides
// once per takeover and answers a repeated `end` with the same decision, so a lost `ended` is
// answered again on B's retry. B accepts the connection only on an `ended` that says so: never
// two live sessions. A takeover that fails or times out before A's decision leaves the session
// on A (offline, with what it buffered) and refuses the CONNECT with 0x89 Server busy, so the
// client retries. When B's own deadline passes while waiting for `ended`, the outcome is unknown
// to B ("in doubt"): it refuses the CONNECT, keeps its installed copy offline and keeps asking
// until A's answer says whether to keep it (ended) or drop it (aborted).
// A Clean Start CONNECT discards the remote session instead of moving it (A ends it; the client
// asked for that, so no later step can fail it). No will on takeover: the client is still there.
import { ReasonCode } from '../protocol/reason-codes.js';

export type NodeName = string;

/** The deadlines, in ms; every transition gets the time as an argument. */
export interface TakeoverTimings {
  /** How long B waits for each answer (claimed, exported, the local install, ended). */
  readonly stepMs: number;
  /** How often B resends an unanswered request (a lost message is retried, not waited out). */
  readonly retryMs: number;
  /** How long A keeps a session exported and buffering before it takes it back. */
  readonly holdMs: number;
  /** How long A remembers a decision, to answer a repeated `end`; B stops asking 2 steps before. */
  readonly decisionTtlMs: number;
  /** How long O's claim lock lasts without a release (a claimant that died frees the id). */
  readonly leaseMs: number;
}

/** EMQX's defaults: 5 s per step, the old side giving up at 2 × that (lesson 6). */
export const DEFAULT_TAKEOVER_TIMINGS: TakeoverTimings = takeoverTimings(5_000);

/** The timings for a step time of `stepMs` (--takeover-timeout), in the defaults' proportions. */
export function takeoverTimings(stepMs: number): TakeoverTimings {
  return { stepMs, retryMs: stepMs / 10, holdMs: 2 * stepMs, decisionTtlMs: 24 * stepMs, leaseMs: 6 * stepMs };
}

/** `id` names one takeover cluster-wide (claimant node, incarnation, counter); `S`: an exported
 * session, `D`: a buffered delivery (plain data in both cases, see exportSession). */
export type TakeoverMessage<S, D> =
  | { kind: 'claim'; id: string; clientId: string; from: NodeName }
  | { kind: 'claimed'; id: string; clientId: string; granted: boolean; holder: NodeName | null }
  /** `since`: the claimant's clock when the session arrived there (0 for a failed takeover);
   * resent until `released` comes back. */
  | { kind: 'release'; id: string; clientId: string; from: NodeName; location: NodeName | null; since: number }
  | { kind: 'released'; id: string; clientId: string }
  | { kind: 'begin'; id: string; clientId: string; from: NodeName; cleanStart: boolean }
  /** A's answer to begin: the session (null: none there, or discarded for a Clean Start). */
  | { kind: 'exported'; id: string; clientId: string; session: S | null; busy: boolean }
  | { kind: 'end'; id: string; clientId: string; from: NodeName }
  | { kind: 'ended'; id: string; clientId: string; outcome: 'ended' | 'aborted'; buffered: D[] }
  | { kind: 'abort'; id: string; clientId: string; from: NodeName };

export interface Send<S, D> {
  type: 'send';
  to: NodeName;
  message: TakeoverMessage<S, D>;
}

export interface TakeoverLog {
  type: 'log';
  /** A stable pino `event` name. */
  event: string;
  clientId: string;
  detail: string;
}

/** What B's shell does. */
export type TakeoverEffect<S, D> =
  | Send<S, D>
  | TakeoverLog
  /** No remote session (or it was discarded): run the ordinary local CONNECT. */
  | { type: 'connectLocal'; clientId: string }
  /** Install `session` in a local actor, offline: store it, add its routes; answer installed(). */
  | { type: 'install'; clientId: string; session: S }
  /** A's decision was to keep the session: remove the installed copy (store and routes). */
  | { type: 'uninstall'; clientId: string }
  /** Queue what A buffered into the installed session, in order, ahead of what reached the
   * installed copy directly (A's routes matched those messages before it dropped them). */
  | { type: 'deliver'; clientId: string; buffered: D[] }
  /** Attach the connection to the installed session: CONNACK with Session Present. */
  | { type: 'accept'; clientId: string }
  /** Refuse the CONNECT; the client retries [MQTT-3.2.2-?] (v5 reason code, 3.1.1: server unavailable). */
  | { type: 'refuse'; clientId: string; reasonCode: number; detail: string };

/** What A's shell does. */
export type HolderEffect<S, D> =
  | Send<S, D>
  | TakeoverLog
  /** Close the connection with 0x8E (no will), export the session, keep later deliveries apart
   * (the shard queues them durably in the detached session and knows them by seq); answer
   * exported(). With `discard`: end the session instead (Clean Start), answer exported(null). */
  | { type: 'export'; id: string; clientId: string; discard: boolean }
  /** Hand over: drop the session (store, routes); answer handedOver(what arrived since the
   * export), or handoverFailed() when the export is no longer there. */
  | { type: 'handover'; id: string; clientId: string }
  /** Take the session back, with what arrived meanwhile; it stays offline. */
  | { type: 'resume'; id: string; clientId: string };

export type TakeoverPhase = 'claiming' | 'beginning' | 'installing' | 'ending' | 'inDoubt' | 'done' | 'failed';

/** B's side of one takeover: a CONNECT for `clientId` whose id is owned by `owner`. */
export class Takeover<S, D> {
  private phaseNow: TakeoverPhase = 'claiming';
  private holder: NodeName | null = null;
  private deadline: number;
  private lastSent: number;
  private request: TakeoverMessage<S, D>;

  constructor(
    readonly id: string,
    readonly clientId: string,
    readonly self: NodeName,
    readonly owner: NodeName,
    readonly cleanStart: boolean,
    private readonly timings: TakeoverTimings,
    now: number,
    out: TakeoverEffect<S, D>[],
  ) {
    this.deadline = now + timings.stepMs;
    this.lastSent = now;
    this.request = { kind: 'claim', id, clientId, from: self };
    out.push({ type: 'send', to: owner, message: this.request });
  }

  get phase(): TakeoverPhase {
    return this.phaseNow;
  }

  /** The earliest time tick() has something to do, or null when finished. */
  nextDeadline(): number | null {
    if (this.phaseNow === 'done' || this.phaseNow === 'failed') return null;
    if (this.phaseNow === 'installing') return this.deadline;
    if (this.phaseNow === 'inDoubt') return Math.min(this.deadline, this.lastSent + this.timings.retryMs);
    return Math.min(this.deadline, this.lastSent + this.timings.retryMs);
  }

  /** A message for this takeover (same id); anything not expected now is a late duplicate. */
  receive(m: TakeoverMessage<S, D>, now: number, out: TakeoverEffect<S, D>[]): void {
    if (m.id !== this.id) return;
    if (m.kind === 'claimed' && this.phaseNow === 'claiming') {
      if (!m.granted) return this.fail(out, 'the client id is being taken over by another connection', null);
      if (m.holder === null || m.holder === this.self) {
        // No session elsewhere: the ordinary local CONNECT (a same-node takeover, if any).
        out.push({ type: 'connectLocal', clientId: this.clientId });
        return this.finish('done', this.self, out, now);
      }
      this.holder = m.holder;
      this.ask('beginning', { kind: 'begin', id: this.id, clientId: this.clientId, from: this.self, cleanStart: this.cleanStart }, now, out);
      return;
    }
    if (m.kind === 'exported' && this.phaseNow === 'beginning') {
      if (m.busy) return this.fail(out, `node ${this.holder} is already handing this session over`, null);
      if (m.session === null) {
        out.push({ type: 'connectLocal', clientId: this.clientId });
        return this.finish('done', this.self, out, now);
      }
      this.phaseNow = 'installing';
      this.deadline = now + this.timings.stepMs;
      out.push({ type: 'install', clientId: this.clientId, session: m.session });
      return;
    }
    if (m.kind === 'ended' && (this.phaseNow === 'ending' || this.phaseNow === 'inDoubt')) {
      const inDoubt = this.phaseNow === 'inDoubt';
      if (m.outcome === 'aborted') {
        out.push({ type: 'uninstall', clientId: this.clientId });
        if (!inDoubt) this.refuse(out, `node ${this.holder} kept the session (it gave up waiting)`);
        return this.finish('failed', this.holder, out);
      }
      out.push({ type: 'deliver', clientId: this.clientId, buffered: m.buffered });
      // In doubt, the CONNECT was refused already: the session stays here, offline, for the retry.
      if (!inDoubt) out.push({ type: 'accept', clientId: this.clientId });
      out.push({ type: 'log', event: 'cluster.takeover.done', clientId: this.clientId, detail: `session moved from ${this.holder}${inDoubt ? ' (after the CONNECT was refused)' : ''}` });
      return this.finish('done', this.self, out, now);
    }
  }

  /** Granted, but the node holding the session is down (the shell knows membership): refuse
   * without asking it; the release frees the id, the location stays. */
  refuseUnavailable(detail: string, out: TakeoverEffect<S, D>[]): void {
    if (this.phaseNow !== 'claiming') return;
    this.fail(out, detail, null);
  }

  /** The shell could not install the session (a live session of the id is here): A keeps it. */
  installFailed(detail: string, out: TakeoverEffect<S, D>[]): void {
    if (this.phaseNow !== 'installing') return;
    this.fail(out, `the local install failed: ${detail}`, this.holder);
  }

  /** The shell installed the exported session (stored, routes added). */
  installed(now: number, out: TakeoverEffect<S, D>[]): void {
    if (this.phaseNow !== 'installing') return;
    this.ask('ending', { kind: 'end', id: this.id, clientId: this.clientId, from: this.self }, now, out);
  }

  /** Timeouts and resends due at `now`. */
  tick(now: number, out: TakeoverEffect<S, D>[]): void {
    const phase = this.phaseNow;
    if (phase === 'done' || phase === 'failed') return;
    if (phase === 'inDoubt' && now >= this.deadline) {
      // A forgets its decision decisionTtlMs after making it (no earlier than one step before
      // this copy went in doubt); asked after that, it would answer aborted for a session it did
      // hand over. Stop before then and keep the copy: two offline copies beat a lost one.
      out.push({ type: 'log', event: 'cluster.takeover.unresolved', clientId: this.clientId, detail: `node ${this.holder} never answered end; the installed copy is kept offline` });
      this.phaseNow = 'failed';
      return;
    }
    if (now >= this.deadline && phase !== 'inDoubt') {
      if (phase === 'ending') {
        // A may have decided either way: keep the copy offline and keep asking (see the top).
        this.phaseNow = 'inDoubt';
        this.deadline = now + Math.max(0, this.timings.decisionTtlMs - 2 * this.timings.stepMs);
        this.refuse(out, `no answer from node ${this.holder} to end within ${this.timings.stepMs} ms`);
        out.push({ type: 'log', event: 'cluster.takeover.in_doubt', clientId: this.clientId, detail: `node ${this.holder} did not answer end; asking until it does` });
      } else {
        const step = phase === 'claiming' ? `claim from node ${this.owner}` : phase === 'beginning' ? `begin from node ${this.holder}` : 'local install';
        if (phase === 'installing') out.push({ type: 'uninstall', clientId: this.clientId });
        return this.fail(out, `no answer to ${step} within ${this.timings.stepMs} ms`, phase === 'claiming' ? null : this.holder);
      }
    }
    if (this.phaseNow !== 'installing' && now >= this.lastSent + this.timings.retryMs) {
      this.lastSent = now;
      out.push({ type: 'send', to: this.phaseNow === 'claiming' ? this.owner : this.holder!, message: this.request });
    }
  }

  private ask(phase: TakeoverPhase, request: TakeoverMessage<S, D>, now: number, out: TakeoverEffect<S, D>[]): void {
    this.phaseNow = phase;
    this.deadline = now + this.timings.stepMs;
    this.lastSent = now;
    this.request = request;
    out.push({ type: 'send', to: this.holder!, message: request });
  }

  /** Fails before A's decision: A keeps (or takes back) the session. */
  private fail(out: TakeoverEffect<S, D>[], why: string, abortAt: NodeName | null): void {
    if (abortAt !== null) out.push({ type: 'send', to: abortAt, message: { kind: 'abort', id: this.id, clientId: this.clientId, from: this.self } });
    this.refuse(out, why);
    this.finish('failed', this.holder, out);
  }

  private refuse(out: TakeoverEffect<S, D>[], why: string): void {
    out.push({ type: 'refuse', clientId: this.clientId, reasonCode: ReasonCode.ServerBusy, detail: `takeover failed: ${why}; retry the CONNECT` });
    out.push({ type: 'log', event: 'cluster.takeover.failed', clientId: this.clientId, detail: why });
  }

  /** `since`: when the session arrived here (a success), 0 otherwise. */
  private finish(phase: 'done' | 'failed', location: NodeName | null, out: TakeoverEffect<S, D>[], since = 0): void {
    this.phaseNow = phase;
    // A failure before the claim was granted holds no lock: the release is then ignored by O.
    out.push({ type: 'send', to: this.owner, message: { kind: 'release', id: this.id, clientId: this.clientId, from: this.self, location, since } });
  }
}

interface HolderEntry<D> {
  id: string;
  from: NodeName;
  state: 'exporting' | 'begun' | 'handingOver' | 'ended' | 'aborted';
  /** Hold deadline while exporting/begun; forget time once decided. */
  until: number;
  cleanStart: boolean;
  /** The answer to a repeated begin/end. */
  reply: TakeoverMessage<unknown, D> | null;
}

/** A's side: every takeover of a session that lives here, by client id. */
export class TakeoverHolder<S, D> {
  private readonly entries = new Map<string, HolderEntry<D>>();

  constructor(
    readonly self: NodeName,
    private readonly timings: TakeoverTimings,
  ) {}

  /** Whether deliveries for `clientId` must be buffered (a takeover is between export and decision). */
  exporting(clientId: string): boolean {
    const e = this.entries.get(clientId);
    return e !== undefined && (e.state === 'exporting' || e.state === 'begun' || e.state === 'handingOver');
  }

  receive(m: TakeoverMessage<S, D>, now: number, out: HolderEffect<S, D>[]): void {
    if (m.kind !== 'begin' && m.kind !== 'end' && m.kind !== 'abort') return;
    const e = this.entries.get(m.clientId);
    if (m.kind === 'begin') {
      if (e !== undefined && e.id === m.id) {
        if (e.reply !== null && e.reply.kind === 'exported') out.push({ type: 'send', to: m.from, message: e.reply as TakeoverMessage<S, D> });
        return; // a resend while exporting: the answer is on its way
      }
      if (e !== undefined && (e.state === 'exporting' || e.state === 'begun' || e.state === 'handingOver')) {
        // Another takeover of this id is under way (the owner's lock expired, or ownership moved).
        out.push({ type: 'send', to: m.from, message: { kind: 'exported', id: m.id, clientId: m.clientId, session: null, busy: true } });
        return;
      }
      this.entries.set(m.clientId, { id: m.id, from: m.from, state: 'exporting', until: now + this.timings.holdMs, cleanStart: m.cleanStart, reply: null });
      out.push({ type: 'export', id: m.id, clientId: m.clientId, discard: m.cleanStart });
      return;
    }
    if (e === undefined || e.id !== m.id) {
      // Nothing remembered (never begun here, or forgotten): nothing was handed over, so `end`
      // and `abort` find the session still here, if it exists. Aborted is the true answer.
      if (m.kind === 'end') out.push({ type: 'send', to: m.from, message: { kind: 'ended', id: m.id, clientId: m.clientId, outcome: 'aborted', buffered: [] } });
      return;
    }
    if (m.kind === 'abort') {
      if (e.state === 'exporting' || e.state === 'begun') this.takeBack(m.clientId, e, now, out, `node ${m.from} gave up`);
      return;
    }
    // end
    if (e.state === 'begun') {
      e.state = 'handingOver';
      out.push({ type: 'handover', id: e.id, clientId: m.clientId });
    } else if (e.state === 'ended' || e.state === 'aborted') {
      out.push({ type: 'send', to: m.from, message: e.reply as TakeoverMessage<S, D> });
    }
    // exporting: B cannot have the session yet (a forged or misrouted end); handingOver: answer on its way.
  }

  /** The shell exported the session (null: there was none, or it was discarded for a Clean Start). */
  exported(clientId: string, id: string, session: S | null, now: number, out: HolderEffect<S, D>[]): void {
    const e = this.entries.get(clientId);
    if (e === undefined || e.id !== id || e.state !== 'exporting') return;
    const reply: TakeoverMessage<S, D> = { kind: 'exported', id, clientId, session, busy: false };
    out.push({ type: 'send', to: e.from, message: reply });
    if (session === null) {
      // Nothing to hand over: nothing to decide later either.
      e.state = 'ended';
      e.until = now + this.timings.decisionTtlMs;
      e.reply = reply as TakeoverMessage<unknown, D>;
      return;
    }
    e.state = 'begun';
    e.reply = reply as TakeoverMessage<unknown, D>;
  }

  /** The shell dropped its copy; `buffered`: what arrived since the export, in order. */
  handedOver(clientId: string, id: string, buffered: D[], now: number, out: HolderEffect<S, D>[]): void {
    const e = this.entries.get(clientId);
    if (e === undefined || e.id !== id || e.state !== 'handingOver') return;
    e.state = 'ended';
    e.until = now + this.timings.decisionTtlMs;
    e.reply = { kind: 'ended', id, clientId, outcome: 'ended', buffered };
    out.push({ type: 'send', to: e.from, message: e.reply as TakeoverMessage<S, D> });
    out.push({ type: 'log', event: 'cluster.takeover.handed_over', clientId, detail: `session handed over to node ${e.from} with ${buffered.length} buffered deliveries` });
  }

  /** The shell could not hand over (it lost the export, e.g. its shard restarted): keep the session. */
  handoverFailed(clientId: string, id: string, now: number, out: HolderEffect<S, D>[]): void {
    const e = this.entries.get(clientId);
    if (e === undefined || e.id !== id || e.state !== 'handingOver') return;
    this.takeBack(clientId, e, now, out, 'the export was lost here before the handover');
    if (e.reply !== null) out.push({ type: 'send', to: e.from, message: e.reply as TakeoverMessage<S, D> });
  }

  /** Takes sessions back whose `end` did not come in time; forgets old decisions. */
  tick(now: number, out: HolderEffect<S, D>[]): void {
    for (const [clientId, e] of this.entries) {
      if (now < e.until) continue;
      if (e.state === 'exporting' || e.state === 'begun') this.takeBack(clientId, e, now, out, `no end from node ${e.from} within ${this.timings.holdMs} ms`);
      else if (e.state === 'ended' || e.state === 'aborted') this.entries.delete(clientId);
    }
  }

  nextDeadline(): number | null {
    let at: number | null = null;
    for (const e of this.entries.values()) if (e.state !== 'handingOver' && (at === null || e.until < at)) at = e.until;
    return at;
  }

  private takeBack(clientId: string, e: HolderEntry<D>, now: number, out: HolderEffect<S, D>[], why: string): void {
    e.state = 'aborted';
    e.until = now + this.timings.decisionTtlMs;
    e.reply = { kind: 'ended', id: e.id, clientId, outcome: 'aborted', buffered: [] };
    out.push({ type: 'resume', id: e.id, clientId });
    out.push({ type: 'log', event: 'cluster.takeover.aborted', clientId, detail: `session kept: ${why}` });
  }
}

/** Claims that wait for one client id's lock at most; more are refused (the client retries). */
export const MAX_WAITING_CLAIMS = 16;

interface ClaimLock {
  id: string;
  until: number;
  /** Claims that came while the lock was held, in arrival order: each is granted in turn. */
  waiting: { id: string; from: NodeName }[];
}

/**
 * O's side: one claim lock per client id and where its session lives. A claim that finds the
 * lock held waits for it (up to MAX_WAITING_CLAIMS per id) rather than being refused: two
 * CONNECTs racing on two nodes then end as on one node, the later one taking the session over
 * from the earlier, whose client gets 0x8E [MQTT-3.1.4-3]. Its claimant gives up after its step
 * time, sending release, which takes it out of the queue.
 */
export class ClaimRegistry {
  private readonly locks = new Map<string, ClaimLock>();
  /** Where each session lives and since when (ms; a release counts at its arrival here). */
  private readonly locations = new Map<string, { node: NodeName; since: number }>();

  constructor(private readonly timings: TakeoverTimings) {}

  receive<S, D>(m: TakeoverMessage<S, D>, now: number, out: Send<S, D>[]): void {
    if (m.kind === 'claim') {
      let lock = this.locks.get(m.clientId);
      // A lease that ran out frees the lock: its claimant died or lost its release.
      if (lock !== undefined && lock.until <= now && lock.id !== m.id) {
        lock = this.grantNext(m.clientId, lock, now, out);
        if (lock?.id === m.id) return; // this claim waited and is granted now
      }
      if (lock === undefined) {
        this.locks.set(m.clientId, { id: m.id, until: now + this.timings.leaseMs, waiting: [] });
        out.push(this.claimed(m.id, m.clientId, m.from, true));
        return;
      }
      if (lock.id === m.id) {
        out.push(this.claimed(m.id, m.clientId, m.from, true)); // a resend: its answer was lost
        return;
      }
      if (lock.waiting.some((w) => w.id === m.id)) return; // a resend while waiting
      if (lock.waiting.length >= MAX_WAITING_CLAIMS) {
        out.push(this.claimed(m.id, m.clientId, m.from, false));
        return;
      }
      lock.waiting.push({ id: m.id, from: m.from });
      return;
    }
    if (m.kind === 'release') this.release(m, now, out);
  }

  /**
   * A claimant's release: frees its lock (or its place in the queue) and says where the session
   * lives; answered `released` ('done') so the claimant stops resending it. Returns 'unlocked',
   * unanswered, for a release that holds nothing here (its lock ran out, or this owner restarted
   * or took the id over meanwhile, or a late duplicate): the shell registers a success as a
   * registration (the later one wins) and answers, so a release that outlived its lock still
   * tells the owner where the session lives. Returns 'wait' (unanswered: the claimant resends)
   * while another claim holds the id, whose own release is about to say where it lives.
   */
  release<S, D>(m: Extract<TakeoverMessage<S, D>, { kind: 'release' }>, now: number, out: Send<S, D>[]): 'done' | 'unlocked' | 'wait' {
    const lock = this.locks.get(m.clientId);
    if (lock !== undefined && lock.id === m.id) {
      // A failed takeover names the old holder ("unchanged"): its time is not that session's.
      if (m.location !== null && (this.locations.get(m.clientId)?.node !== m.location || m.location === m.from)) this.locations.set(m.clientId, { node: m.location, since: m.since });
      this.grantNext(m.clientId, lock, now, out);
      out.push(this.released(m));
      return 'done';
    }
    const i = lock === undefined ? -1 : lock.waiting.findIndex((w) => w.id === m.id);
    if (i >= 0) {
      // A waiting claimant that gave up.
      lock!.waiting.splice(i, 1);
      out.push(this.released(m));
      return 'done';
    }
    return this.locked(m.clientId, now) ? 'wait' : 'unlocked';
  }

  /** The answer to `m`: it arrived. */
  released<S, D>(m: Extract<TakeoverMessage<S, D>, { kind: 'release' }>): Send<S, D> {
    return { type: 'send', to: m.from, message: { kind: 'released', id: m.id, clientId: m.clientId } };
  }

  /** Where the session of `clientId` lives as far as this owner knows. */
  location(clientId: string): NodeName | null {
    return this.locations.get(clientId)?.node ?? null;
  }

  /**
   * Records that `node` holds the session of `clientId` since `since` (a node re-registering its
   * sessions after ownership moved, or after a partition healed). When another live node is
   * registered for it, the later arrival wins (equal times: the greater name) and the loser is
   * returned, to be told to end its copy; null when there is no conflict.
   */
  register(clientId: string, node: NodeName, since: number, live: (node: NodeName) => boolean): { node: NodeName; since: number } | null {
    const current = this.locations.get(clientId);
    if (current === undefined || current.node === node || !live(current.node)) {
      this.locations.set(clientId, { node, since });
      return null;
    }
    if (since > current.since || (since === current.since && node > current.node)) {
      this.locations.set(clientId, { node, since });
      return current;
    }
    return { node, since };
  }

  /**
   * Forgets where `clientId` lives if that is `node` (its session ended there). Not while a claim
   * holds the id: the claimant's release is about to say where it lives now.
   */
  unregister(clientId: string, node: NodeName, now: number): void {
    if (this.locations.get(clientId)?.node === node && !this.locked(clientId, now)) this.locations.delete(clientId);
  }

  /** Forgets every location for which `keep` says no (ids this node no longer owns). */
  retain(keep: (clientId: string) => boolean): void {
    for (const clientId of this.locations.keys()) if (!keep(clientId)) this.locations.delete(clientId);
  }

  /** How many locations this owner holds. */
  get size(): number {
    return this.locations.size;
  }

  /** Whether a claim holds or waits for the lock of `clientId` now. */
  locked(clientId: string, now: number): boolean {
    const lock = this.locks.get(clientId);
    return lock !== undefined && (lock.until > now || lock.waiting.length > 0);
  }

  /** Passes the lock of `clientId` to its next waiting claim, or frees it; returns the lock after. */
  private grantNext<S, D>(clientId: string, lock: ClaimLock, now: number, out: Send<S, D>[]): ClaimLock | undefined {
    const next = lock.waiting.shift();
    if (next === undefined) {
      this.locks.delete(clientId);
      return undefined;
    }
    lock.id = next.id;
    lock.until = now + this.timings.leaseMs;
    out.push(this.claimed(next.id, clientId, next.from, true));
    return lock;
  }

  private claimed<S, D>(id: string, clientId: string, to: NodeName, granted: boolean): Send<S, D> {
    return { type: 'send', to, message: { kind: 'claimed', id, clientId, granted, holder: this.location(clientId) } };
  }
}
