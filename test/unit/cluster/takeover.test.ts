// Every transition and timeout of the takeover machines (src/cluster/takeover.ts), one role at a
// time; test/property/takeover.property.test.ts runs them against each other over a faulty network.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClaimRegistry,
  MAX_WAITING_CLAIMS,
  Takeover,
  TakeoverHolder,
  type HolderEffect,
  type Send,
  type TakeoverEffect,
  type TakeoverMessage,
  type TakeoverTimings,
} from '../../../src/cluster/takeover.js';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';

type S = { queue: string[] };
type D = string;
type Msg = TakeoverMessage<S, D>;

const T: TakeoverTimings = { stepMs: 100, retryMs: 30, holdMs: 200, decisionTtlMs: 1000, leaseMs: 500 };
const ID = 'B/1/1';
const C = 'client';

function sends(out: readonly (TakeoverEffect<S, D> | HolderEffect<S, D>)[]): Array<[string, Msg['kind'], Msg]> {
  return out.filter((e): e is Send<S, D> => e.type === 'send').map((e) => [e.to, e.message.kind, e.message]);
}
function kinds(out: readonly { type: string }[]): string[] {
  return out.filter((e) => e.type !== 'log').map((e) => (e.type === 'send' ? `send:${(e as Send<S, D>).message.kind}` : e.type));
}

function started(now = 0): { t: Takeover<S, D>; out: TakeoverEffect<S, D>[] } {
  const out: TakeoverEffect<S, D>[] = [];
  const t = new Takeover<S, D>(ID, C, 'B', 'O', false, T, now, out);
  return { t, out };
}
function claimed(t: Takeover<S, D>, holder: string | null, now: number, granted = true): TakeoverEffect<S, D>[] {
  const out: TakeoverEffect<S, D>[] = [];
  t.receive({ kind: 'claimed', id: ID, clientId: C, granted, holder }, now, out);
  return out;
}
/** B up to 'ending': claimed (holder A), exported, installed. */
function ending(now = 0): Takeover<S, D> {
  const { t } = started(now);
  claimed(t, 'A', now);
  t.receive({ kind: 'exported', id: ID, clientId: C, session: { queue: ['q'] }, busy: false }, now, []);
  t.installed(now, []);
  assert.equal(t.phase, 'ending');
  return t;
}
function release(out: readonly TakeoverEffect<S, D>[]): Msg | undefined {
  return sends(out).find(([, k]) => k === 'release')?.[2];
}

describe('Takeover (the new node)', () => {
  it('starts by claiming the client id from its owner', () => {
    const { t, out } = started();
    assert.deepEqual(sends(out), [['O', 'claim', { kind: 'claim', id: ID, clientId: C, from: 'B' }]]);
    assert.equal(t.phase, 'claiming');
    assert.equal(t.nextDeadline(), T.retryMs);
  });

  it('a refused claim refuses the CONNECT with 0x89 and releases nothing it holds', () => {
    const { t } = started();
    const out = claimed(t, 'A', 5, false);
    assert.deepEqual(kinds(out), ['refuse', 'send:release']);
    assert.equal((out[0] as { reasonCode: number }).reasonCode, ReasonCode.ServerBusy);
    assert.equal(t.phase, 'failed');
    assert.equal(t.nextDeadline(), null);
  });

  it('no session elsewhere (or here): the ordinary local CONNECT, and the id is registered here', () => {
    for (const holder of [null, 'B']) {
      const { t } = started();
      const out = claimed(t, holder, 5);
      assert.deepEqual(kinds(out), ['connectLocal', 'send:release']);
      assert.deepEqual(release(out), { kind: 'release', id: ID, clientId: C, from: 'B', location: 'B', since: 5 });
      assert.equal(t.phase, 'done');
    }
  });

  it('a session on another node: begin to it, then install what it exported, then end', () => {
    const { t } = started();
    const out = claimed(t, 'A', 5);
    assert.deepEqual(sends(out), [['A', 'begin', { kind: 'begin', id: ID, clientId: C, from: 'B', cleanStart: false }]]);
    assert.equal(t.phase, 'beginning');
    const out2: TakeoverEffect<S, D>[] = [];
    t.receive({ kind: 'exported', id: ID, clientId: C, session: { queue: ['q'] }, busy: false }, 10, out2);
    assert.deepEqual(out2, [{ type: 'install', clientId: C, session: { queue: ['q'] } }]);
    assert.equal(t.phase, 'installing');
    assert.equal(t.nextDeadline(), 110, 'no resend while installing, only the deadline');
    const out3: TakeoverEffect<S, D>[] = [];
    t.installed(20, out3);
    assert.deepEqual(sends(out3), [['A', 'end', { kind: 'end', id: ID, clientId: C, from: 'B' }]]);
  });

  it('ended: queue the buffer, accept the connection, register the id here', () => {
    const t = ending();
    const out: TakeoverEffect<S, D>[] = [];
    t.receive({ kind: 'ended', id: ID, clientId: C, outcome: 'ended', buffered: ['m1', 'm2'] }, 30, out);
    assert.deepEqual(kinds(out), ['deliver', 'accept', 'send:release']);
    assert.deepEqual(out[0], { type: 'deliver', clientId: C, buffered: ['m1', 'm2'] });
    assert.equal(release(out)!.kind === 'release' && (release(out) as { location: string }).location, 'B');
    assert.equal(t.phase, 'done');
    const late: TakeoverEffect<S, D>[] = [];
    t.receive({ kind: 'ended', id: ID, clientId: C, outcome: 'ended', buffered: ['m1', 'm2'] }, 31, late);
    t.tick(10_000, late);
    assert.deepEqual(late, [], 'a duplicate ended or a late tick does nothing');
  });

  it('ended with aborted (the old node kept it): remove the copy, refuse, the id stays there', () => {
    const t = ending();
    const out: TakeoverEffect<S, D>[] = [];
    t.receive({ kind: 'ended', id: ID, clientId: C, outcome: 'aborted', buffered: [] }, 30, out);
    assert.deepEqual(kinds(out), ['uninstall', 'refuse', 'send:release']);
    assert.equal((release(out) as { location: string }).location, 'A');
    assert.equal(t.phase, 'failed');
  });

  it('the old node is busy with another takeover: refuse', () => {
    const { t } = started();
    claimed(t, 'A', 0);
    const out: TakeoverEffect<S, D>[] = [];
    t.receive({ kind: 'exported', id: ID, clientId: C, session: null, busy: true }, 5, out);
    assert.deepEqual(kinds(out), ['refuse', 'send:release']);
  });

  it('exported nothing (no session there, or discarded for a Clean Start): the local CONNECT', () => {
    const { t } = started();
    claimed(t, 'A', 0);
    const out: TakeoverEffect<S, D>[] = [];
    t.receive({ kind: 'exported', id: ID, clientId: C, session: null, busy: false }, 5, out);
    assert.deepEqual(kinds(out), ['connectLocal', 'send:release']);
    assert.equal(t.phase, 'done');
  });

  it('ignores messages of another takeover and answers that do not fit the phase', () => {
    const { t } = started();
    const out: TakeoverEffect<S, D>[] = [];
    t.receive({ kind: 'claimed', id: 'other', clientId: C, granted: true, holder: null }, 1, out);
    t.receive({ kind: 'exported', id: ID, clientId: C, session: { queue: [] }, busy: false }, 1, out);
    t.receive({ kind: 'ended', id: ID, clientId: C, outcome: 'ended', buffered: [] }, 1, out);
    t.installed(1, out);
    assert.deepEqual(out, []);
    assert.equal(t.phase, 'claiming');
  });

  it('resends an unanswered claim, begin and end every retryMs', () => {
    const { t } = started();
    const out: TakeoverEffect<S, D>[] = [];
    t.tick(29, out);
    assert.deepEqual(out, []);
    t.tick(30, out);
    assert.deepEqual(sends(out).map(([to, k]) => `${to}:${k}`), ['O:claim']);
    claimed(t, 'A', 40);
    const out2: TakeoverEffect<S, D>[] = [];
    t.tick(70, out2);
    assert.deepEqual(sends(out2).map(([to, k]) => `${to}:${k}`), ['A:begin']);
  });

  it('claim timeout: refuse, nothing to abort', () => {
    const { t } = started();
    const out: TakeoverEffect<S, D>[] = [];
    t.tick(100, out);
    assert.deepEqual(kinds(out), ['refuse', 'send:release']);
    assert.equal(t.phase, 'failed');
  });

  it('begin timeout: abort at the old node (it takes the session back), refuse', () => {
    const { t } = started();
    claimed(t, 'A', 0);
    const out: TakeoverEffect<S, D>[] = [];
    t.tick(100, out);
    assert.deepEqual(kinds(out), ['send:abort', 'refuse', 'send:release']);
    assert.equal(sends(out)[0]![0], 'A');
  });

  it('install timeout: remove the copy, abort at the old node, refuse', () => {
    const { t } = started();
    claimed(t, 'A', 0);
    t.receive({ kind: 'exported', id: ID, clientId: C, session: { queue: [] }, busy: false }, 0, []);
    const out: TakeoverEffect<S, D>[] = [];
    t.tick(100, out);
    assert.deepEqual(kinds(out), ['uninstall', 'send:abort', 'refuse', 'send:release']);
    t.installed(101, out);
    assert.equal(kinds(out).length, 4, 'a late install finish is ignored');
  });

  it('end timeout: in doubt, refuse the CONNECT, keep asking; ended keeps the copy offline', () => {
    const t = ending(0);
    const out: TakeoverEffect<S, D>[] = [];
    t.tick(100, out);
    assert.deepEqual(kinds(out), ['refuse', 'send:end']);
    assert.equal(t.phase, 'inDoubt');
    assert.equal(t.nextDeadline(), 130);
    const out2: TakeoverEffect<S, D>[] = [];
    t.tick(130, out2);
    assert.deepEqual(kinds(out2), ['send:end']);
    const out3: TakeoverEffect<S, D>[] = [];
    t.receive({ kind: 'ended', id: ID, clientId: C, outcome: 'ended', buffered: ['m'] }, 140, out3);
    assert.deepEqual(kinds(out3), ['deliver', 'send:release'], 'no accept: the CONNECT was refused');
    assert.equal(t.phase, 'done');
  });

  it('end timeout, then aborted: the copy is removed, no second refuse', () => {
    const t = ending(0);
    t.tick(100, []);
    const out: TakeoverEffect<S, D>[] = [];
    t.receive({ kind: 'ended', id: ID, clientId: C, outcome: 'aborted', buffered: [] }, 140, out);
    assert.deepEqual(kinds(out), ['uninstall', 'send:release']);
    assert.equal(t.phase, 'failed');
  });
});

describe('TakeoverHolder (the old node)', () => {
  function begun(h: TakeoverHolder<S, D>, now = 0, cleanStart = false): HolderEffect<S, D>[] {
    const out: HolderEffect<S, D>[] = [];
    h.receive({ kind: 'begin', id: ID, clientId: C, from: 'B', cleanStart }, now, out);
    return out;
  }

  it('begin: export (close the connection, buffer), answer with the session', () => {
    const h = new TakeoverHolder<S, D>('A', T);
    assert.deepEqual(begun(h), [{ type: 'export', id: ID, clientId: C, discard: false }]);
    assert.equal(h.exporting(C), true);
    assert.deepEqual(begun(h, 1), [], 'a resend while exporting: the answer is on its way');
    const out: HolderEffect<S, D>[] = [];
    h.exported(C, ID, { queue: ['q'] }, 2, out);
    assert.deepEqual(sends(out), [['B', 'exported', { kind: 'exported', id: ID, clientId: C, session: { queue: ['q'] }, busy: false }]]);
    assert.deepEqual(sends(begun(h, 3)).map(([, k]) => k), ['exported'], 'a resent begin gets the same answer');
    assert.equal(h.exporting(C), true);
  });

  it('begin with Clean Start: discard, answer nothing to move, decided at once', () => {
    const h = new TakeoverHolder<S, D>('A', T);
    assert.deepEqual(begun(h, 0, true), [{ type: 'export', id: ID, clientId: C, discard: true }]);
    const out: HolderEffect<S, D>[] = [];
    h.exported(C, ID, null, 1, out);
    assert.equal((sends(out)[0]![2] as { session: unknown }).session, null);
    assert.equal(h.exporting(C), false);
    const tick: HolderEffect<S, D>[] = [];
    h.tick(500, tick);
    assert.deepEqual(tick, [], 'nothing to take back');
  });

  it('a second takeover while one is under way is told busy', () => {
    const h = new TakeoverHolder<S, D>('A', T);
    begun(h);
    const out: HolderEffect<S, D>[] = [];
    h.receive({ kind: 'begin', id: 'C/1/1', clientId: C, from: 'C', cleanStart: false }, 1, out);
    assert.deepEqual(sends(out), [['C', 'exported', { kind: 'exported', id: 'C/1/1', clientId: C, session: null, busy: true }]]);
  });

  it('end: hand over, answer ended with the buffer; a repeated end gets the same answer', () => {
    const h = new TakeoverHolder<S, D>('A', T);
    begun(h);
    h.exported(C, ID, { queue: [] }, 1, []);
    const out: HolderEffect<S, D>[] = [];
    h.receive({ kind: 'end', id: ID, clientId: C, from: 'B' }, 2, out);
    assert.deepEqual(out, [{ type: 'handover', id: ID, clientId: C }]);
    const again: HolderEffect<S, D>[] = [];
    h.receive({ kind: 'end', id: ID, clientId: C, from: 'B' }, 3, again);
    assert.deepEqual(again, [], 'answer on its way');
    const out2: HolderEffect<S, D>[] = [];
    h.handedOver(C, ID, ['m1'], 4, out2);
    const ended = { kind: 'ended', id: ID, clientId: C, outcome: 'ended', buffered: ['m1'] };
    assert.deepEqual(sends(out2), [['B', 'ended', ended]]);
    assert.equal(h.exporting(C), false);
    const out3: HolderEffect<S, D>[] = [];
    h.receive({ kind: 'end', id: ID, clientId: C, from: 'B' }, 5, out3);
    assert.deepEqual(sends(out3), [['B', 'ended', ended]]);
    const out4: HolderEffect<S, D>[] = [];
    h.tick(4 + T.decisionTtlMs, out4);
    assert.deepEqual(out4, []);
    assert.equal(h.nextDeadline(), null, 'the decision is forgotten after decisionTtlMs');
  });

  it('no end within holdMs: take the session back; a later end is answered aborted', () => {
    const h = new TakeoverHolder<S, D>('A', T);
    begun(h);
    h.exported(C, ID, { queue: [] }, 1, []);
    assert.equal(h.nextDeadline(), 200);
    const out: HolderEffect<S, D>[] = [];
    h.tick(199, out);
    assert.deepEqual(out, []);
    h.tick(200, out);
    assert.deepEqual(kinds(out), ['resume']);
    assert.equal(h.exporting(C), false);
    const out2: HolderEffect<S, D>[] = [];
    h.receive({ kind: 'end', id: ID, clientId: C, from: 'B' }, 201, out2);
    assert.deepEqual(sends(out2).map(([, k, m]) => [k, (m as { outcome: string }).outcome]), [['ended', 'aborted']]);
  });

  it('an export that never finishes is taken back too, and its late answer ignored', () => {
    const h = new TakeoverHolder<S, D>('A', T);
    begun(h);
    const out: HolderEffect<S, D>[] = [];
    h.tick(200, out);
    assert.deepEqual(kinds(out), ['resume']);
    const late: HolderEffect<S, D>[] = [];
    h.exported(C, ID, { queue: [] }, 201, late);
    assert.deepEqual(late, []);
  });

  it('abort from the new node: take the session back; after the handover an abort changes nothing', () => {
    const h = new TakeoverHolder<S, D>('A', T);
    begun(h);
    h.exported(C, ID, { queue: [] }, 1, []);
    const out: HolderEffect<S, D>[] = [];
    h.receive({ kind: 'abort', id: ID, clientId: C, from: 'B' }, 2, out);
    assert.deepEqual(kinds(out), ['resume']);
    const h2 = new TakeoverHolder<S, D>('A', T);
    begun(h2);
    h2.exported(C, ID, { queue: [] }, 1, []);
    h2.receive({ kind: 'end', id: ID, clientId: C, from: 'B' }, 2, []);
    h2.handedOver(C, ID, [], 3, []);
    const out2: HolderEffect<S, D>[] = [];
    h2.receive({ kind: 'abort', id: ID, clientId: C, from: 'B' }, 4, out2);
    assert.deepEqual(out2, []);
  });

  it('a handover the shell could not do takes the session back and answers aborted', () => {
    const h = new TakeoverHolder<S, D>('A', T);
    begun(h);
    h.exported(C, ID, { queue: [] }, 1, []);
    h.receive({ kind: 'end', id: ID, clientId: C, from: 'B' }, 2, []);
    const out: HolderEffect<S, D>[] = [];
    h.handoverFailed(C, ID, 3, out);
    assert.deepEqual(kinds(out), ['resume', 'send:ended']);
    assert.deepEqual(sends(out).map(([to, k, m]) => [to, k, (m as { outcome: string }).outcome]), [['B', 'ended', 'aborted']]);
    const late: HolderEffect<S, D>[] = [];
    h.handedOver(C, ID, [], 4, late);
    assert.deepEqual(late, [], 'decided: a late handover answer changes nothing');
  });

  it('an end for a takeover it does not know is answered aborted (nothing was handed over)', () => {
    const h = new TakeoverHolder<S, D>('A', T);
    const out: HolderEffect<S, D>[] = [];
    h.receive({ kind: 'end', id: ID, clientId: C, from: 'B' }, 0, out);
    assert.deepEqual(sends(out).map(([, k, m]) => [k, (m as { outcome: string }).outcome]), [['ended', 'aborted']]);
  });
});

describe('ClaimRegistry (the owner)', () => {
  function claim(r: ClaimRegistry, id: string, from: string, now: number): Msg {
    const out: Send<S, D>[] = [];
    r.receive<S, D>({ kind: 'claim', id, clientId: C, from }, now, out);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.to, from);
    return out[0]!.message;
  }

  function waits(r: ClaimRegistry, id: string, from: string, now: number): void {
    const out: Send<S, D>[] = [];
    r.receive<S, D>({ kind: 'claim', id, clientId: C, from }, now, out);
    assert.deepEqual(out, [], `claim ${id} waits`);
  }

  it('one claim at a time per id; a resent claim is granted again; a lease expires', () => {
    const r = new ClaimRegistry(T);
    assert.deepEqual(claim(r, 'b1', 'B', 0), { kind: 'claimed', id: 'b1', clientId: C, granted: true, holder: null });
    waits(r, 'c1', 'C', 1);
    waits(r, 'c1', 'C', 2);
    assert.equal((claim(r, 'b1', 'B', 2) as { granted: boolean }).granted, true);
    assert.equal((claim(r, 'c1', 'C', 2 + T.leaseMs) as { granted: boolean }).granted, true, 'the lease of b1 ran out: the waiting claim is next');
  });

  it('a waiting claim is granted when the holder releases, with the new location; one that gave up is skipped', () => {
    const r = new ClaimRegistry(T);
    claim(r, 'b1', 'B', 0);
    waits(r, 'c1', 'C', 1);
    waits(r, 'd1', 'D', 2);
    r.receive<S, D>({ kind: 'release', id: 'c1', clientId: C, from: 'C', location: null, since: 3 }, 3, []);
    const out: Send<S, D>[] = [];
    r.receive<S, D>({ kind: 'release', id: 'b1', clientId: C, from: 'B', location: 'B', since: 4 }, 4, out);
    assert.deepEqual(out, [
      { type: 'send', to: 'D', message: { kind: 'claimed', id: 'd1', clientId: C, granted: true, holder: 'B' } },
      { type: 'send', to: 'B', message: { kind: 'released', id: 'b1', clientId: C } },
    ]);
    assert.equal(r.locked(C, 5), true);
    r.receive<S, D>({ kind: 'release', id: 'd1', clientId: C, from: 'D', location: 'D', since: 5 }, 5, []);
    assert.equal(r.locked(C, 6), false);
    assert.equal(r.location(C), 'D');
  });

  it('refuses a claim when too many wait already', () => {
    const r = new ClaimRegistry(T);
    claim(r, 'b1', 'B', 0);
    for (let i = 0; i < MAX_WAITING_CLAIMS; i++) waits(r, `w${i}`, 'W', 1);
    assert.equal((claim(r, 'x1', 'X', 1) as { granted: boolean }).granted, false);
  });

  it('the lock holder releases and records where the session lives; others cannot', () => {
    const r = new ClaimRegistry(T);
    claim(r, 'b1', 'B', 0);
    r.receive<S, D>({ kind: 'release', id: 'c1', clientId: C, from: 'C', location: 'C', since: 1 }, 1, []);
    assert.equal(r.location(C), null);
    r.receive<S, D>({ kind: 'release', id: 'b1', clientId: C, from: 'B', location: 'B', since: 1 }, 1, []);
    assert.equal(r.location(C), 'B');
    assert.deepEqual(claim(r, 'c1', 'C', 2), { kind: 'claimed', id: 'c1', clientId: C, granted: true, holder: 'B' });
    r.receive<S, D>({ kind: 'release', id: 'c1', clientId: C, from: 'C', location: null, since: 3 }, 3, []);
    assert.equal(r.location(C), 'B', 'a failed takeover leaves the location');
    assert.equal(r.register(C, 'D', 10, () => false), null, 'B is down: no conflict');
    assert.equal(r.location(C), 'D');
  });

  it('two live registrations for one id: the later wins and the loser is named; an ended session is forgotten unless claimed', () => {
    const r = new ClaimRegistry(T);
    const live = (): boolean => true;
    assert.equal(r.register(C, 'A', 100, live), null);
    assert.equal(r.register(C, 'A', 150, live), null, 'the same node again');
    assert.deepEqual(r.register(C, 'B', 200, live), { node: 'A', since: 150 }, 'B connected later: A loses');
    assert.equal(r.location(C), 'B');
    assert.deepEqual(r.register(C, 'A', 120, live), { node: 'A', since: 120 }, 'a late registration of the older copy loses');
    assert.equal(r.location(C), 'B');
    assert.deepEqual(r.register(C, 'C', 200, live), { node: 'B', since: 200 }, 'equal times: the greater name wins');
    r.unregister(C, 'B', 300);
    assert.equal(r.location(C), 'C', 'only the node it lives on unregisters it');
    claim(r, 'x1', 'X', 300);
    r.unregister(C, 'C', 301);
    assert.equal(r.location(C), 'C', 'not while a claim holds the id');
    r.receive<S, D>({ kind: 'release', id: 'x1', clientId: C, from: 'X', location: null, since: 302 }, 302, []);
    r.unregister(C, 'C', 303);
    assert.equal(r.location(C), null);
  });
});

describe('Takeover in doubt for good', () => {
  it('stops asking before the old node forgets its decision, and keeps the copy', () => {
    const t = ending(0);
    t.tick(100, []);
    const stop = 100 + T.decisionTtlMs - 2 * T.stepMs;
    assert.ok(t.nextDeadline()! <= stop);
    const out: TakeoverEffect<S, D>[] = [];
    t.tick(stop, out);
    assert.deepEqual(kinds(out), [], 'no uninstall, no resend');
    assert.equal(out[0]!.type, 'log');
    assert.equal(t.phase, 'failed');
    assert.equal(t.nextDeadline(), null);
  });
});
