// The forwarder (sending side of cross-node publish) and the intake (receiving side) over a fake
// transport and a fake local delivery: one copy per destination node, acks held until 'stored'
// or the node's death, shared groups given to exactly one node and re-picked on 'no-member'.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Forwarder, FORWARD_ACK_TIMEOUT_MS, type LocalDelivery } from '../../../src/cluster/forwarder.js';
import { ForwardIntake } from '../../../src/cluster/forward-intake.js';
import type { ForwardedPublish, PeerMessage } from '../../../src/cluster/peer-messages.js';
import { laneFor, type PeerTransport, type PeerTransportEvents } from '../../../src/cluster/peer-transport.js';
import { RouteTable } from '../../../src/cluster/route-table.js';
import { createLogger } from '../../../src/log.js';
import type { AppMessage } from '../../../src/protocol/message.js';
import type { MatchScope } from '../../../src/routing/router.js';

const log = createLogger('silent');

class FakeTransport extends EventEmitter<PeerTransportEvents> implements PeerTransport {
  readonly lanes = 4;
  readonly sent: { peer: string; message: PeerMessage; lane: number }[] = [];
  refuse = new Set<string>();
  connect(): void {}
  disconnect(): void {}
  send(peer: string, message: PeerMessage, lane: number): boolean {
    if (this.refuse.has(peer)) return false;
    this.sent.push({ peer, message, lane });
    return true;
  }
  fetchSlice(): never {
    throw new Error('not used');
  }
  fetchRetained(): never {
    throw new Error('not used');
  }
  status(): never {
    throw new Error('not used');
  }
  takeover(): never {
    throw new Error('not used');
  }
  adopt(): never {
    throw new Error('not used');
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  /** The forwarded publishes sent so far, with their peer. */
  forwards(): { peer: string; p: ForwardedPublish; lane: number }[] {
    return this.sent.flatMap((s) => (s.message.kind === 'forward' ? s.message.publishes.map((p) => ({ peer: s.peer, p, lane: s.lane })) : []));
  }
}

class FakeLocal implements LocalDelivery {
  readonly calls: { message: AppMessage; scope: MatchScope }[] = [];
  deliverLocal(message: AppMessage, scope: MatchScope): { matched: number; stored: Promise<void> | null } {
    this.calls.push({ message, scope });
    return { matched: 1, stored: null };
  }
}

function setup(routes: Record<string, string[]>): { fwd: Forwarder; transport: FakeTransport; local: FakeLocal; clock: { now: number } } {
  const table = new RouteTable();
  for (const [origin, adds] of Object.entries(routes)) table.apply({ origin, incarnation: 1, seq: 1, adds, removes: [] });
  const transport = new FakeTransport();
  const local = new FakeLocal();
  const clock = { now: 1000 };
  const fwd = new Forwarder('a', { table, version: 1 }, transport, local, log, () => clock.now);
  return { fwd, transport, local, clock };
}

const msg = (topic: string, qos: 0 | 1 | 2 = 0): AppMessage => ({ topic, payload: new Uint8Array([1]), qos, retain: false, publisherId: 'p' });

/** Whether `p` has settled (resolved) after the microtasks queued so far have run. */
async function settled(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('Forwarder', () => {
  it('sends one copy per destination node on the topic lane, never to itself', () => {
    const { fwd, transport } = setup({ a: ['s/#'], b: ['s/+/t', 's/#'], c: ['s/x/t'], d: ['other'] });
    const plan = fwd.route(msg('s/x/t'));
    assert.equal(plan.nodes, 2);
    assert.equal(plan.stored, null);
    const sent = transport.forwards();
    assert.deepEqual(sent.map((s) => s.peer).sort(), ['b', 'c']);
    for (const s of sent) {
      assert.equal(s.lane, laneFor('s/x/t', 4));
      assert.equal(s.p.deliverDirect, true);
      assert.equal(s.p.ackId, 0);
    }
    assert.equal(fwd.route(msg('$SYS/broker/uptime')).nodes, 0);
  });

  it('holds a QoS 1 publisher until every destination stored its copy, or went down', async () => {
    const { fwd, transport } = setup({ b: ['q'], c: ['q'] });
    const plan = fwd.route(msg('q', 1));
    assert.ok(plan.stored !== null);
    const ids = new Map(transport.forwards().map((s) => [s.peer, s.p.ackId]));
    fwd.onAck('b', { ackId: ids.get('b')!, status: 'stored' });
    fwd.onAck('b', { ackId: ids.get('c')!, status: 'stored' }); // from the wrong node: ignored
    assert.equal(await settled(plan.stored), false);
    assert.equal(fwd.awaiting('c'), 1);
    fwd.nodeGone('c');
    assert.equal(await settled(plan.stored), true);
    assert.equal(fwd.counters.ackGivenUp, 1);
  });

  it('ends an overdue ack wait on sweep', async () => {
    const { fwd, clock } = setup({ b: ['q'] });
    const plan = fwd.route(msg('q', 2));
    clock.now += FORWARD_ACK_TIMEOUT_MS - 1;
    fwd.sweep();
    assert.equal(await settled(plan.stored!), false);
    clock.now += 2;
    fwd.sweep();
    assert.equal(await settled(plan.stored!), true);
  });

  it('batches the publishes of one callback per node and lane into one peer message', async () => {
    const { fwd, transport } = setup({ b: ['t/#'] });
    for (let i = 0; i < 3; i++) fwd.route(msg('t/x'));
    fwd.route(msg('t/y'));
    await Promise.resolve();
    fwd.route(msg('t/x'));
    const lanes = transport.sent.map((s) => [s.lane, s.message.kind === 'forward' ? s.message.publishes.length : 0]);
    const x = laneFor('t/x', 4);
    const y = laneFor('t/y', 4);
    assert.deepEqual(lanes, x === y ? [[x, 4], [x, 1]] : [[x, 3], [y, 1], [x, 1]]);
  });

  it('counts a copy the transport refuses and does not wait for it', () => {
    const { fwd, transport } = setup({ b: ['q'] });
    transport.refuse.add('b');
    const plan = fwd.route(msg('q', 1));
    assert.equal(plan.nodes, 0);
    assert.equal(plan.stored, null);
    assert.equal(fwd.counters.dropped, 1);
  });

  it('gives each message of a shared group to one node in turn, itself included', async () => {
    const share = '$share/g/jobs/+';
    const { fwd, transport } = setup({ a: [share], b: [share], c: [share] });
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) {
      await Promise.resolve(); // a new callback: the previous forward batch is closed
      const before = transport.forwards().length;
      const plan = fwd.route(msg(`jobs/${i}`));
      const sent = transport.forwards().slice(before);
      if (sent.length === 0) {
        assert.equal(plan.scope, null); // this node's own member takes it
        picks.push('a');
        continue;
      }
      assert.equal(sent.length, 1);
      assert.deepEqual(sent[0]!.p.sharedGroups, [share]);
      assert.equal(sent[0]!.p.deliverDirect, false);
      assert.equal(plan.scope!.sharedAllowed(share), false); // not also delivered here
      picks.push(sent[0]!.peer);
    }
    assert.deepEqual([...picks].sort(), ['a', 'a', 'b', 'b', 'c', 'c']);
  });

  it('re-picks a shared group refused by a node shutting down', async () => {
    const share = '$share/g/jobs/+';
    const { fwd, transport } = setup({ b: [share], c: [share] });
    fwd.route(msg('jobs/1'));
    const [first] = transport.forwards();
    await Promise.resolve();
    fwd.onAck(first!.peer, { ackId: first!.p.ackId, status: 'refused' });
    const second = transport.forwards()[1]!;
    assert.notEqual(second.peer, first!.peer);
    assert.deepEqual(second.p.sharedGroups, [share]);
  });

  it('re-picks a shared group answered with no-member, here if this node is the one left', () => {
    const share = '$share/g/jobs/+';
    const { fwd, transport, local } = setup({ a: [share], b: [share] });
    let plan = fwd.route(msg('jobs/1'));
    if (transport.forwards().length === 0) plan = fwd.route(msg('jobs/2')); // the turn was this node's
    const [first] = transport.forwards();
    assert.equal(first!.peer, 'b');
    assert.ok(plan.scope !== null);
    fwd.onAck('b', { ackId: first!.p.ackId, status: 'no-member' });
    const last = local.calls.at(-1)!;
    assert.equal(last.scope.direct, false);
    assert.equal(last.scope.sharedAllowed(share), true);
    assert.equal(last.scope.sharedAllowed('$share/other/jobs/+'), false);
  });
});

describe('ForwardIntake', () => {
  it('refuses what arrives while the node shuts down', () => {
    const acks: [string, number, string][] = [];
    const intake = new ForwardIntake({ deliverLocal: () => null }, (to, id, status) => acks.push([to, id, status]));
    intake.deliver('b', [{ message: msg('t', 1), deliverDirect: true, sharedGroups: [], ackId: 3 }]);
    assert.deepEqual(acks, [['b', 3, 'refused']]);
  });

  it('delivers within the forwarded scope and acks no-member for a group without a local member', async () => {
    const scopes: MatchScope[] = [];
    const acks: [string, number, string][] = [];
    let release!: () => void;
    const stored = new Promise<void>((r) => (release = r));
    const local: LocalDelivery = {
      deliverLocal(_m, scope) {
        scopes.push(scope);
        scope.sharedAllowed('$share/here/t'); // this node has a member of 'here' only
        return { matched: 1, stored };
      },
    };
    const intake = new ForwardIntake(local, (to, id, status) => acks.push([to, id, status]));
    intake.deliver('b', [
      { message: msg('t', 1), deliverDirect: true, sharedGroups: ['$share/here/t'], ackId: 7 },
      { message: msg('t', 1), deliverDirect: false, sharedGroups: ['$share/gone/t'], ackId: 8 },
      { message: msg('t', 0), deliverDirect: true, sharedGroups: [], ackId: 0 },
    ]);
    assert.equal(scopes[0]!.direct, true);
    assert.equal(scopes[1]!.direct, false);
    assert.equal(scopes[1]!.sharedAllowed('$share/here/t'), false);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(acks, []); // not before the shards committed
    release();
    await stored;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(acks, [['b', 7, 'stored'], ['b', 8, 'no-member']]);
  });
});
