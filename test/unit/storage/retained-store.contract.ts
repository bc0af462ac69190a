// The RetainedStore contract, registered as node:test cases for one implementation; run by
// retained-store.test.ts for the memory and the SQLite store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppMessage } from '../../../src/protocol/message.js';
import { StorageError } from '../../../src/storage/errors.js';
import type { BeforeChangeHook } from '../../../src/storage/store-hooks.js';
import type { RetainedStore } from '../../../src/storage/types.js';
import { normalizeRetained, toPlain } from './normalize.js';

export interface RetainedStoreHandle {
  store: RetainedStore;
  /** Opens the same data again; the contract closes `store` before calling it. */
  reopen?: () => Promise<RetainedStore>;
}

export type RetainedStoreFactory = (hooks?: { beforeChange?: BeforeChangeHook }) => Promise<RetainedStoreHandle>;

export function retained(topic: string, payload: number[], extra: Partial<AppMessage> = {}): AppMessage {
  return { topic, payload: Uint8Array.from(payload), qos: 1, retain: true, publisherId: 'pub', ...extra };
}

const rich = retained('a/rich', [0, 1, 255], {
  qos: 2,
  expiresAt: 1_800_000_000_000,
  properties: { payloadFormatIndicator: false, contentType: 'application/json', responseTopic: 'resp', correlationData: Uint8Array.from([5]), userProperties: { k: ['v1', 'v2'], __proto__x: 'y' } },
});

async function load(store: RetainedStore): Promise<AppMessage[]> {
  return normalizeRetained(await store.loadAll());
}

async function withStore(factory: RetainedStoreFactory, body: (store: RetainedStore) => Promise<void>, hooks?: { beforeChange?: BeforeChangeHook }): Promise<void> {
  const { store } = await factory(hooks);
  try {
    await body(store);
  } finally {
    await store.close().catch(() => undefined);
  }
}

export function retainedStoreContract(name: string, factory: RetainedStoreFactory): void {
  test(`${name}: an empty store loads nothing`, () =>
    withStore(factory, async (store) => {
      assert.deepEqual(await store.loadAll(), []);
      await store.apply([]);
      assert.deepEqual(await store.loadAll(), []);
    }));

  test(`${name}: apply puts, replaces and deletes per topic`, () =>
    withStore(factory, async (store) => {
      await store.apply([
        { topic: 'a/rich', message: rich },
        { topic: 'b', message: retained('b', []) },
        { topic: 'c', message: retained('c', [1]) },
      ]);
      assert.deepEqual(await load(store), toPlain([rich, retained('b', []), retained('c', [1])]));
      await store.apply([
        { topic: 'b', message: retained('b', [2], { qos: 0, properties: {} }) },
        { topic: 'c', message: null },
        { topic: 'never-set', message: null },
        // Later changes of a batch win over earlier ones for the same topic.
        { topic: 'd', message: retained('d', [1]) },
        { topic: 'd', message: retained('d', [2]) },
        { topic: 'e', message: retained('e', [1]) },
        { topic: 'e', message: null },
      ]);
      assert.deepEqual(await load(store), toPlain([rich, retained('b', [2], { qos: 0, properties: {} }), retained('d', [2])]));
    }));

  test(`${name}: long runs of puts and deletes keep change order, a repeated topic ends with the later change`, () =>
    withStore(factory, async (store) => {
      const changes: { topic: string; message: AppMessage | null }[] = [];
      // 100 puts (more than one multi-row INSERT), with topic t/3 put twice in the run.
      for (let i = 0; i < 100; i++) changes.push({ topic: `t/${i}`, message: retained(`t/${i}`, [i]) });
      changes.splice(50, 0, { topic: 't/3', message: retained('t/3', [3, 3]) });
      // A run of deletes, one of a topic that is not there, then t/5 put again after its delete.
      for (let i = 0; i < 10; i++) changes.push({ topic: `t/${i}`, message: null });
      changes.push({ topic: 'nope', message: null });
      changes.push({ topic: 't/5', message: retained('t/5', [5, 5]) });
      await store.apply(changes);
      const out = await load(store);
      assert.deepEqual(out.map((m) => m.topic), ['t/5', ...Array.from({ length: 90 }, (_, i) => `t/${i + 10}`)].sort());
      assert.deepEqual(out.find((m) => m.topic === 't/5'), toPlain(retained('t/5', [5, 5])));
      await store.apply([{ topic: 't/3', message: retained('t/3', [3, 3]) }, { topic: 't/3', message: null }]);
      assert.equal((await load(store)).some((m) => m.topic === 't/3'), false);
    }));

  test(`${name}: a change whose message carries another topic is refused`, () =>
    withStore(factory, async (store) => {
      await assert.rejects(store.apply([{ topic: 'x', message: retained('x', []) }, { topic: 'y', message: retained('z', []) }]), (err: unknown) => err instanceof StorageError && err.operation === 'put');
      assert.deepEqual(await store.loadAll(), []);
    }));

  test(`${name}: a batch with a failing change leaves no trace and names it`, async () => {
    let failAt = -1;
    const beforeChange: BeforeChangeHook = (_c, index) => {
      if (index === failAt) throw new Error('injected fault');
    };
    await withStore(
      factory,
      async (store) => {
        await store.apply([{ topic: 'keep', message: retained('keep', [1]) }, { topic: 'drop', message: retained('drop', [1]) }]);
        const before = await load(store);
        failAt = 2;
        const batch = [
          { topic: 'keep', message: retained('keep', [2]) },
          { topic: 'new', message: retained('new', [3]) },
          { topic: 'drop', message: null },
        ];
        await assert.rejects(store.apply(batch), (err: unknown) => {
          assert.ok(err instanceof StorageError);
          assert.equal(err.operation, 'delete');
          return true;
        });
        assert.deepEqual(await load(store), before);
        failAt = -1;
        await store.apply(batch);
        assert.deepEqual((await load(store)).map((m) => [m.topic, [...m.payload]]), [['keep', [2]], ['new', [3]]]);
      },
      { beforeChange },
    );
  });

  test(`${name}: concurrent apply calls take effect in call order`, () =>
    withStore(factory, async (store) => {
      const results = await Promise.all([
        store.apply([{ topic: 't', message: retained('t', [1]) }]),
        store.apply([{ topic: 't', message: null }]),
        store.apply([{ topic: 't', message: retained('t', [3]) }]),
        store.loadAll(),
      ]);
      assert.deepEqual(normalizeRetained(results[3] as AppMessage[]), [retained('t', [3])]);
    }));

  test(`${name}: callers cannot alias stored data`, () =>
    withStore(factory, async (store) => {
      const m = structuredClone(rich);
      await store.apply([{ topic: m.topic, message: m }]);
      m.payload[0] = 42;
      m.properties!.correlationData![0] = 42;
      (m.properties!.userProperties!['k'] as string[]).push('v3');
      const out = await store.loadAll();
      out[0]!.payload[1] = 42;
      out[0]!.topic = 'hijacked';
      assert.deepEqual(await load(store), toPlain([rich]));
    }));

  test(`${name}: a closed store rejects with StorageError`, async () => {
    const { store } = await factory();
    await store.close();
    await assert.rejects(store.apply([{ topic: 't', message: null }]), StorageError);
    await assert.rejects(store.loadAll(), StorageError);
  });

  test(`${name}: data survives close and reopen (if the store persists)`, async (t) => {
    const handle = await factory();
    if (handle.reopen === undefined) {
      await handle.store.close();
      t.skip('not a persistent store');
      return;
    }
    await handle.store.apply([{ topic: rich.topic, message: rich }, { topic: 'plain', message: retained('plain', []) }]);
    await handle.store.close();
    const reopened = await handle.reopen();
    try {
      assert.deepEqual(await load(reopened), toPlain([rich, retained('plain', [])]));
    } finally {
      await reopened.close();
    }
  });
}
