// The shard's part of a cross-node takeover (TakeoverRequest in src/actors/session-types.ts),
// through the real Shard: export on the old node, install on the new one, drop or resume.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Shard } from '../../../src/actors/shard.js';
import type { SessionEffect, SessionEvent, SessionSnapshot, TakeoverRequest } from '../../../src/actors/session-types.js';
import { exportSession } from '../../../src/actors/session.js';
import type { ToShard } from '../../../src/actors/shard-protocol.js';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';
import { MemorySessionStore } from '../../../src/storage/memory-session-store.js';
import { FakeClock, Port } from '../../helpers/shard-fakes.js';
import { connect, deliverEvent, LIMITS, message, subOptions, T0, will } from '../../helpers/session-driver.js';

const ev = (event: SessionEvent, clientId = 'c1'): ToShard => ({ t: 'event', clientId, event });
const step = (request: TakeoverRequest, clientId = 'c1'): ToShard => ({ t: 'takeover', clientId, request });

async function started(store = new MemorySessionStore(), clock = new FakeClock()): Promise<{ shard: Shard; port: Port; clock: FakeClock; store: MemorySessionStore }> {
  const port = new Port();
  const shard = new Shard(port, store, { ...LIMITS, maxInflight: 2 }, clock, 0);
  await shard.start();
  port.posted.length = 0;
  return { shard, port, clock, store };
}

/** The effects posted after the first `from` ones. */
function effectsSince(port: Port, from: number): SessionEffect[] {
  return port.effects().slice(from);
}

/**
 * A persistent v5 session, online on connection 1, with what a move must carry: subscriptions
 * with options, two messages inflight (one QoS 1, one QoS 2 released), one queued, an inbound
 * QoS 2 id waiting for PUBREL and a will with a delay.
 */
async function busySession(): Promise<{ shard: Shard; port: Port; clock: FakeClock; store: MemorySessionStore }> {
  const s = await started();
  s.shard.handleBatch([
    ev(connect({ expiry: 600, will: will('gone', 30), receiveMaximum: 2 })),
    ev({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a/+', options: subOptions(2, { subscriptionId: 7, noLocal: true }) }, { filter: 'b/#', options: subOptions(1, { retainAsPublished: true }) }] }),
    ev(deliverEvent(message('a/1', 'one'), 1, [7])),
    ev(deliverEvent(message('a/2', 'two'), 2, [7])),
    ev(deliverEvent(message('b/3', 'three'), 1)),
    ev({ type: 'pubrec', connId: 1, packetId: 2, reasonCode: 0 }),
    ev({ type: 'qos2Routed', connId: 1, packetId: 9, reasonCode: 0 }),
  ]);
  return s;
}

async function exported(s: { shard: Shard; port: Port }, id = 't1'): Promise<SessionSnapshot | null> {
  s.shard.handleBatch([step({ op: 'export', id, discard: false })]);
  const r = await s.port.takeoverReply('c1', 'exported');
  assert.equal(r.id, id);
  return r.session;
}

describe('Shard: takeover export (old node)', () => {
  it('closes the connection with 0x8E and answers with the whole session as data; a delayed will moves with its due time', async () => {
    const s = await busySession();
    const before = exportSession(s.shard.session('c1')!);
    const from = s.port.effects().length;
    const moved = await exported(s);
    const effects = effectsSince(s.port, from);
    assert.deepEqual(effects.map((e) => e.type), ['close', 'takeover'], 'the close goes before the answer; the delayed will is not routed');
    assert.equal((effects[0] as Extract<SessionEffect, { type: 'close' }>).reasonCode, ReasonCode.SessionTakenOver);
    assert.ok(moved !== null);
    // Everything of the session moves; only the connection is gone.
    assert.deepEqual({ ...moved, connId: 1, disconnectedAt: null, willDueAt: null, expiresAt: null }, before);
    assert.equal(moved.expiresAt, T0 + 600_000, 'offline from the export on');
    assert.equal(moved.connId, null);
    assert.equal(moved.disconnectedAt, T0);
    assert.equal(moved.will?.message.topic, 'gone', 'the will moves: the CONNECT on the new node cancels it [MQTT-3.1.3-9]');
    assert.equal(moved.willDueAt, T0 + 30_000, 'due as after an abnormal close, should the takeover fail');
    assert.deepEqual(Object.keys(moved.subscriptions), ['a/+', 'b/#']);
    assert.deepEqual(moved.subscriptions['a/+'], subOptions(2, { subscriptionId: 7, noLocal: true }));
    assert.deepEqual(moved.inflight.map((m) => [m.packetId, m.state, m.qos]), [[1, 'inflight', 1], [2, 'released', 2]]);
    assert.deepEqual(moved.queue.map((m) => m.message.topic), ['b/3']);
    assert.deepEqual(moved.inboundQos2, [9]);
    assert.equal(moved.nextPacketId, 3);
    assert.notEqual(moved, s.shard.session('c1'), 'a copy, not the live object');
  });

  it('publishes the will of the closed connection at once when its delay is 0, as a takeover on one node does [MQTT-3.1.4-3]', async () => {
    const s = await started();
    s.shard.handleBatch([ev(connect({ expiry: 600, will: will('now', 0) }))]);
    const from = s.port.effects().length;
    const moved = await exported(s);
    const effects = effectsSince(s.port, from);
    assert.deepEqual(effects.filter((e) => e.type === 'route').map((e) => (e as Extract<SessionEffect, { type: 'route' }>).message.topic), ['now']);
    assert.equal(moved?.will, null);
  });

  it('an offline session moves with its delayed will and its due time', async () => {
    const s = await started();
    s.shard.handleBatch([ev(connect({ expiry: 600, will: will('gone', 30) })), ev({ type: 'disconnect', connId: 1, kind: 'abnormal' })]);
    const moved = await exported(s);
    assert.ok(moved !== null);
    assert.equal(moved.will?.message.topic, 'gone');
    assert.equal(moved.willDueAt, T0 + 30_000);
  });

  it('while exported: deliveries queue durably, a CONNECT here gets 0x89, timers wait', async () => {
    const s = await started();
    s.shard.handleBatch([ev(connect({ expiry: 1 })), ev({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a', options: subOptions(1) }] })]);
    await exported(s);
    const from = s.port.effects().length;
    s.shard.handleBatch([ev(deliverEvent(message('a', 'late'), 1)), ev(connect({ connId: 2, expiry: 60 })), { t: 'ticket', id: 1 }]);
    await s.port.ticket(1);
    const effects = effectsSince(s.port, from);
    assert.deepEqual(effects.map((e) => e.type), ['close']);
    assert.equal((effects[0] as Extract<SessionEffect, { type: 'close' }>).connId, 2);
    assert.equal((effects[0] as Extract<SessionEffect, { type: 'close' }>).reasonCode, ReasonCode.ServerBusy);
    assert.deepEqual(s.shard.session('c1')!.queue.toArray().map((m) => m.message.topic), ['a']);
    const stored = await s.store.loadAll();
    assert.deepEqual(stored[0]!.messages.map((m) => m.message.topic), ['a'], 'the delivery is stored before its ticket');
    s.clock.advance(5_000);
    assert.ok(s.shard.session('c1') !== undefined, 'the 1 s expiry waits for the takeover outcome');
  });

  it('drop: hands over what arrived since the export, deletes the session and its routes', async () => {
    const s = await busySession();
    await exported(s);
    s.shard.handleBatch([ev(deliverEvent(message('a/4', 'four'), 1, [7])), ev(deliverEvent(message('b/5', 'five'), 0))]);
    const from = s.port.effects().length;
    s.shard.handleBatch([step({ op: 'drop', id: 't1', handover: true })]);
    const r = await s.port.takeoverReply('c1', 'dropped');
    assert.deepEqual(r.arrived.map((m) => [m.message.topic, m.qos, m.subscriptionIds]), [['a/4', 1, [7]], ['b/5', 0, []]]);
    assert.deepEqual(effectsSince(s.port, from).filter((e) => e.type === 'routes'), [{ type: 'routes', clientId: 'c1', add: [], removeAll: true }]);
    assert.equal(s.shard.session('c1'), undefined);
    assert.deepEqual(await s.store.loadAll(), []);
  });

  it('a drop for an export this shard no longer holds (it restarted) is refused and the session stays', async () => {
    const s = await started();
    s.shard.handleBatch([ev(connect({ expiry: 60 })), ev({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a', options: subOptions(1) }] })]);
    await exported(s);
    s.shard.handleBatch([ev(deliverEvent(message('a', 'since'), 1)), { t: 'ticket', id: 1 }]);
    await s.port.ticket(1);
    const restarted = await started(s.store);
    restarted.shard.handleBatch([step({ op: 'drop', id: 't1', handover: true })]);
    const r = await restarted.port.takeoverReply('c1', 'dropped');
    assert.deepEqual({ ok: r.ok, arrived: r.arrived }, { ok: false, arrived: [] });
    assert.deepEqual(restarted.shard.session('c1')!.queue.toArray().map((m) => m.message.topic), ['a'], 'kept, with what arrived');
    assert.ok(restarted.port.effects().some((e) => e.type === 'event' && e.name === 'session.takeover.lost_export'));
  });

  it('resume: the takeover failed, the session stays with what arrived, its timers run again', async () => {
    const s = await started();
    s.shard.handleBatch([ev(connect({ expiry: 10 })), ev({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a', options: subOptions(1) }] })]);
    const moved = await exported(s);
    assert.equal(moved!.expiresAt, T0 + 10_000, 'offline since the export: it expires from then');
    s.clock.advance(10_000);
    assert.ok(s.shard.session('c1') !== undefined, 'no expiry while exported');
    s.shard.handleBatch([ev(deliverEvent(message('a', 'kept'), 1)), step({ op: 'resume', id: 't1' })]);
    await s.port.takeoverReply('c1', 'resumed');
    assert.deepEqual(s.shard.session('c1')!.queue.toArray().map((m) => m.message.topic), ['a']);
    s.clock.advance(0);
    assert.equal(s.shard.session('c1'), undefined, 'the expiry timer is armed again (and was due)');

    const r = await started();
    r.shard.handleBatch([ev(connect({ expiry: 60 }))]);
    await exported(r);
    r.shard.handleBatch([step({ op: 'resume', id: 't1' }), ev(connect({ connId: 2, expiry: 60 }))]);
    await r.port.takeoverReply('c1', 'resumed'); // the CONNECT's effects come in the same post
    assert.ok(r.port.effects().some((e) => e.type === 'connack' && e.connId === 2 && e.sessionPresent), 'a CONNECT here works again');
  });

  it('Clean Start or expiry 0: the session ends instead of moving (a pending will fires as the session ends)', async () => {
    const s = await started();
    s.shard.handleBatch([ev(connect({ expiry: 600, will: will('gone', 30) }))]);
    s.shard.handleBatch([step({ op: 'export', id: 't1', discard: true })]);
    assert.equal((await s.port.takeoverReply('c1', 'exported')).session, null);
    assert.equal(s.shard.session('c1'), undefined);
    assert.deepEqual(await s.store.loadAll(), []);
    assert.ok(s.port.effects().some((e) => e.type === 'route' && e.message.topic === 'gone'));
    assert.ok(s.port.effects().some((e) => e.type === 'routes' && e.removeAll));

    const z = await started();
    z.shard.handleBatch([ev(connect({ expiry: 0 })), step({ op: 'export', id: 't2', discard: false })]);
    assert.equal((await z.port.takeoverReply('c1', 'exported')).session, null);
    assert.equal(z.shard.session('c1'), undefined);
  });

  it('no session here: exported null, and drop answers nothing arrived', async () => {
    const s = await started();
    s.shard.handleBatch([step({ op: 'export', id: 't1', discard: false }), step({ op: 'drop', id: 't1', handover: true })]);
    assert.equal((await s.port.takeoverReply('c1', 'exported')).session, null);
    assert.deepEqual((await s.port.takeoverReply('c1', 'dropped')).arrived, []);
  });
});

describe('Shard: takeover install (new node)', () => {
  it('stores the moved session, adds its routes, and the CONNECT resumes it: inflight resent with DUP', async () => {
    const a = await busySession();
    const moved = (await exported(a))!;
    const b = await started();
    b.shard.handleBatch([step({ op: 'install', id: 't1', session: moved })]);
    const r = await b.port.takeoverReply('c1', 'installed');
    assert.deepEqual(r, { op: 'installed', id: 't1', ok: true, detail: '' });
    const routes = b.port.effects().filter((e) => e.type === 'routes');
    assert.deepEqual(routes, [{ type: 'routes', clientId: 'c1', add: [{ filter: 'a/+', options: moved.subscriptions['a/+']! }, { filter: 'b/#', options: moved.subscriptions['b/#']! }], removeAll: false, username: null }]);
    assert.deepEqual(exportSession(b.shard.session('c1')!), moved);
    // Stored whole: a restart of the new node finds the same session.
    const restarted = await started(b.store);
    const back = restarted.shard.session('c1')!;
    assert.deepEqual(Object.keys(back.subscriptions), ['a/+', 'b/#']);
    assert.deepEqual([...back.inflight.toArray(), ...back.queue.toArray()].map((m) => [m.seq, m.state, m.packetId]), [...moved.inflight, ...moved.queue].map((m) => [m.seq, m.state, m.packetId]));
    assert.deepEqual(back.inboundQos2, [9]);

    const from = b.port.effects().length;
    b.shard.handleBatch([ev(connect({ connId: 5, expiry: 600, receiveMaximum: 2 }))]);
    await b.port.count(b.port.posted.length + 1);
    const after = effectsSince(b.port, from);
    assert.deepEqual(after.find((e) => e.type === 'connack'), { type: 'connack', connId: 5, clientId: 'c1', sessionPresent: true });
    const resent = after.flatMap((e): Array<[number | undefined, boolean | string]> => (e.type === 'publish' ? [[e.publish.packetId, e.publish.dup]] : e.type === 'packet' && e.packet.cmd === 'pubrel' ? [[e.packet.messageId, 'pubrel']] : []));
    assert.deepEqual(resent, [[1, true], [2, 'pubrel']], 'the QoS 1 PUBLISH again with DUP, the PUBREL of the released QoS 2');
    // Then the PUBREL of the inbound QoS 2 that waited on the old node completes here.
    b.shard.handleBatch([ev({ type: 'pubrel', connId: 5, packetId: 9 })]);
    await b.port.count(b.port.posted.length + 1);
    assert.ok(b.port.effects().some((e) => e.type === 'packet' && e.packet.cmd === 'pubcomp' && e.packet.messageId === 9 && e.packet.reasonCode === undefined));
  });

  it('refuses to replace a session connected here; replaces an offline leftover', async () => {
    const a = await busySession();
    const moved = (await exported(a))!;
    const b = await started();
    b.shard.handleBatch([ev(connect({ expiry: 60 })), step({ op: 'install', id: 't1', session: moved })]);
    const r = await b.port.takeoverReply('c1', 'installed');
    assert.equal(r.ok, false);
    assert.match(r.detail, /connected to this node/);
    assert.equal(b.shard.session('c1')!.connId, 1);

    const c = await started();
    c.shard.handleBatch([ev(connect({ expiry: 60 })), ev({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'old', options: subOptions(0) }] }), ev({ type: 'disconnect', connId: 1, kind: 'normal' })]);
    c.shard.handleBatch([step({ op: 'install', id: 't1', session: moved })]);
    assert.equal((await c.port.takeoverReply('c1', 'installed')).ok, true);
    assert.deepEqual(Object.keys(c.shard.session('c1')!.subscriptions), ['a/+', 'b/#']);
    const stored = await c.store.loadAll();
    assert.deepEqual(Object.keys(stored[0]!.subscriptions), ['a/+', 'b/#'], 'the leftover is gone from the store too');
  });

  it('arrived: what the old node took in after the export queues ahead of what came here since the install, durably in that order', async () => {
    const a = await started();
    a.shard.handleBatch([ev(connect({ expiry: 600 })), ev({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 't', options: subOptions(1) }] }), ev({ type: 'disconnect', connId: 1, kind: 'normal' }), ev(deliverEvent(message('t', 'q1'), 1))]);
    const moved = (await exported(a))!;
    a.shard.handleBatch([ev(deliverEvent(message('t', 'a1'), 1)), ev(deliverEvent(message('t', 'a2'), 1)), step({ op: 'drop', id: 't1', handover: true })]);
    const arrived = (await a.port.takeoverReply('c1', 'dropped')).arrived;
    assert.deepEqual(arrived.map((m) => String(Buffer.from(m.message.payload))), ['a1', 'a2']);

    const b = await started();
    b.shard.handleBatch([step({ op: 'install', id: 't1', session: moved }), ev(deliverEvent(message('t', 'd1'), 1))]);
    await b.port.takeoverReply('c1', 'installed');
    b.shard.handleBatch([step({ op: 'arrived', id: 't1', messages: arrived }), { t: 'ticket', id: 1 }]);
    await b.port.ticket(1);
    const payloads = (ms: Iterable<{ message: { payload: Uint8Array } }>): string[] => [...ms].map((m) => String(Buffer.from(m.message.payload)));
    assert.deepEqual(payloads(b.shard.session('c1')!.queue), ['q1', 'a1', 'a2', 'd1']);
    const stored = await b.store.loadAll();
    assert.deepEqual(payloads(stored[0]!.messages), ['q1', 'a1', 'a2', 'd1'], 'the store holds them in the same (seq) order');
  });

  it('drop undoes an install (the old node kept the session)', async () => {
    const a = await busySession();
    const moved = (await exported(a))!;
    const b = await started();
    b.shard.handleBatch([step({ op: 'install', id: 't1', session: moved }), step({ op: 'drop', id: 't1', handover: false })]);
    assert.deepEqual((await b.port.takeoverReply('c1', 'dropped')).arrived, [], 'nothing was exported from here');
    assert.equal(b.shard.session('c1'), undefined);
    assert.deepEqual(await b.store.loadAll(), []);
  });
});
