// The takeover shell (src/cluster/takeover-service.ts) with a fake clock, wire and shard: a
// CONNECT's path through the owner, the registry's wait for the members' lists after a membership
// change (and its grace period), and the end of one of two sessions registered for one client id.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/log.js';
import type { TakeoverRequest } from '../../../src/actors/session-types.js';
import type { PeerMessage } from '../../../src/cluster/peer-messages.js';
import type { SessionTakeoverMessage } from '../../../src/cluster/takeover-codec.js';
import { REGISTRY_GRACE_MS, REREGISTER_DELAY_MS, TakeoverService } from '../../../src/cluster/takeover-service.js';
import { viewKey } from '../../../src/cluster/registry-sync.js';
import { FakeClock } from '../../helpers/shard-fakes.js';

interface World {
  svc: TakeoverService;
  clock: FakeClock;
  wire: { to: string; m: SessionTakeoverMessage }[];
  peer: { to: string; m: PeerMessage }[];
  shard: { clientId: string; r: TakeoverRequest }[];
}

/** Node "A", owner of every client id (the owner function is fixed). */
function world(owner = 'A'): World {
  const clock = new FakeClock();
  const w: World = { svc: null as unknown as TakeoverService, clock, wire: [], peer: [], shard: [] };
  w.svc = new TakeoverService({
    self: 'A',
    incarnation: 1,
    wire: (to, m) => w.wire.push({ to, m }),
    peer: (to, m) => w.peer.push({ to, m }),
    shards: { takeover: (clientId, r) => w.shard.push({ clientId, r }) },
    owner: () => owner,
    live: () => true,
    clock,
    log: createLogger('silent'),
  });
  return w;
}

/** Runs the microtasks the service queued for messages to itself. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TakeoverService', () => {
  it('a CONNECT with no session anywhere proceeds locally after the (local) owner answers', async () => {
    const w = world();
    const outcomes: string[] = [];
    w.svc.connect('c', false, { proceed: (moved) => outcomes.push(`proceed ${moved}`), refuse: (code) => outcomes.push(`refuse ${code}`) });
    await settle();
    assert.deepEqual(outcomes, ['proceed false']);
    assert.equal(w.svc.registry.location('c'), 'A', 'the release says where the session lives');
    assert.equal(w.svc.sessions.local.has('c'), true);
  });

  it('adopting a session that already lives here keeps it registered (a second push, or its client moved it here)', async () => {
    const w = world();
    w.svc.connect('c', false, { proceed: () => undefined, refuse: () => undefined });
    await settle();
    assert.equal(w.svc.registry.location('c'), 'A');
    const outcome = await w.svc.adopt('c');
    await settle();
    assert.deepEqual(outcome, { moved: false, detail: '' });
    assert.equal(w.svc.sessions.local.has('c'), true, 'the session lives here: its owner must keep knowing it');
    assert.equal(w.svc.registry.location('c'), 'A');
    // An adopt that finds no session anywhere makes none, and registers none.
    await w.svc.adopt('d');
    assert.equal(w.svc.sessions.local.has('d'), false);
  });

  it('after a membership change, a claim for an unknown id waits for every member\'s complete list', async () => {
    const w = world();
    w.svc.membersChanged([{ name: 'A', incarnation: 1 }, { name: 'B', incarnation: 2 }]);
    const outcomes: string[] = [];
    w.svc.connect('c', false, { proceed: () => outcomes.push('proceed'), refuse: () => outcomes.push('refuse') });
    await settle();
    assert.deepEqual(outcomes, [], 'B may hold it: not answered yet');
    // B's list says it holds c; this node's own list is still to come (it may hold sessions it
    // restored itself).
    w.svc.registrations('B', w.svc.sessions.view, [{ clientId: 'c', present: true, since: 5 }], true);
    await settle();
    assert.equal(w.wire.length, 0, 'this node\'s own list is not in yet');
    // Its own list goes once the burst of changes is over: the claim is answered with B as the
    // holder, and begin goes there.
    w.clock.advance(REREGISTER_DELAY_MS);
    await settle();
    assert.deepEqual(w.peer.map((x) => [x.to, x.m.kind, (x.m as { complete?: boolean }).complete]), [['B', 'registrations', true]]);
    assert.deepEqual(w.wire.map((x) => [x.to, x.m.kind]), [['B', 'begin']]);
  });

  it('an owner that restarted answers for the sessions it restored itself only once its own list is in', async () => {
    const w = world();
    w.svc.sessionHere('c'); // restored from storage
    w.svc.membersChanged([{ name: 'A', incarnation: 1 }, { name: 'B', incarnation: 2 }]);
    // B saw the change first: its complete list (nothing for A) came before A reached the view.
    const outcomes: string[] = [];
    w.svc.connect('c', false, { proceed: (moved, wasHere) => outcomes.push(`proceed ${moved} ${wasHere}`), refuse: () => outcomes.push('refuse') });
    w.svc.registrations('B', w.svc.sessions.view, [], true);
    await settle();
    assert.deepEqual(outcomes, [], 'not "none known" while this node\'s own list is missing');
    w.clock.advance(REREGISTER_DELAY_MS);
    await settle();
    assert.deepEqual(outcomes, ['proceed false true'], 'the session is here: the ordinary local CONNECT resumes it');
    assert.equal(w.svc.registry.location('c'), 'A');
  });

  it('a complete list for a view this node has not reached yet counts once it does', async () => {
    const w = world();
    const view = [{ name: 'A', incarnation: 1 }, { name: 'B', incarnation: 2 }];
    w.svc.registrations('B', viewKey(view), [], true);
    w.svc.membersChanged(view);
    w.clock.advance(REREGISTER_DELAY_MS);
    await settle();
    assert.equal(w.svc.sessions.complete(), true, 'B sends nothing more for that view');
  });

  it('a release lost on the way is resent, to the owner of the moment, until the owner answers', async () => {
    const w = world('O');
    const outcomes: string[] = [];
    w.svc.connect('c', false, { proceed: (moved) => outcomes.push(`proceed ${moved}`), refuse: () => outcomes.push('refuse') });
    const claim = w.wire.shift()!;
    assert.deepEqual([claim.to, claim.m.kind], ['O', 'claim']);
    w.clock.advance(1);
    w.svc.receive('O', { kind: 'claimed', id: claim.m.id, clientId: 'c', granted: true, holder: null });
    assert.deepEqual(outcomes, ['proceed false']);
    const release = w.wire.shift()!;
    assert.deepEqual(release, { to: 'O', m: { kind: 'release', id: claim.m.id, clientId: 'c', from: 'A', location: 'A', since: w.clock.now() } });
    // Lost: resent every retryMs until answered.
    w.clock.advance(w.svc.timings.retryMs);
    assert.deepEqual(w.wire.splice(0), [release]);
    w.svc.receive('O', { kind: 'released', id: claim.m.id, clientId: 'c' });
    w.clock.advance(w.svc.timings.retryMs * 3);
    assert.deepEqual(w.wire, [], 'answered: no more resends');
  });

  it('an owner that holds no lock for a release (it restarted, or took the id over since the claim) registers the new location', async () => {
    const w = world();
    w.svc.registrations('B', w.svc.sessions.view, [{ clientId: 'c', present: true, since: 5 }], false);
    w.svc.receive('C', { kind: 'release', id: 'C/1/1', clientId: 'c', from: 'C', location: 'C', since: 9 });
    await settle();
    assert.equal(w.svc.registry.location('c'), 'C', 'the later arrival wins');
    assert.deepEqual(w.wire, [{ to: 'C', m: { kind: 'released', id: 'C/1/1', clientId: 'c' } }]);
    assert.deepEqual(w.peer, [{ to: 'B', m: { kind: 'evict', clientId: 'c', since: 5, winner: 'C' } }], 'the older copy is ended');
    // A late duplicate of an older takeover's release does not move the location back.
    w.svc.receive('B', { kind: 'release', id: 'B/1/1', clientId: 'c', from: 'B', location: 'B', since: 7 });
    await settle();
    assert.equal(w.svc.registry.location('c'), 'C');
  });

  it('answers with what it knows when a member\'s list does not come within the grace period', async () => {
    const w = world();
    w.svc.membersChanged([{ name: 'A', incarnation: 1 }, { name: 'B', incarnation: 2 }]);
    const outcomes: string[] = [];
    w.svc.connect('c', false, { proceed: () => outcomes.push('proceed'), refuse: () => outcomes.push('refuse') });
    await settle();
    w.clock.advance(REGISTRY_GRACE_MS - 1);
    await settle();
    assert.deepEqual(outcomes, []);
    w.clock.advance(1);
    await settle();
    assert.deepEqual(outcomes, ['proceed']);
  });

  it('two live registrations for one id: the earlier node is told to end its copy; that node ends it only if it is that copy', async () => {
    const w = world();
    w.svc.registrations('B', w.svc.sessions.view, [{ clientId: 'c', present: true, since: 100 }], false);
    w.svc.registrations('C', w.svc.sessions.view, [{ clientId: 'c', present: true, since: 200 }], false);
    assert.equal(w.svc.registry.location('c'), 'C');
    assert.deepEqual(w.peer, [{ to: 'B', m: { kind: 'evict', clientId: 'c', since: 100, winner: 'C' } }]);

    // On the losing node: only the copy that lost is ended (a newer one arrived meanwhile stays).
    const loser = world('Z');
    loser.svc.connect('c', false, { proceed: () => undefined, refuse: () => undefined });
    loser.svc.receive('Z', { kind: 'claimed', id: 'A/1/1', clientId: 'c', granted: true, holder: null });
    const since = loser.svc.sessions.local.get('c')!;
    loser.svc.evicted('c', since - 1, 'C');
    assert.equal(loser.shard.length, 0, 'an older since: not this copy');
    loser.svc.evicted('c', since, 'C');
    assert.deepEqual(loser.shard.map((x) => [x.clientId, x.r.op, (x.r as { discard?: boolean }).discard]), [['c', 'export', true]]);
  });
});
