// The takeover machines (src/cluster/takeover.ts) against each other: node B takes over a client
// id whose session may live on node A, the claim registry on the owner O, over a network
// that delays, reorders, duplicates and drops every message, while the shells' local steps
// (export, install, handover) finish at random moments and new deliveries keep arriving for the
// session. Model shells stand in for the shard: A's session is a queue of delivery ids, B installs
// a copy. Checked at every step: never two live sessions (A's connection open and B's accepted).
// After the faults stop (every message then arrives, time moves on): both sides settle, and
// - success: the session is on B only, its queue the original one plus every delivery accepted
//   meanwhile, each exactly once and in arrival order (the state moved exactly once);
// - failure: the session is on A only, the same queue (a failed takeover leaves it intact), and B
//   keeps no copy;
// - Clean Start: the old session is gone and B runs a fresh one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ClaimRegistry,
  Takeover,
  TakeoverHolder,
  type HolderEffect,
  type Send,
  type TakeoverEffect,
  type TakeoverMessage,
  type TakeoverTimings,
} from '../../src/cluster/takeover.js';
import { propertyParams } from './harness.js';

type S = { queue: number[] };
type D = number;
type Msg = TakeoverMessage<S, D>;

const T: TakeoverTimings = { stepMs: 100, retryMs: 20, holdMs: 200, decisionTtlMs: 1e9, leaseMs: 1000 };
const C = 'client';

type Step =
  | { t: 'net'; i: number; dup: boolean }
  | { t: 'drop'; i: number }
  /** Everything in flight lost (a short partition). */
  | { t: 'cut' }
  | { t: 'advance'; ms: number }
  | { t: 'local'; i: number }
  | { t: 'arrival' };

/** Steps under a fault mix drawn per run: some runs lose many messages or let much time pass
 * (timeouts, the in-doubt path), others few (the takeover completes). */
const stepsArb: fc.Arbitrary<Step[]> = fc
  .record({ drop: fc.integer({ min: 0, max: 4 }), advance: fc.integer({ min: 1, max: 4 }), maxMs: fc.constantFrom(30, 80, 150) })
  .chain(({ drop, advance, maxMs }) =>
    fc.array(
      fc.oneof(
        { weight: 5, arbitrary: fc.record({ t: fc.constant('net' as const), i: fc.nat(), dup: fc.boolean() }) },
        { weight: drop, arbitrary: fc.record({ t: fc.constant('drop' as const), i: fc.nat() }) },
        { weight: drop, arbitrary: fc.constant({ t: 'cut' as const }) },
        { weight: advance, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: maxMs }) }) },
        { weight: 3, arbitrary: fc.record({ t: fc.constant('local' as const), i: fc.nat() }) },
        { weight: 2, arbitrary: fc.constant({ t: 'arrival' as const }) },
      ) as fc.Arbitrary<Step>,
      { maxLength: 120 },
    ),
  );

const scenarioArb = fc.record({
  /** Where the session lives before: on A (online or offline) or nowhere. */
  session: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('online', 'offline') }, { weight: 1, arbitrary: fc.constant('none') }),
  cleanStart: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  queue: fc.array(fc.integer({ min: 1000, max: 2000 }), { maxLength: 4 }),
  /** A's shard loses the export before the handover (it restarted): the handover fails. */
  lostExport: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  steps: stepsArb,
});

/** With nothing lost: claim, claimed, begin, export, exported, install, end, handover. */
const UP_TO_ENDED: Step[] = [
  { t: 'net', i: 0, dup: false },
  { t: 'net', i: 0, dup: false },
  { t: 'net', i: 0, dup: false },
  { t: 'local', i: 0 },
  { t: 'net', i: 0, dup: false },
  { t: 'local', i: 0 },
  { t: 'arrival' },
  { t: 'net', i: 0, dup: false },
  { t: 'local', i: 0 },
];

class World {
  now = 0;
  readonly inFlight: { to: string; message: Msg }[] = [];
  /** Local steps the shells have yet to finish. */
  readonly pending: (() => void)[] = [];
  readonly registry = new ClaimRegistry(T);
  readonly holder = new TakeoverHolder<S, D>('A', T);
  readonly takeover: Takeover<S, D>;
  // A's shell
  aSession: S | null;
  aConnected: boolean;
  aBuffer: number[] | null = null;
  // B's shell
  bInstalled: S | null = null;
  bDirect: number[] = [];
  bLive = false;
  bLocal = false;
  bRefused = 0;
  /** Deliveries some session took (the rest found none: no route, so not routed). */
  readonly accepted: number[] = [];
  private nextDelivery = 1;

  constructor(readonly sc: { session: string; cleanStart: boolean; queue: number[]; lostExport: boolean }) {
    this.aSession = sc.session === 'none' ? null : { queue: [...sc.queue] };
    this.aConnected = sc.session === 'online';
    if (this.aSession !== null) this.registry.register(C, 'A', 0, () => true);
    const out: TakeoverEffect<S, D>[] = [];
    this.takeover = new Takeover<S, D>('B/1/1', C, 'B', 'O', sc.cleanStart, T, 0, out);
    this.runB(out);
  }

  check(): void {
    assert.ok(!(this.aConnected && this.bLive), 'two live sessions');
    assert.ok(this.bRefused <= 1, 'the CONNECT refused twice');
    assert.ok(!(this.bLive && this.bRefused > 0), 'accepted and refused');
  }

  step(s: Step): void {
    switch (s.t) {
      case 'net': {
        if (this.inFlight.length === 0) return;
        const i = s.i % this.inFlight.length;
        const m = this.inFlight[i]!;
        if (!s.dup) this.inFlight.splice(i, 1);
        this.receive(m.to, m.message);
        break;
      }
      case 'drop':
        if (this.inFlight.length > 0) this.inFlight.splice(s.i % this.inFlight.length, 1);
        break;
      case 'cut':
        this.inFlight.length = 0;
        break;
      case 'advance':
        this.now += s.ms;
        this.tick();
        break;
      case 'local': {
        if (this.pending.length === 0) return;
        const [run] = this.pending.splice(s.i % this.pending.length, 1);
        run!();
        break;
      }
      case 'arrival':
        this.arrive();
        break;
    }
    this.check();
  }

  /** No more faults: everything arrives, local steps finish, time moves on, until all settle. */
  settle(): void {
    for (let round = 0; round < 200; round++) {
      while (this.pending.length > 0 || this.inFlight.length > 0) {
        while (this.pending.length > 0) this.pending.shift()!();
        const m = this.inFlight.shift();
        if (m !== undefined) this.receive(m.to, m.message);
        this.check();
      }
      const tDone = this.takeover.nextDeadline() === null;
      const hDeadline = this.holder.nextDeadline();
      if (tDone && !this.holder.exporting(C)) return;
      this.now = Math.max(this.now + 1, Math.min(this.takeover.nextDeadline() ?? Infinity, hDeadline ?? Infinity));
      this.tick();
      this.check();
    }
    assert.fail(`did not settle: B ${this.takeover.phase}, A exporting ${this.holder.exporting(C)}`);
  }

  private arrive(): void {
    const d = this.nextDelivery++;
    // A's routes match until it drops the session; B's installed copy gets what comes after.
    if (this.aBuffer !== null) this.aBuffer.push(d);
    else if (this.aSession !== null) this.aSession.queue.push(d);
    else if (this.bInstalled !== null) this.bDirect.push(d);
    else if (this.bLocal) return; // a fresh session: not part of what the checks follow
    else return; // no session anywhere: no route, nothing accepted
    this.accepted.push(d);
  }

  private tick(): void {
    const out: TakeoverEffect<S, D>[] = [];
    this.takeover.tick(this.now, out);
    this.runB(out);
    const hout: HolderEffect<S, D>[] = [];
    this.holder.tick(this.now, hout);
    this.runA(hout);
  }

  private receive(to: string, message: Msg): void {
    if (to === 'O') {
      const out: Send<S, D>[] = [];
      this.registry.receive(message, this.now, out);
      for (const e of out) this.inFlight.push({ to: e.to, message: e.message });
    } else if (to === 'A') {
      const out: HolderEffect<S, D>[] = [];
      this.holder.receive(message, this.now, out);
      this.runA(out);
    } else if (to === 'B') {
      const out: TakeoverEffect<S, D>[] = [];
      this.takeover.receive(message, this.now, out);
      this.runB(out);
    }
  }

  private runA(out: HolderEffect<S, D>[]): void {
    for (const e of out) {
      switch (e.type) {
        case 'send':
          this.inFlight.push({ to: e.to, message: structuredClone(e.message) });
          break;
        case 'export':
          this.pending.push(() => {
            // Taken back before the export ran: nothing to do (the shard checks the same).
            if (!this.holder.exporting(C)) return;
            const hout: HolderEffect<S, D>[] = [];
            this.aConnected = false; // closed with 0x8E, whatever follows
            if (e.discard || this.aSession === null) {
              this.aSession = null;
              this.holder.exported(C, e.id, null, this.now, hout);
            } else {
              this.aBuffer = [];
              this.holder.exported(C, e.id, structuredClone(this.aSession), this.now, hout);
            }
            this.runA(hout);
          });
          break;
        case 'handover':
          this.pending.push(() => {
            if (this.sc.lostExport) {
              // What arrived stays queued in the session (durably, in the shard).
              if (this.aBuffer !== null) this.aSession!.queue.push(...this.aBuffer);
              this.aBuffer = null;
              const hout: HolderEffect<S, D>[] = [];
              this.holder.handoverFailed(C, e.id, this.now, hout);
              this.runA(hout);
              return;
            }
            const buffered = this.aBuffer ?? [];
            this.aBuffer = null;
            this.aSession = null;
            const hout: HolderEffect<S, D>[] = [];
            this.holder.handedOver(C, e.id, buffered, this.now, hout);
            this.runA(hout);
          });
          break;
        case 'resume':
          if (this.aBuffer !== null && this.aSession !== null) this.aSession.queue.push(...this.aBuffer);
          this.aBuffer = null;
          break;
        case 'log':
          break;
      }
    }
  }

  private runB(out: TakeoverEffect<S, D>[]): void {
    for (const e of out) {
      switch (e.type) {
        case 'send':
          this.inFlight.push({ to: e.to, message: structuredClone(e.message) });
          break;
        case 'install':
          this.pending.push(() => {
            if (this.takeover.phase !== 'installing') return; // timed out meanwhile
            this.bInstalled = structuredClone(e.session);
            const bout: TakeoverEffect<S, D>[] = [];
            this.takeover.installed(this.now, bout);
            this.runB(bout);
          });
          break;
        case 'uninstall':
          assert.deepEqual(this.bDirect, [], 'a copy dropped after it took deliveries of its own');
          this.bInstalled = null;
          break;
        case 'deliver':
          assert.ok(this.bInstalled !== null, 'deliver without an installed copy');
          this.bInstalled.queue.push(...e.buffered, ...this.bDirect);
          this.bDirect = [];
          break;
        case 'accept':
          assert.ok(this.bInstalled !== null, 'accept without an installed copy');
          this.bLive = true;
          break;
        case 'connectLocal':
          this.bLocal = true;
          this.bLive = true;
          break;
        case 'refuse':
          this.bRefused++;
          break;
        case 'log':
          break;
      }
    }
  }
}

describe('takeover between two nodes over a faulty network (model)', () => {
  it('never two live sessions; a failed takeover leaves the old intact; a successful one moves it exactly once', () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const w = new World(sc);
        for (const s of sc.steps) w.step(s);
        w.settle();
        const expected = [...sc.queue, ...w.accepted];
        assert.equal(w.aBuffer, null, 'A still buffering');
        assert.ok(w.aSession === null || w.bInstalled === null, 'the session on both nodes');
        const phase = w.takeover.phase;
        let outcome: string;
        if (sc.session === 'none' || sc.cleanStart) {
          outcome = phase === 'done' ? 'fresh' : 'refused';
          assert.equal(w.bInstalled, null);
          if (phase === 'done') assert.equal(w.aSession, null, 'the old session survived a Clean Start or a fresh one');
          if (sc.session !== 'none' && w.aSession !== null) assert.deepEqual(w.aSession.queue, expected, 'an old session kept must be intact');
        } else if (phase === 'done') {
          outcome = w.bLive ? 'moved' : 'moved-after-refuse';
          assert.equal(w.bLocal, false);
          assert.equal(w.aSession, null, 'moved, yet still on A');
          assert.deepEqual(w.bInstalled?.queue, expected, 'moved state differs from the original plus what arrived, once each, in order');
        } else {
          outcome = 'kept';
          assert.equal(phase, 'failed');
          assert.equal(w.bInstalled, null, 'B kept a copy of a session A kept');
          assert.equal(w.bRefused, 1, 'a failed takeover must refuse the CONNECT');
          assert.deepEqual(w.aSession?.queue, expected, 'a failed takeover must leave the old session intact');
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }),
      {
        ...propertyParams(),
        numRuns: Math.max(propertyParams().numRuns, 500),
        // The paths random runs reach least often, spelled out: the `ended` answer lost until B's
        // deadline (moved after the CONNECT was refused), and `end` arriving after A took it back.
        examples: [
          [{ session: 'online', cleanStart: false, queue: [1000], lostExport: false, steps: [...UP_TO_ENDED, { t: 'arrival' }, { t: 'cut' }, { t: 'advance', ms: 100 }] }],
          [{ session: 'offline', cleanStart: false, queue: [], lostExport: false, steps: [...UP_TO_ENDED.slice(0, 7), { t: 'arrival' }, { t: 'cut' }, { t: 'advance', ms: 200 }, { t: 'advance', ms: 1 }] }],
        ],
      },
    );
    // The generator must reach each outcome, or the checks above prove little.
    console.log(JSON.stringify([...outcomes]));
    for (const o of ['fresh', 'refused', 'moved', 'moved-after-refuse', 'kept']) assert.ok((outcomes.get(o) ?? 0) > 0, `no run ended ${o}: ${JSON.stringify([...outcomes])}`);
  });
});
