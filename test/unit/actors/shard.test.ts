import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coalesceSharedPuts, DEFER_WRITE_MS, Shard } from '../../../src/actors/shard.js';
import type { SessionEffect, SessionEvent } from '../../../src/actors/session-types.js';
import type { FromShard, ToShard } from '../../../src/actors/shard-protocol.js';
import { MemorySessionStore } from '../../../src/storage/memory-session-store.js';
import { normalizeSessions } from '../storage/normalize.js';
import type { SessionStore, StoredMessage, StoredSession, StoreOp } from '../../../src/storage/types.js';
import { FakeClock, GatedStore, Port } from '../../helpers/shard-fakes.js';
import { connect, deliverEvent, LIMITS, message, subOptions, T0, will } from '../../helpers/session-driver.js';

const ev = (event: SessionEvent, clientId = 'c1'): ToShard => ({ t: 'event', clientId, event });
const types = (effects: SessionEffect[]): string[] => effects.map((e) => e.type);
/** Lets promise callbacks run (a commit's `.then`); for asserting that something did NOT happen. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

async function started(store: SessionStore = new MemorySessionStore(), clock = new FakeClock(), limits = LIMITS): Promise<{ shard: Shard; port: Port; clock: FakeClock }> {
  const port = new Port();
  const shard = new Shard(port, store, limits, clock);
  await shard.start();
  assert.equal(port.posted[0]?.t, 'ready');
  port.posted.length = 0;
  return { shard, port, clock };
}

describe('Shard: durability before effects', () => {
  it('releases a batch\'s effects only after its store ops commit, and batches in order', async () => {
    const store = new GatedStore();
    store.gated = false;
    const { shard, port } = await started(store);
    store.gated = true;
    shard.handleBatch([ev(connect({ expiry: 60 })), { t: 'ticket', id: 1 }]);
    shard.handleBatch([ev({ type: 'subscribe', connId: 1, packetId: 5, requests: [{ filter: 'a', options: subOptions(1) }] }), { t: 'ticket', id: 2 }]);
    await settle();
    assert.deepEqual(port.posted, [], 'nothing before the first commit');
    assert.equal(store.waiting.length, 1, 'one commit at a time');
    assert.deepEqual(store.release().map((o) => o.op), ['deleteSession', 'putMeta']);
    await port.count(1);
    assert.deepEqual(port.posted[0], { t: 'effects', effects: [{ type: 'connack', connId: 1, clientId: 'c1', sessionPresent: false }, { type: 'flow', connId: 1, clientId: 'c1', direct: true }], tickets: [1] });
    await settle();
    assert.equal(port.posted.length, 1, 'the subscribe waits for its own commit');
    assert.deepEqual(store.release().map((o) => o.op), ['putSubscription']);
    await port.count(2);
    assert.deepEqual(types((port.posted[1] as Extract<FromShard, { t: 'effects' }>).effects), ['packet'], 'the SUBACK (routes and retained messages are applied by main when it reads the packet)');
    assert.deepEqual(port.tickets(), [1, 2]);
  });

  it('batches arriving during a commit are group-committed together', async () => {
    const store = new GatedStore();
    store.gated = false;
    const { shard, port } = await started(store);
    store.gated = true;
    shard.handleBatch([ev(connect({ expiry: 60 }))]);
    shard.handleBatch([ev(connect({ expiry: 60, clientId: 'c2' }), 'c2')]);
    shard.handleBatch([ev(connect({ expiry: 60, clientId: 'c3' }), 'c3'), { t: 'ticket', id: 7 }]);
    store.release();
    await port.count(1);
    assert.equal(store.waiting.length, 1);
    assert.equal(store.waiting[0]!.ops.filter((o) => o.op === 'putMeta').length, 2, 'c2 and c3 in one commit');
    store.release();
    await port.count(2);
    assert.deepEqual(port.effects().filter((e) => e.type === 'connack').map((e) => e.type === 'connack' && e.clientId), ['c1', 'c2', 'c3']);
    assert.deepEqual(port.tickets(), [7]);
  });

  it('effects without store ops still wait behind a commit in flight; alone they go at once', async () => {
    const store = new GatedStore();
    store.gated = false;
    const { shard, port } = await started(store);
    store.gated = true;
    shard.handleBatch([ev(connect({ expiry: 60 }))]);
    shard.handleBatch([ev(connect({ expiry: 0, clientId: 'nc' }), 'nc'), { t: 'ticket', id: 3 }]);
    await settle();
    assert.deepEqual(port.posted, []);
    store.release();
    await port.count(2);
    assert.deepEqual(port.effects().filter((e) => e.type === 'connack').map((e) => e.type === 'connack' && e.clientId), ['c1', 'nc']);
    assert.deepEqual(port.tickets(), [3]);
    shard.handleBatch([{ t: 'ticket', id: 4 }]);
    assert.deepEqual(port.posted.at(-1), { t: 'effects', effects: [], tickets: [4] }, 'nothing pending: acknowledged synchronously');
  });

  it('a failed commit is fatal: its effects and tickets are never released, later batches are ignored', async () => {
    const store = new GatedStore();
    store.gated = false;
    const { shard, port } = await started(store);
    store.gated = true;
    shard.handleBatch([ev(connect({ expiry: 60 })), { t: 'ticket', id: 1 }]);
    store.waiting.shift()!.fail(new Error('disk full'));
    await port.count(1);
    assert.equal(port.posted[0]!.t, 'fatal');
    assert.match((port.posted[0] as Extract<FromShard, { t: 'fatal' }>).message, /disk full/);
    shard.handleBatch([{ t: 'ticket', id: 2 }]);
    await settle();
    assert.equal(port.posted.length, 1);
    assert.deepEqual(port.tickets(), []);
  });
});

describe('Shard: QoS 0 and 1 copies to online sessions go before their commit, and wait for their ack to be written', () => {
  /** A connected persistent session c1 (connId 1) subscribed to 'a' at `qos`, everything committed. */
  async function subscribed(qos: 1 | 2, limits = LIMITS): Promise<{ shard: Shard; port: Port; store: GatedStore; clock: FakeClock }> {
    const store = new GatedStore();
    store.gated = false;
    const { shard, port, clock } = await started(store, new FakeClock(), limits);
    shard.handleBatch([ev(connect({ expiry: 60 }))]);
    shard.handleBatch([ev({ type: 'subscribe', connId: 1, packetId: 5, requests: [{ filter: 'a', options: subOptions(qos) }] })]);
    await port.count(2);
    await settle();
    port.posted.length = 0;
    store.gated = true;
    return { shard, port, store, clock };
  }
  const publishes = (port: Port): Extract<SessionEffect, { type: 'publish' }>[] =>
    port.effects().filter((e): e is Extract<SessionEffect, { type: 'publish' }> => e.type === 'publish');

  it('posts a QoS 1 copy at once; its write waits DEFER_WRITE_MS for the ack, and the publisher\'s ticket for the write', async () => {
    const { shard, port, store, clock } = await subscribed(1);
    shard.handleBatch([ev(deliverEvent(message('a'), 1)), { t: 'ticket', id: 9 }]);
    await settle();
    assert.deepEqual(publishes(port).map((e) => [e.connId, e.publish.qos, e.publish.message.topic]), [[1, 1, 'a']], 'sent at once');
    assert.equal(store.waiting.length, 0, 'not written yet: the subscriber may acknowledge it first');
    clock.advance(DEFER_WRITE_MS - 1);
    await settle();
    assert.equal(store.waiting.length, 0, 'still waiting');
    assert.deepEqual(port.tickets(), [], 'the publisher is not acknowledged: the copy is neither durable nor acknowledged');
    clock.advance(1);
    assert.equal(store.waiting.length, 1, 'written when due, with nothing else to flush');
    assert.deepEqual(store.waiting[0]!.ops.map((o) => o.op), ['putMessage']);
    await settle();
    assert.deepEqual(port.tickets(), [], 'the ticket waits for that commit');
    store.release();
    await port.ticket(9);
    assert.equal(publishes(port).length, 1, 'sent once');
  });

  it('a copy acknowledged before its write is never written, and that acknowledgement answers the publisher\'s ticket', async () => {
    const { shard, port, store, clock } = await subscribed(1);
    shard.handleBatch([ev(deliverEvent(message('a', 'one'), 1)), { t: 'ticket', id: 1 }]);
    shard.handleBatch([ev(deliverEvent(message('a', 'two'), 1)), { t: 'ticket', id: 2 }]);
    const [first, second] = publishes(port).map((e) => e.publish);
    assert.equal(Buffer.from(second!.message.payload).toString(), 'two');
    shard.handleBatch([ev({ type: 'puback', connId: 1, packetId: second!.packetId! })]);
    await settle();
    assert.equal(store.waiting.length, 0, 'nothing to write: one copy acknowledged, the other not due');
    assert.deepEqual(port.tickets(), [], 'ticket 2 waits behind ticket 1, whose copy is neither durable nor acknowledged');
    clock.advance(DEFER_WRITE_MS);
    assert.equal(store.waiting.length, 1);
    const ops = store.waiting[0]!.ops;
    assert.deepEqual(ops.map((o) => (o.op === 'putMessage' ? Buffer.from(o.message.message.payload).toString() : o.op)), ['one'], 'only the unacknowledged copy is written, and no delete');
    store.release();
    await port.ticket(2);
    assert.deepEqual(port.tickets(), [1, 2], 'in order');
    const stored = await store.inner.loadAll();
    assert.deepEqual(stored.find((x) => x.meta.clientId === 'c1')?.messages.map((m) => [Buffer.from(m.message.payload).toString(), m.state, m.packetId]), [['one', 'inflight', first!.packetId]]);

    // Acknowledged in time, a copy answers its ticket with no commit at all.
    shard.handleBatch([ev(deliverEvent(message('a', 'three'), 1)), { t: 'ticket', id: 3 }]);
    const third = publishes(port)[2]!.publish;
    shard.handleBatch([ev({ type: 'puback', connId: 1, packetId: third.packetId! })]);
    await port.ticket(3);
    clock.advance(DEFER_WRITE_MS);
    await settle();
    assert.equal(store.waiting.length, 0, 'never written');
  });

  it('a held copy\'s later state is written with it: queued behind a full window, then sent', async () => {
    const { shard, port, store, clock } = await subscribed(1, { ...LIMITS, maxInflight: 1 });
    shard.handleBatch([ev(deliverEvent(message('a', 'one'), 1)), ev(deliverEvent(message('a', 'two'), 1))]);
    const [first] = publishes(port).map((e) => e.publish);
    assert.equal(publishes(port).length, 1, 'the window holds one: the second copy is queued');
    shard.handleBatch([ev({ type: 'puback', connId: 1, packetId: first!.packetId! })]);
    const second = publishes(port)[1]!.publish;
    assert.equal(Buffer.from(second.message.payload).toString(), 'two');
    clock.advance(DEFER_WRITE_MS);
    assert.equal(store.waiting.length, 1);
    const ops = store.waiting[0]!.ops;
    assert.deepEqual(ops.map((o) => (o.op === 'putMessage' ? [o.op, o.message.state, o.message.packetId] : [o.op])), [['putMessage', 'inflight', second.packetId]], 'one put, in its sent state; no update');
    store.release();
    await settle();
    const stored = await store.inner.loadAll();
    assert.deepEqual(stored[0]?.messages.map((m) => [Buffer.from(m.message.payload).toString(), m.state, m.packetId]), [['two', 'inflight', second.packetId]]);
  });

  it('a copy whose queued state is already written is sent only once its update to inflight is durable (a crash would resend it as new)', async () => {
    const { shard, port, store, clock } = await subscribed(1, { ...LIMITS, maxInflight: 1 });
    shard.handleBatch([ev(deliverEvent(message('a', 'one'), 1)), ev(deliverEvent(message('a', 'two'), 1))]);
    const [first] = publishes(port).map((e) => e.publish);
    clock.advance(DEFER_WRITE_MS);
    assert.deepEqual(store.waiting[0]!.ops.map((o) => (o.op === 'putMessage' ? o.message.state : o.op)), ['inflight', 'queued'], 'both held copies written when due');
    store.release();
    await settle();
    shard.handleBatch([ev({ type: 'puback', connId: 1, packetId: first!.packetId! })]);
    assert.equal(store.waiting.length, 1);
    assert.deepEqual(store.waiting[0]!.ops.map((o) => (o.op === 'updateMessage' ? [o.op, o.state] : [o.op])), [['deleteMessage'], ['updateMessage', 'inflight']]);
    await settle();
    assert.equal(publishes(port).length, 1, "'two' waits: the store still says it was never sent");
    store.release();
    await port.count(port.posted.length + 1, "'two' after the commit");
    const second = publishes(port)[1]!.publish;
    assert.deepEqual([Buffer.from(second.message.payload).toString(), second.dup], ['two', false]);
    const stored = await store.inner.loadAll();
    assert.deepEqual(stored[0]?.messages.map((m) => [Buffer.from(m.message.payload).toString(), m.state, m.packetId]), [['two', 'inflight', second.packetId]]);
  });

  it('held copies are written before a later op of their session that must not overtake them, and at shutdown', async () => {
    const { shard, port, store } = await subscribed(1);
    shard.handleBatch([ev(deliverEvent(message('a', 'one'), 1)), { t: 'ticket', id: 1 }]);
    shard.handleBatch([ev({ type: 'disconnect', connId: 1, kind: 'normal' })]);
    assert.equal(store.waiting.length, 1, 'the disconnect commits at once');
    assert.deepEqual(store.waiting[0]!.ops.map((o) => o.op), ['putMessage', 'putMeta'], 'the held copy first');
    store.release();
    await port.ticket(1);

    shard.handleBatch([ev(connect({ expiry: 60, connId: 2 })), ev({ type: 'subscribe', connId: 2, packetId: 6, requests: [{ filter: 'b', options: subOptions(1) }] })]);
    store.release();
    await settle();
    shard.handleBatch([ev(deliverEvent(message('b', 'two'), 1))]);
    await settle();
    assert.equal(store.waiting.length, 0, 'held');
    const closing = shard.shutdown();
    await settle();
    assert.deepEqual(store.waiting[0]?.ops.map((o) => o.op), ['putMessage'], 'shutdown writes it');
    store.release();
    await closing;
  });

  it('a batch without ops goes out at once even when its flush writes held copies that came due, so the next batch cannot overtake it', async () => {
    const { shard, port, store, clock } = await subscribed(1);
    store.gated = false;
    shard.handleBatch([ev(connect({ clientId: 'x', connId: 2, cleanStart: true }), 'x'), ev({ type: 'subscribe', connId: 2, packetId: 1, requests: [{ filter: 'a', options: subOptions(1) }] }, 'x')]);
    await settle();
    store.gated = true;
    port.posted.length = 0;
    shard.handleBatch([ev(deliverEvent(message('a', 'held'), 1))]);
    clock.t += DEFER_WRITE_MS; // due, but its timer has not fired: the next flush writes it
    shard.handleBatch([ev(deliverEvent(message('a', 'x-one'), 1), 'x')]);
    assert.equal(store.waiting.length, 1, 'the due copy is being written');
    shard.handleBatch([ev(deliverEvent(message('a', 'x-two'), 1), 'x')]);
    const toX = (): string[] => publishes(port).flatMap((e) => (e.connId === 2 ? [Buffer.from(e.publish.message.payload).toString()] : []));
    assert.deepEqual(toX(), ['x-one', 'x-two'], 'in order, neither waiting for the held copy of another session');
    store.release();
    await settle();
    assert.deepEqual(toX(), ['x-one', 'x-two'], 'and each once');
  });

  it('copies to offline sessions and QoS 2 copies are written with their batch', async () => {
    const { shard, store } = await subscribed(2);
    shard.handleBatch([ev(deliverEvent(message('a', 'exactly once'), 2))]);
    assert.equal(store.waiting.length, 1);
    store.release();
    await settle();
    shard.handleBatch([ev({ type: 'disconnect', connId: 1, kind: 'normal' })]);
    store.release();
    await settle();
    shard.handleBatch([ev(deliverEvent(message('a', 'queued'), 1))]);
    assert.deepEqual(store.waiting.map((w) => w.ops.map((o) => o.op)), [['putMessage']]);
  });

  it('with deferWriteMs 0 every copy is written with its batch', async () => {
    const store = new GatedStore();
    store.gated = false;
    const port = new Port();
    const shard = new Shard(port, store, LIMITS, new FakeClock(), 0);
    await shard.start();
    shard.handleBatch([ev(connect({ expiry: 60 })), ev({ type: 'subscribe', connId: 1, packetId: 5, requests: [{ filter: 'a', options: subOptions(1) }] })]);
    await port.count(2);
    store.gated = true;
    shard.handleBatch([ev(deliverEvent(message('a'), 1)), { t: 'ticket', id: 9 }]);
    assert.deepEqual(store.waiting.map((w) => w.ops.map((o) => o.op)), [['putMessage']]);
  });

  it('a copy behind a held effect of its connection waits for that effect, in order', async () => {
    const store = new GatedStore();
    store.gated = false;
    const { shard, port } = await started(store);
    store.gated = true;
    shard.handleBatch([ev(connect({ expiry: 60 })), ev(deliverEvent(message('a'), 1))]);
    await settle();
    assert.deepEqual(port.posted, [], 'the CONNACK waits for its commit, and the PUBLISH behind it');
    store.release();
    await port.count(1);
    assert.deepEqual(types(port.effects()), ['connack', 'flow', 'publish']);
    // Nothing is held for the connection any more: the next copy goes at once.
    shard.handleBatch([ev(deliverEvent(message('a', 'next'), 1))]);
    assert.deepEqual(types(port.effects()), ['connack', 'flow', 'publish', 'publish']);
  });

  it('QoS 2 copies wait for their commit (exactly once needs the copy stored first)', async () => {
    const { shard, port, store } = await subscribed(2);
    shard.handleBatch([ev(deliverEvent(message('a'), 2))]);
    await settle();
    assert.deepEqual(publishes(port), []);
    store.release();
    await port.count(1);
    assert.deepEqual(publishes(port).map((e) => e.publish.qos), [2]);
  });
});

describe('Shard: a clean QoS 1 subscriber behind a backlog (issue 23)', () => {
  const WINDOW = 4;
  const sent = (port: Port): Extract<SessionEffect, { type: 'publish' }>[] =>
    port.effects().filter((e): e is Extract<SessionEffect, { type: 'publish' }> => e.type === 'publish');

  it('refills its window from the PUBACKs of one batch, in that batch, with no commit to wait for', async () => {
    // Gated from the start: a commit anywhere would hold what follows and fail the asserts below.
    const store = new GatedStore();
    store.gated = false;
    const { shard, port } = await started(store, new FakeClock(), { ...LIMITS, maxInflight: WINDOW, maxQueuedMessages: 0 });
    store.gated = true;
    shard.handleBatch([ev(connect({ expiry: 0, cleanStart: true }))]);
    shard.handleBatch([ev({ type: 'subscribe', connId: 1, packetId: 5, requests: [{ filter: 'a', options: subOptions(1) }] })]);
    shard.handleBatch(Array.from({ length: 3 * WINDOW }, (_, i) => ev(deliverEvent(message('a', `m${i}`, { qos: 1 }), 1))));
    assert.deepEqual(sent(port).map((e) => new TextDecoder().decode(e.publish.message.payload)), ['m0', 'm1', 'm2', 'm3'], 'one window sent, the rest queued');
    for (let round = 1; round <= 2; round++) {
      const window = sent(port).slice(-WINDOW);
      const before = sent(port).length;
      // Synchronously: the refill is posted by handleBatch itself, not after a commit or a timer.
      shard.handleBatch(window.map((e) => ev({ type: 'puback', connId: 1, packetId: e.publish.packetId! })));
      const refill = sent(port).slice(before);
      assert.deepEqual(
        refill.map((e) => new TextDecoder().decode(e.publish.message.payload)),
        Array.from({ length: WINDOW }, (_, i) => `m${round * WINDOW + i}`),
        `round ${round}: the ${WINDOW} PUBACKs of one batch send the next ${WINDOW} queued messages in order`,
      );
    }
    assert.equal(store.waiting.length, 0, 'a clean session writes nothing: no commit was needed for any of it');
    assert.equal(shard.session('c1')!.queue.length, 0, 'the backlog drained');
  });
});

describe('Shard: timers', () => {
  it('fires the session expiry at its deadline and drops the session', async () => {
    const { shard, port, clock } = await started();
    shard.handleBatch([ev(connect({ expiry: 5 })), ev({ type: 'disconnect', connId: 1, kind: 'normal' })]);
    assert.deepEqual(clock.dueTimes(), [T0 + 5000]);
    clock.advance(4999);
    assert.equal(shard.sessionCount, 1);
    clock.advance(1);
    assert.equal(shard.sessionCount, 0);
    await port.count(2);
    assert.ok(port.effects().some((e) => e.type === 'routes' && e.removeAll));
    assert.deepEqual(clock.dueTimes(), []);
  });

  it('a delayed will fires at its time, then the timer is rearmed for the expiry; reconnecting cancels it', async () => {
    const { shard, port, clock } = await started();
    shard.handleBatch([ev(connect({ expiry: 30, will: will('w', 10) })), ev({ type: 'disconnect', connId: 1, kind: 'abnormal' })]);
    assert.deepEqual(clock.dueTimes(), [T0 + 10_000]);
    clock.advance(10_000);
    await port.count(2);
    assert.deepEqual(port.effects().filter((e) => e.type === 'route').map((e) => e.type === 'route' && e.message.topic), ['w']);
    assert.deepEqual(clock.dueTimes(), [T0 + 30_000]);
    shard.handleBatch([ev(connect({ connId: 2, expiry: 30 }))]);
    assert.deepEqual(clock.dueTimes(), [], 'a connected session needs no timer');
    clock.advance(60_000);
    assert.equal(shard.sessionCount, 1);
  });
});

describe('Shard: lifecycle', () => {
  it('restores committed sessions at start: routes, and a will due for a session that was connected', async () => {
    const store = new MemorySessionStore();
    const first = await started(store);
    first.shard.handleBatch([
      ev(connect({ expiry: 60, will: will('w') })),
      ev({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a/#', options: subOptions(1) }] }),
      ev({ type: 'disconnect', connId: 1, kind: 'normal' }),
      ev(deliverEvent(message('a/1'), 1)),
      ev(connect({ expiry: 60, clientId: 'live', will: will('lw') }), 'live'),
    ]);
    await first.port.count(1);
    // no shutdown: the process "dies" here; its store holds what was committed
    const port = new Port();
    const clock = new FakeClock();
    clock.t = T0 + 1000;
    const shard = new Shard(port, store, LIMITS, clock);
    await shard.start();
    const ready = port.posted[0];
    assert.ok(ready?.t === 'ready');
    assert.equal(ready.sessions, 2);
    assert.deepEqual(ready.effects.filter((e) => e.type === 'route').map((e) => e.type === 'route' && e.message.topic), ['lw']);
    assert.deepEqual(ready.effects.filter((e) => e.type === 'routes').map((e) => e.type === 'routes' && e.add.map((a) => a.filter)), [['a/#'], []]);
    assert.deepEqual(shard.session('c1')?.queue.toArray().map((m) => m.message.topic), ['a/1']);
    assert.deepEqual(clock.dueTimes(), [T0 + 60_000, T0 + 61_000]);
  });

  it('holds batches that arrive before the load finished, then handles them against the loaded sessions', async () => {
    const store = new GatedStore();
    store.gated = false;
    const seed = await started(store);
    seed.shard.handleBatch([ev(connect({ expiry: 60 })), ev({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a', options: subOptions(1) }] }), ev({ type: 'disconnect', connId: 1, kind: 'normal' })]);
    await seed.port.count(1);
    const port = new Port();
    const shard = new Shard(port, store, LIMITS, new FakeClock());
    const starting = shard.start();
    shard.handleBatch([ev(connect({ connId: 2, expiry: 60 })), { t: 'ticket', id: 9 }]);
    await starting;
    await port.count(2);
    const connack = port.effects().find((e) => e.type === 'connack');
    assert.deepEqual(connack, { type: 'connack', connId: 2, clientId: 'c1', sessionPresent: true });
    assert.deepEqual(Object.keys(shard.session('c1')!.subscriptions), ['a']);
    assert.deepEqual(port.tickets(), [9]);
  });

  it('shutdown waits for the commit in flight, releases its effects, clears timers and closes the store', async () => {
    const store = new GatedStore();
    store.gated = false;
    const { shard, port, clock } = await started(store);
    shard.handleBatch([ev(connect({ expiry: 60 })), ev({ type: 'disconnect', connId: 1, kind: 'normal' })]);
    store.gated = true;
    shard.handleBatch([ev(connect({ connId: 2, expiry: 60 })), { t: 'ticket', id: 1 }]);
    const closing = shard.shutdown();
    await settle();
    assert.equal(store.closed, false);
    store.release();
    await closing;
    assert.equal(store.closed, true);
    assert.deepEqual(port.tickets(), [1]);
    assert.deepEqual(clock.dueTimes(), []);
  });
});

describe('Shard: a deliver entry (one message for several sessions)', () => {
  /** What the shard posts and what its store holds after `batch`, once the sessions in `setup` exist. */
  async function outcome(setup: ToShard[], batch: ToShard[], limits = LIMITS): Promise<{ effects: SessionEffect[]; stored: StoredSession[] }> {
    const store = new GatedStore();
    store.gated = false;
    const { shard, port, clock } = await started(store, new FakeClock(), limits);
    shard.handleBatch(setup);
    await port.count(1, 'the setup effects');
    port.posted.length = 0;
    const committed = store.committed.length;
    shard.handleBatch([...batch, { t: 'ticket', id: 1 }]);
    await settle();
    clock.advance(DEFER_WRITE_MS); // the online session's copy is written after waiting for its ack
    await port.ticket(1);
    assert.ok(store.committed.length > committed, 'the deliveries were stored');
    return { effects: port.effects(), stored: normalizeSessions(await store.inner.loadAll()) };
  }

  it('is handled as one deliver event per listed session, in order, each with its own QoS, retain flag and subscription ids', async () => {
    const m = message('t/a', 'x');
    const setup = [
      ev(connect({ clientId: 'on', expiry: 60 }), 'on'),
      ev(connect({ clientId: 'off', connId: 2, expiry: 60 }), 'off'),
      ev({ type: 'disconnect', connId: 2, kind: 'normal' }, 'off'),
    ];
    const entry: ToShard = { t: 'deliver', message: m, clientIds: ['on', 'off', 'nobody', 'on'], delivery: [1, 2 | 4, 1, 0 | 4], subscriptionIds: [[3], [], [], [4, 5]] };
    const events: ToShard[] = [
      ev({ type: 'deliver', message: m, qos: 1, retain: false, subscriptionIds: [3] }, 'on'),
      ev({ type: 'deliver', message: m, qos: 2, retain: true, subscriptionIds: [] }, 'off'),
      ev({ type: 'deliver', message: m, qos: 1, retain: false, subscriptionIds: [] }, 'nobody'),
      ev({ type: 'deliver', message: m, qos: 0, retain: true, subscriptionIds: [4, 5] }, 'on'),
    ];
    const viaEntry = await outcome(setup, [entry]);
    const viaEvents = await outcome(setup, events);
    assert.deepEqual(viaEntry, viaEvents);
    // Not vacuous: the online session got both copies as sent, the offline one a stored copy.
    const publishes = viaEntry.effects.flatMap((e) => (e.type === 'publish' ? [[e.publish.qos, e.publish.retain, e.publish.subscriptionIds]] : []));
    assert.deepEqual(publishes, [[1, false, [3]], [0, true, [4, 5]]]);
    assert.deepEqual(viaEntry.stored.map((st) => [st.meta.clientId, st.messages.map((m) => [m.seq, m.state, m.qos, m.retain])]), [['off', [[1, 'queued', 2, true]]], ['on', [[1, 'inflight', 1, false]]]]);
  });

  it('is handled as deliver events also where an offline session\'s queue is full, must evict, or the message has expired', async () => {
    const limits = { ...LIMITS, maxQueuedMessages: 2 };
    const offline = (clientId: string, connId: number, queued: (0 | 1)[]): ToShard[] => [
      ev(connect({ clientId, connId, expiry: 60 }), clientId),
      ev({ type: 'disconnect', connId, kind: 'normal' }, clientId),
      ...queued.map((qos, k) => ev({ type: 'deliver', message: message('t/q', `${clientId}${k}`), qos, retain: false, subscriptionIds: [] }, clientId)),
    ];
    const setup = [...offline('room', 1, [1]), ...offline('full', 2, [1, 1]), ...offline('evict', 3, [0, 1]), ...offline('empty', 4, [])];
    const ids = ['room', 'full', 'evict', 'empty'];
    const entry = (m: ReturnType<typeof message>): ToShard => ({ t: 'deliver', message: m, clientIds: ids, delivery: ids.map(() => 1), subscriptionIds: ids.map(() => []) });
    const events = (m: ReturnType<typeof message>): ToShard[] => ids.map((c) => ev({ type: 'deliver', message: m, qos: 1, retain: false, subscriptionIds: [] }, c));
    const live = message('t/a', 'new');
    const stale = message('t/a', 'stale', { expiresAt: T0 - 1 });
    const viaEntry = await outcome(setup, [entry(live), entry(stale)], limits);
    const viaEvents = await outcome(setup, [...events(live), ...events(stale)], limits);
    // The entry gives its copies one seq above every session's (see Shard.nextSeq), events each
    // session's next: seqs differ, the order of each session's messages may not.
    const withoutSeqs = (o: typeof viaEntry): unknown => ({ ...o, stored: o.stored.map((st) => ({ ...st, messages: st.messages.map(({ seq: _seq, ...m }) => m) })) });
    assert.deepEqual(withoutSeqs(viaEntry), withoutSeqs(viaEvents));
    // Not vacuous: each case happened.
    const payloads = (c: string): string[] => viaEntry.stored.find((st) => st.meta.clientId === c)!.messages.map((m) => new TextDecoder().decode(m.message.payload));
    assert.deepEqual([payloads('room'), payloads('full'), payloads('evict'), payloads('empty')], [['room0', 'new'], ['full0', 'full1'], ['evict1', 'new'], ['new']]);
    assert.equal(viaEntry.effects.filter((e) => e.type === 'event' && e.name === 'session.queue.drop').length, 2, 'full dropped the new message, evict its QoS 0 one');
  });
});

describe('Shard: a deliver entry shares one copy among offline sessions', () => {
  const offline = (clientId: string, connId: number): ToShard[] => [ev(connect({ clientId, connId, expiry: 60 }), clientId), ev({ type: 'disconnect', connId, kind: 'normal' }, clientId)];
  const entry = (m: ReturnType<typeof message>, clientIds: string[]): ToShard => ({ t: 'deliver', message: m, clientIds, delivery: clientIds.map(() => 1), subscriptionIds: clientIds.map(() => []) });
  const seqs = (shard: Shard, clientId: string): number[] => [...shard.session(clientId)!.inflight, ...shard.session(clientId)!.queue].map((m) => m.seq).sort((a, b) => a - b);

  it('queues one frozen StoredMessage for all of them, under one seq above each session\'s, and stores that object', async () => {
    const store = new GatedStore();
    store.gated = false;
    const { shard, port } = await started(store);
    const [m1, m2, m3] = [message('t', '1'), message('t', '2'), message('t', '3')];
    // x has used seqs 1 and 2 (single deliveries); y and z none.
    shard.handleBatch([...offline('x', 1), ...offline('y', 2), ...offline('z', 3), ev(deliverEvent(message('t', 'a'), 1), 'x'), ev(deliverEvent(message('t', 'b'), 1), 'x')]);
    await port.count(1);
    const before = store.committed.length;
    shard.handleBatch([entry(m1, ['x', 'y', 'z']), entry(m2, ['y', 'x']), { t: 'ticket', id: 1 }]);
    await port.count(2);
    const last = (c: string, back = 1): unknown => shard.session(c)!.queue.toArray().at(-back);
    assert.equal(last('x', 2), last('y', 2), 'x and y share the first entry\'s copy');
    assert.equal(last('y', 2), last('z'), 'and so does z');
    assert.equal(last('x'), last('y'));
    assert.ok(Object.isFrozen(last('z')));
    assert.deepEqual([seqs(shard, 'x'), seqs(shard, 'y'), seqs(shard, 'z')], [[1, 2, 3, 4], [3, 4], [3]]);
    // One putShared op per entry, with the shared object itself.
    const ops = store.committed.slice(before).flat();
    assert.deepEqual(ops.map((o) => (o.op === 'putShared' ? [o.op, o.clientIds] : [o.op])), [['putShared', ['x', 'y', 'z']], ['putShared', ['y', 'x']]]);
    assert.ok(ops[0]!.op === 'putShared' && ops[0]!.message === last('z'));

    // y comes back: its copies go inflight as its own objects; x's stay shared and untouched.
    shard.handleBatch([ev(connect({ clientId: 'y', connId: 4, expiry: 60 }), 'y'), { t: 'ticket', id: 2 }]);
    await port.count(3);
    const y = shard.session('y')!;
    assert.deepEqual(y.inflight.toArray().map((m) => [m.seq, m.state, m.packetId !== null]), [[3, 'inflight', true], [4, 'inflight', true]]);
    assert.ok(y.inflight.toArray().every((m) => !Object.isFrozen(m) && m !== last('x') && m !== last('x', 2)));
    assert.deepEqual(shard.session('x')!.queue.toArray().slice(-2).map((m) => [m.seq, m.state, m.packetId]), [[3, 'queued', null], [4, 'queued', null]]);

    // The shard's counter stays above every session's, y's included after its resume.
    shard.handleBatch([entry(m3, ['x', 'y', 'z']), { t: 'ticket', id: 3 }]);
    await port.count(4);
    assert.deepEqual([seqs(shard, 'x'), seqs(shard, 'y'), seqs(shard, 'z')], [[1, 2, 3, 4, 5], [3, 4, 5], [3, 5]]);
  });

  it('gives a session listed twice in one entry (a shared subscription besides its own) a second seq of its own, and later entries a higher one', async () => {
    const { shard, port } = await started();
    shard.handleBatch([...offline('x', 1), ...offline('y', 2), entry(message('t', '1'), ['x', 'y', 'x']), entry(message('t', '2'), ['y', 'x']), { t: 'ticket', id: 1 }]);
    await port.count(1);
    assert.deepEqual([seqs(shard, 'x'), seqs(shard, 'y')], [[1, 2, 3], [1, 3]]);
    const x = shard.session('x')!.queue.toArray();
    assert.ok(Object.isFrozen(x[0]) && !Object.isFrozen(x[1]), 'the repeat is an own copy');
    assert.deepEqual(x.map((m) => new TextDecoder().decode(m.message.payload)), ['1', '1', '2']);
  });

  it('keeps seqs above those of sessions restored from the store', async () => {
    const store = new MemorySessionStore();
    const first = await started(store);
    first.shard.handleBatch([...offline('x', 1), ...offline('y', 2), ...[1, 2, 3].map((i) => ev(deliverEvent(message('t', String(i)), 1), 'x')), { t: 'ticket', id: 1 }]);
    await first.port.count(1); // committed: what a restarted shard loads
    const { shard, port } = await started(store);
    shard.handleBatch([entry(message('t', '4'), ['y', 'x']), { t: 'ticket', id: 1 }]);
    await port.count(1);
    assert.deepEqual([seqs(shard, 'x'), seqs(shard, 'y')], [[1, 2, 3, 4], [4]]);
  });
});

describe('coalesceSharedPuts', () => {
  it('folds the puts of each shared copy after `from` into one putShared (its existing one, or a new one at the first put\'s place), keeping every other op in order', () => {
    const m = message('t', 'x');
    const shared1 = Object.freeze({ seq: 7, state: 'queued' as const, packetId: null, qos: 1 as const, retain: false, subscriptionIds: [], message: m });
    const shared2 = Object.freeze({ ...shared1, qos: 2 as const });
    const shared3 = Object.freeze({ ...shared1, retain: true });
    const own = { ...shared1, seq: 8 };
    const before: StoreOp = { op: 'putMessage', clientId: 'z', message: shared1 };
    // shared3's sessions were queued directly (Shard.deliverEntry): its putShared exists already.
    const existing: Extract<StoreOp, { op: 'putShared' }> = { op: 'putShared', clientIds: ['e'], message: shared3 };
    const ops: StoreOp[] = [
      before,
      { op: 'putMessage', clientId: 'a', message: shared1 },
      existing,
      { op: 'deleteMessage', clientId: 'a', seq: 3 },
      { op: 'putMessage', clientId: 'b', message: own },
      { op: 'putMessage', clientId: 'b', message: shared1 },
      { op: 'putMessage', clientId: 'c', message: shared2 },
      { op: 'updateMessage', clientId: 'x', seq: 1, state: 'inflight', packetId: 4 },
      { op: 'putMessage', clientId: 'd', message: shared2 },
      { op: 'putMessage', clientId: 'f', message: shared3 },
    ];
    coalesceSharedPuts(ops, 1, new Map<StoredMessage, Extract<StoreOp, { op: 'putShared' }> | null>([[shared1, null], [shared2, null], [shared3, existing]]));
    assert.deepEqual(ops, [
      before,
      { op: 'putShared', clientIds: ['a', 'b'], message: shared1 },
      { op: 'putShared', clientIds: ['e', 'f'], message: shared3 },
      { op: 'deleteMessage', clientId: 'a', seq: 3 },
      { op: 'putMessage', clientId: 'b', message: own },
      { op: 'putShared', clientIds: ['c', 'd'], message: shared2 },
      { op: 'updateMessage', clientId: 'x', seq: 1, state: 'inflight', packetId: 4 },
    ]);
    assert.equal(ops[0], before, 'ops before `from` are left alone');
    assert.equal(ops[2], existing, 'the existing putShared is kept, in its place');
  });
});
