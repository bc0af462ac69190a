// The SessionStore contract, registered as node:test cases for one implementation. Run by
// session-store.test.ts for the memory and the SQLite store; both must pass unchanged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppMessage } from '../../../src/protocol/message.js';
import { StorageError } from '../../../src/storage/errors.js';
import type { BeforeOpHook } from '../../../src/storage/store-hooks.js';
import type { SessionMeta, SessionStore, StoredMessage, StoredSession, StoreOp } from '../../../src/storage/types.js';
import { normalizeSessions, toPlain } from './normalize.js';

export interface SessionStoreHandle {
  store: SessionStore;
  /** Opens the same data again; the contract closes `store` before calling it. */
  reopen?: () => Promise<SessionStore>;
}

export type SessionStoreFactory = (hooks?: { beforeOp?: BeforeOpHook }) => Promise<SessionStoreHandle>;

export function meta(clientId: string, extra: Partial<SessionMeta> = {}): SessionMeta {
  return { clientId, username: null, protocolVersion: 5, expiryIntervalSec: 3600, disconnectedAt: null, will: null, ...extra };
}

export function appMessage(topic: string, payload: number[], extra: Partial<AppMessage> = {}): AppMessage {
  return { topic, payload: Uint8Array.from(payload), qos: 1, retain: false, publisherId: 'pub', ...extra };
}

export function stored(seq: number, extra: Partial<StoredMessage> = {}): StoredMessage {
  return { seq, state: 'queued', packetId: null, qos: 1, retain: false, subscriptionIds: [], message: appMessage(`t/${seq}`, [seq & 0xff]), ...extra };
}

async function load(store: SessionStore): Promise<StoredSession[]> {
  return normalizeSessions(await store.loadAll());
}

async function loadOne(store: SessionStore, clientId: string): Promise<StoredSession | undefined> {
  return (await load(store)).find((s) => s.meta.clientId === clientId);
}

/** Runs `body` on a fresh store and always closes it. */
async function withStore(factory: SessionStoreFactory, body: (store: SessionStore, handle: SessionStoreHandle) => Promise<void>, hooks?: { beforeOp?: BeforeOpHook }): Promise<void> {
  const handle = await factory(hooks);
  try {
    await body(handle.store, handle);
  } finally {
    await handle.store.close().catch(() => undefined);
  }
}

const richWill = {
  delaySec: 30,
  message: appMessage('will/x', [], {
    qos: 2,
    retain: true,
    expiresAt: 1_700_000_000_000,
    properties: { payloadFormatIndicator: true, contentType: 'text/plain', responseTopic: 'r/1', correlationData: Uint8Array.from([0, 255, 7]), userProperties: { a: '1', b: ['x', 'y'] } },
  }),
};

export function sessionStoreContract(name: string, factory: SessionStoreFactory): void {
  test(`${name}: an empty store loads no sessions`, () =>
    withStore(factory, async (store) => {
      assert.deepEqual(await store.loadAll(), []);
      await store.apply([]);
      assert.deepEqual(await store.loadAll(), []);
    }));

  test(`${name}: putMeta stores and replaces the meta, will included`, () =>
    withStore(factory, async (store) => {
      const m1 = meta('c1', { protocolVersion: 4, expiryIntervalSec: 0xffffffff, disconnectedAt: 1234, will: richWill });
      await store.apply([{ op: 'putMeta', meta: m1 }, { op: 'putMeta', meta: meta('c2') }]);
      assert.deepEqual(await load(store), [
        { meta: toPlain(m1), subscriptions: {}, inboundQos2: [], messages: [] },
        { meta: meta('c2'), subscriptions: {}, inboundQos2: [], messages: [] },
      ]);
      const m1b = meta('c1', { protocolVersion: 3, expiryIntervalSec: 10 });
      await store.apply([{ op: 'putMeta', meta: m1b }]);
      assert.deepEqual((await loadOne(store, 'c1'))?.meta, m1b);
    }));

  test(`${name}: subscriptions are put, replaced and deleted per filter`, () =>
    withStore(factory, async (store) => {
      const opts = { qos: 1 as const, noLocal: false, retainAsPublished: false, retainHandling: 0 as const };
      await store.apply([
        { op: 'putMeta', meta: meta('c') },
        { op: 'putSubscription', clientId: 'c', filter: 'a/+', options: opts },
        { op: 'putSubscription', clientId: 'c', filter: '#', options: { ...opts, qos: 2, subscriptionId: 268_435_455 } },
        // A legal MQTT filter that must not turn into a prototype.
        { op: 'putSubscription', clientId: 'c', filter: '__proto__', options: opts },
        { op: 'putSubscription', clientId: 'other', filter: 'x', options: opts },
      ]);
      await store.apply([
        { op: 'putSubscription', clientId: 'c', filter: 'a/+', options: { ...opts, noLocal: true, retainAsPublished: true, retainHandling: 2 } },
        { op: 'deleteSubscription', clientId: 'c', filter: '#' },
        { op: 'deleteSubscription', clientId: 'c', filter: 'never-subscribed' },
      ]);
      const subs = (await loadOne(store, 'c'))?.subscriptions;
      assert.deepEqual(Object.keys(subs ?? {}).sort(), ['__proto__', 'a/+']);
      assert.deepEqual(subs?.['a/+'], { ...opts, noLocal: true, retainAsPublished: true, retainHandling: 2 });
      assert.equal(Object.getPrototypeOf(subs), Object.prototype);
    }));

  test(`${name}: messages come back ordered by seq with every field intact`, () =>
    withStore(factory, async (store) => {
      const m5 = stored(5, { state: 'inflight', packetId: 9, qos: 2, retain: true, subscriptionIds: [3, 1], message: richWill.message });
      const m2 = stored(2, { message: appMessage('t/2', [], { qos: 0 }) });
      const m40 = stored(40, { state: 'released', packetId: 65535, qos: 0, message: appMessage('t/40', [1, 2, 3], { properties: {} }) });
      await store.apply([
        { op: 'putMeta', meta: meta('c') },
        { op: 'putMessage', clientId: 'c', message: m5 },
        { op: 'putMessage', clientId: 'c', message: m40 },
        { op: 'putMessage', clientId: 'c', message: m2 },
      ]);
      assert.deepEqual((await loadOne(store, 'c'))?.messages, toPlain([m2, m5, m40]));
      // Same seq again replaces the row.
      const m2b = stored(2, { qos: 2, message: appMessage('t/2b', [9]) });
      await store.apply([{ op: 'putMessage', clientId: 'c', message: m2b }]);
      assert.deepEqual((await loadOne(store, 'c'))?.messages.map((m) => m.message.topic), ['t/2b', 'will/x', 't/40']);
    }));

  test(`${name}: long runs of putMessage keep op order, a repeated seq ends with the later row`, () =>
    withStore(factory, async (store) => {
      const run: StoreOp[] = [];
      for (let seq = 1; seq <= 100; seq++) run.push({ op: 'putMessage', clientId: seq % 2 === 0 ? 'even' : 'odd', message: stored(seq) });
      // Same 64-row chunk as the first seq 5 in the SQLite store's multi-row INSERT.
      run.splice(10, 0, { op: 'putMessage', clientId: 'odd', message: stored(5, { message: appMessage('t/5-again', [5]) }) });
      await store.apply([
        { op: 'putMeta', meta: meta('odd') },
        { op: 'putMeta', meta: meta('even') },
        ...run,
        { op: 'deleteMessage', clientId: 'odd', seq: 7 },
        { op: 'putMessage', clientId: 'odd', message: stored(7, { state: 'inflight', packetId: 2 }) },
        ...run.slice(0, 3),
      ]);
      const [even, odd] = await load(store);
      assert.deepEqual(even?.messages.map((m) => m.seq), Array.from({ length: 50 }, (_, i) => 2 * i + 2));
      assert.deepEqual(odd?.messages.map((m) => m.seq), Array.from({ length: 50 }, (_, i) => 2 * i + 1));
      assert.equal(odd?.messages[2]?.message.topic, 't/5-again');
      assert.deepEqual([odd?.messages[3]?.state, odd?.messages[3]?.packetId], ['inflight', 2]);
      assert.deepEqual(even?.messages[49], toPlain(stored(100)));
    }));

  test(`${name}: updateMessage changes state and packet id; missing rows are no-ops`, () =>
    withStore(factory, async (store) => {
      await store.apply([
        { op: 'putMeta', meta: meta('c') },
        { op: 'putMessage', clientId: 'c', message: stored(1) },
        { op: 'putMessage', clientId: 'c', message: stored(2) },
      ]);
      await store.apply([
        { op: 'updateMessage', clientId: 'c', seq: 1, state: 'inflight', packetId: 7 },
        { op: 'updateMessage', clientId: 'c', seq: 99, state: 'inflight', packetId: 8 },
        { op: 'updateMessage', clientId: 'nobody', seq: 1, state: 'released', packetId: 8 },
      ]);
      let msgs = (await loadOne(store, 'c'))?.messages ?? [];
      assert.deepEqual(msgs.map((m) => [m.seq, m.state, m.packetId]), [[1, 'inflight', 7], [2, 'queued', null]]);
      await store.apply([{ op: 'updateMessage', clientId: 'c', seq: 1, state: 'released', packetId: 7 }, { op: 'updateMessage', clientId: 'c', seq: 2, state: 'inflight', packetId: 1 }, { op: 'updateMessage', clientId: 'c', seq: 2, state: 'queued', packetId: null }]);
      msgs = (await loadOne(store, 'c'))?.messages ?? [];
      assert.deepEqual(msgs.map((m) => [m.seq, m.state, m.packetId]), [[1, 'released', 7], [2, 'queued', null]]);
      // The rest of the message is untouched by updates.
      assert.deepEqual(msgs[0], toPlain({ ...stored(1), state: 'released', packetId: 7 }));
    }));

  test(`${name}: deleteMessage removes one message; missing rows are no-ops`, () =>
    withStore(factory, async (store) => {
      await store.apply([{ op: 'putMeta', meta: meta('c') }, ...[1, 2, 3].map((seq): StoreOp => ({ op: 'putMessage', clientId: 'c', message: stored(seq) }))]);
      await store.apply([{ op: 'deleteMessage', clientId: 'c', seq: 2 }, { op: 'deleteMessage', clientId: 'c', seq: 77 }]);
      assert.deepEqual((await loadOne(store, 'c'))?.messages.map((m) => m.seq), [1, 3]);
    }));

  test(`${name}: inbound QoS 2 packet ids are a sorted set`, () =>
    withStore(factory, async (store) => {
      await store.apply([
        { op: 'putMeta', meta: meta('c') },
        { op: 'putQos2', clientId: 'c', packetId: 300 },
        { op: 'putQos2', clientId: 'c', packetId: 2 },
        { op: 'putQos2', clientId: 'c', packetId: 300 },
        { op: 'putQos2', clientId: 'c', packetId: 65535 },
      ]);
      assert.deepEqual((await loadOne(store, 'c'))?.inboundQos2, [2, 300, 65535]);
      await store.apply([{ op: 'deleteQos2', clientId: 'c', packetId: 300 }, { op: 'deleteQos2', clientId: 'c', packetId: 4 }]);
      assert.deepEqual((await loadOne(store, 'c'))?.inboundQos2, [2, 65535]);
    }));

  test(`${name}: deleteSession removes the client's meta, subscriptions, messages and qos2 ids only`, () =>
    withStore(factory, async (store) => {
      const opts = { qos: 0 as const, noLocal: false, retainAsPublished: false, retainHandling: 0 as const };
      const fill = (c: string): StoreOp[] => [
        { op: 'putMeta', meta: meta(c) },
        { op: 'putSubscription', clientId: c, filter: 'f', options: opts },
        { op: 'putMessage', clientId: c, message: stored(1) },
        { op: 'putQos2', clientId: c, packetId: 5 },
      ];
      await store.apply([...fill('gone'), ...fill('kept')]);
      const keptBefore = await loadOne(store, 'kept');
      await store.apply([{ op: 'deleteSession', clientId: 'gone' }, { op: 'deleteSession', clientId: 'never-existed' }]);
      assert.deepEqual((await load(store)).map((s) => s.meta.clientId), ['kept']);
      assert.deepEqual(await loadOne(store, 'kept'), keptBefore);
      // Nothing of the old session resurfaces when the client id is reused.
      await store.apply([{ op: 'putMeta', meta: meta('gone') }]);
      assert.deepEqual(await loadOne(store, 'gone'), { meta: meta('gone'), subscriptions: {}, inboundQos2: [], messages: [] });
    }));

  test(`${name}: rows of a client without meta are not a session until putMeta`, () =>
    withStore(factory, async (store) => {
      await store.apply([{ op: 'putMessage', clientId: 'early', message: stored(1) }, { op: 'putQos2', clientId: 'early', packetId: 1 }]);
      assert.deepEqual(await store.loadAll(), []);
      await store.apply([{ op: 'putMeta', meta: meta('early') }]);
      assert.deepEqual((await loadOne(store, 'early'))?.messages.map((m) => m.seq), [1]);
      assert.deepEqual((await loadOne(store, 'early'))?.inboundQos2, [1]);
    }));

  test(`${name}: a batch with a failing op leaves no trace and names the op`, async () => {
    let failAt = -1;
    const beforeOp: BeforeOpHook = (_op, index) => {
      if (index === failAt) throw new Error('injected fault');
    };
    await withStore(
      factory,
      async (store) => {
        await store.apply([{ op: 'putMeta', meta: meta('c') }, { op: 'putMessage', clientId: 'c', message: stored(1) }]);
        const before = await load(store);
        failAt = 3;
        const batch: StoreOp[] = [
          { op: 'updateMessage', clientId: 'c', seq: 1, state: 'inflight', packetId: 1 },
          { op: 'putMessage', clientId: 'c', message: stored(2) },
          { op: 'putMeta', meta: meta('d') },
          { op: 'putQos2', clientId: 'c', packetId: 3 },
          { op: 'deleteSession', clientId: 'c' },
        ];
        await assert.rejects(store.apply(batch), (err: unknown) => {
          assert.ok(err instanceof StorageError, String(err));
          assert.equal(err.operation, 'putQos2');
          assert.match(String((err.cause as Error).message), /injected fault/);
          return true;
        });
        assert.deepEqual(await load(store), before);
        // The store is still usable and the same batch goes through once the fault is gone.
        failAt = -1;
        await store.apply(batch.slice(0, 4));
        assert.deepEqual((await load(store)).map((s) => [s.meta.clientId, s.messages.length, s.inboundQos2]), [['c', 2, [3]], ['d', 0, []]]);
      },
      { beforeOp },
    );
  });

  test(`${name}: concurrent apply calls take effect in call order`, () =>
    withStore(factory, async (store) => {
      const pending = [
        store.apply([{ op: 'putMeta', meta: meta('c') }, { op: 'putMessage', clientId: 'c', message: stored(1) }]),
        store.apply([{ op: 'updateMessage', clientId: 'c', seq: 1, state: 'inflight', packetId: 4 }]),
        store.apply([{ op: 'putMessage', clientId: 'c', message: stored(2) }, { op: 'deleteMessage', clientId: 'c', seq: 1 }]),
        store.apply([{ op: 'updateMessage', clientId: 'c', seq: 2, state: 'inflight', packetId: 5 }]),
        store.loadAll(),
      ];
      const results = await Promise.all(pending);
      const seen = normalizeSessions(results[4] as StoredSession[]);
      assert.deepEqual(seen[0]?.messages.map((m) => [m.seq, m.state, m.packetId]), [[2, 'inflight', 5]]);
    }));

  test(`${name}: callers cannot alias stored data`, () =>
    withStore(factory, async (store) => {
      const m = stored(1, { subscriptionIds: [1] });
      const md = meta('c', { will: structuredClone(richWill) });
      await store.apply([{ op: 'putMeta', meta: md }, { op: 'putMessage', clientId: 'c', message: m }]);
      const expected = await load(store);
      // Mutating what was passed in...
      m.subscriptionIds.push(2);
      m.message.payload[0] = 99;
      md.will!.message.properties!.correlationData![0] = 42;
      md.expiryIntervalSec = 1;
      // ...or what came out must not change the store.
      const out = await store.loadAll();
      out[0]!.messages[0]!.message.payload[0] = 77;
      out[0]!.messages.pop();
      out[0]!.meta.clientId = 'hijacked';
      assert.deepEqual(await load(store), expected);
    }));

  test(`${name}: a closed store rejects with StorageError`, async () => {
    const { store } = await factory();
    await store.close();
    await assert.rejects(store.apply([{ op: 'putMeta', meta: meta('c') }]), StorageError);
    await assert.rejects(store.loadAll(), StorageError);
  });

  test(`${name}: data survives close and reopen (if the store persists)`, async (t) => {
    const handle = await factory();
    if (handle.reopen === undefined) {
      await handle.store.close();
      t.skip('not a persistent store');
      return;
    }
    const opts = { qos: 2 as const, noLocal: true, retainAsPublished: false, retainHandling: 1 as const, subscriptionId: 7 };
    await handle.store.apply([
      { op: 'putMeta', meta: meta('c', { will: richWill, disconnectedAt: 99 }) },
      { op: 'putSubscription', clientId: 'c', filter: 'a/#', options: opts },
      { op: 'putMessage', clientId: 'c', message: stored(1, { message: richWill.message }) },
      { op: 'putMessage', clientId: 'c', message: stored(2, { state: 'inflight', packetId: 3 }) },
      { op: 'putQos2', clientId: 'c', packetId: 11 },
    ]);
    const before = await load(handle.store);
    await handle.store.close();
    const reopened = await handle.reopen();
    try {
      assert.deepEqual(await load(reopened), before);
      await reopened.apply([{ op: 'deleteMessage', clientId: 'c', seq: 1 }]);
      assert.deepEqual((await loadOne(reopened, 'c'))?.messages.map((m) => m.seq), [2]);
    } finally {
      await reopened.close();
    }
  });
}
