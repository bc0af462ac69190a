import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sqlite3 from 'sqlite3';
import { StorageError } from '../../../src/storage/errors.js';
import { MemorySessionStore } from '../../../src/storage/memory-session-store.js';
import { SESSION_SCHEMA_VERSION, SqliteSessionStore } from '../../../src/storage/sqlite-session-store.js';
import type { StoredMessageState, StoreOp } from '../../../src/storage/types.js';
import { appMessage, meta, sessionStoreContract, stored } from './session-store.contract.js';
import { normalizeSessions, toPlain } from './normalize.js';

let dir = '';
let counter = 0;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
const freshFile = (): string => path.join(dir, `shard-${counter++}.db`);

sessionStoreContract('MemorySessionStore', async (hooks) => ({ store: new MemorySessionStore(hooks) }));

sessionStoreContract('SqliteSessionStore', async (hooks) => {
  const file = freshFile();
  return { store: await SqliteSessionStore.open(file, hooks), reopen: () => SqliteSessionStore.open(file) };
});

sessionStoreContract('SqliteSessionStore (synchronous=FULL)', async (hooks) => {
  const file = freshFile();
  return { store: await SqliteSessionStore.open(file, { ...hooks, synchronous: 'FULL' }), reopen: () => SqliteSessionStore.open(file, { synchronous: 'FULL' }) };
});

function rawExec(file: string, sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (err) => {
      if (err) return reject(err);
      db.exec(sql, (e) => db.close(() => (e ? reject(e) : resolve())));
    });
  });
}

function rawGet(file: string, sql: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (err) => {
      if (err) return reject(err);
      db.get(sql, (e, row: Record<string, unknown>) => db.close(() => (e ? reject(e) : resolve(row))));
    });
  });
}

test('SqliteSessionStore: a new file gets WAL mode and the current schema version', async () => {
  const file = freshFile();
  const store = await SqliteSessionStore.open(file);
  await store.close();
  assert.equal((await rawGet(file, 'PRAGMA journal_mode')).journal_mode, 'wal');
  assert.equal((await rawGet(file, 'SELECT version FROM schema_version')).version, SESSION_SCHEMA_VERSION);
});

test('SqliteSessionStore: a file from a newer schema is refused, naming the file and the versions', async () => {
  const file = freshFile();
  await (await SqliteSessionStore.open(file)).close();
  await rawExec(file, `UPDATE schema_version SET version = ${SESSION_SCHEMA_VERSION + 41}`);
  await assert.rejects(SqliteSessionStore.open(file), (err: unknown) => {
    assert.ok(err instanceof StorageError);
    assert.equal(err.file, file);
    assert.equal(err.operation, 'migrate');
    assert.ok(err.message.includes(file), err.message);
    assert.match(err.message, new RegExp(`version ${SESSION_SCHEMA_VERSION + 41} .*expected ${SESSION_SCHEMA_VERSION}`));
    return true;
  });
});

test('SqliteSessionStore: opening in a missing directory fails with StorageError', async () => {
  const file = path.join(dir, 'no-such-dir', 'x.db');
  await assert.rejects(SqliteSessionStore.open(file), (err: unknown) => err instanceof StorageError && err.operation === 'open' && err.file === file);
});

test('SqliteSessionStore: a write SQLite itself rejects mid-batch rolls the batch back', async () => {
  const file = freshFile();
  const store = await SqliteSessionStore.open(file);
  try {
    await store.apply([{ op: 'putMeta', meta: meta('c') }, { op: 'putMessage', clientId: 'c', message: stored(1) }]);
    const before = normalizeSessions(await store.loadAll());
    await assert.rejects(
      store.apply([
        { op: 'putMessage', clientId: 'c', message: stored(2) },
        { op: 'deleteMessage', clientId: 'c', seq: 1 },
        // The CHECK constraint on state rejects this row (the type system would, too).
        { op: 'updateMessage', clientId: 'c', seq: 2, state: 'bogus' as StoredMessageState, packetId: 1 },
        { op: 'putMeta', meta: meta('d') },
      ]),
      (err: unknown) => {
        assert.ok(err instanceof StorageError);
        assert.equal(err.file, file);
        assert.equal(err.operation, 'updateMessage');
        assert.match(String((err.cause as Error).message), /CHECK constraint/);
        return true;
      },
    );
    assert.deepEqual(normalizeSessions(await store.loadAll()), before);
    await store.apply([{ op: 'putMeta', meta: meta('d') }]);
    assert.equal((await store.loadAll()).length, 2);
  } finally {
    await store.close();
  }
});

test('SqliteSessionStore: close waits for queued batches', async () => {
  const file = freshFile();
  const store = await SqliteSessionStore.open(file);
  const applied = store.apply([{ op: 'putMeta', meta: meta('c') }]);
  await store.close();
  await applied;
  const reopened = await SqliteSessionStore.open(file);
  try {
    assert.equal((await reopened.loadAll()).length, 1);
  } finally {
    await reopened.close();
  }
});

// ---- shared message bodies (schema version 2) ----

function rawAll(file: string, sql: string): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (err) => {
      if (err) return reject(err);
      db.all(sql, (e, rows: Record<string, unknown>[]) => db.close(() => (e ? reject(e) : resolve(rows))));
    });
  });
}

const bodies = (file: string): Promise<Record<string, unknown>[]> => rawAll(file, 'SELECT id, refs, topic FROM bodies ORDER BY id');

test('SqliteSessionStore: one publish to N sessions in a batch writes one body, freed with the last row naming it', async () => {
  const file = freshFile();
  const store = await SqliteSessionStore.open(file);
  try {
    const shared = appMessage('fan/out', [1, 2, 3], { properties: { contentType: 'x', correlationData: Uint8Array.from([9]) } });
    const clients = Array.from({ length: 100 }, (_, i) => `c${i}`);
    await store.apply([
      ...clients.map((c): StoreOp => ({ op: 'putMeta', meta: meta(c) })),
      ...clients.map((c, i): StoreOp => ({ op: 'putMessage', clientId: c, message: stored(1, { qos: (i % 2) as 0 | 1, message: shared }) })),
      { op: 'putMessage', clientId: 'c0', message: stored(2) },
    ]);
    assert.deepEqual(await bodies(file), [{ id: 1, refs: 100, topic: 'fan/out' }, { id: 2, refs: 1, topic: 't/2' }]);
    const loaded = normalizeSessions(await store.loadAll());
    assert.equal(loaded.length, 100);
    for (const [i, s] of loaded.entries()) assert.deepEqual(s.messages[0], toPlain(stored(1, { qos: (Number(s.meta.clientId.slice(1)) % 2) as 0 | 1, message: shared })), `session ${i}`);

    // Acks, a session deleted, a row replaced by another message: the body stays while any row names it.
    await store.apply([
      ...clients.slice(0, 97).map((c): StoreOp => ({ op: 'deleteMessage', clientId: c, seq: 1 })),
      { op: 'deleteSession', clientId: 'c97' },
      { op: 'putMessage', clientId: 'c98', message: stored(1) },
    ]);
    assert.deepEqual(await bodies(file), [{ id: 1, refs: 1, topic: 'fan/out' }, { id: 2, refs: 1, topic: 't/2' }, { id: 3, refs: 1, topic: 't/1' }]);
    await store.apply([{ op: 'updateMessage', clientId: 'c99', seq: 1, state: 'inflight', packetId: 5 }]);
    assert.equal((await bodies(file))[0]?.refs, 1, 'an update does not touch the body');
    await store.apply([{ op: 'deleteMessage', clientId: 'c99', seq: 1 }]);
    assert.deepEqual(await bodies(file), [{ id: 2, refs: 1, topic: 't/2' }, { id: 3, refs: 1, topic: 't/1' }]);
  } finally {
    await store.close();
  }
});

test('SqliteSessionStore: a message object put in two batches gets a body per batch, neither freed early', async () => {
  const file = freshFile();
  const store = await SqliteSessionStore.open(file);
  try {
    const shared = appMessage('two/batches', [7]);
    await store.apply([{ op: 'putMeta', meta: meta('a') }, { op: 'putMeta', meta: meta('b') }, { op: 'putMeta', meta: meta('c') }]);
    await store.apply([{ op: 'putMessage', clientId: 'a', message: stored(1, { message: shared }) }, { op: 'putMessage', clientId: 'b', message: stored(1, { message: shared }) }]);
    // Queued behind the first batch while it may still be running.
    const second = store.apply([{ op: 'putMessage', clientId: 'c', message: stored(1, { message: shared }) }]);
    const third = store.apply([{ op: 'deleteMessage', clientId: 'a', seq: 1 }, { op: 'deleteMessage', clientId: 'b', seq: 1 }]);
    await Promise.all([second, third]);
    assert.deepEqual(await bodies(file), [{ id: 2, refs: 1, topic: 'two/batches' }]);
    const c = normalizeSessions(await store.loadAll()).find((s) => s.meta.clientId === 'c');
    assert.deepEqual(c?.messages, toPlain([stored(1, { message: shared })]));
    // Within one batch: a seq put twice with the same object, and a row of it deleted between two runs.
    await store.apply([
      { op: 'putMessage', clientId: 'a', message: stored(5, { message: shared }) },
      { op: 'putMessage', clientId: 'a', message: stored(5, { message: shared }) },
      { op: 'putMessage', clientId: 'b', message: stored(5, { message: shared }) },
      { op: 'deleteMessage', clientId: 'a', seq: 5 },
      { op: 'putMessage', clientId: 'a', message: stored(6, { message: shared }) },
      { op: 'putMessage', clientId: 'b', message: stored(5, { message: shared, state: 'inflight', packetId: 1 }) },
    ]);
    assert.deepEqual(await bodies(file), [{ id: 2, refs: 1, topic: 'two/batches' }, { id: 3, refs: 2, topic: 'two/batches' }]);
    // A failed batch leaves no body behind, and the next batch's ids do not collide.
    await assert.rejects(store.apply([{ op: 'putMessage', clientId: 'a', message: stored(7, { message: shared }) }, { op: 'updateMessage', clientId: 'a', seq: 7, state: 'bogus' as StoredMessageState, packetId: 1 }]), StorageError);
    await store.apply([{ op: 'putMessage', clientId: 'a', message: stored(7, { message: shared }) }]);
    assert.deepEqual((await bodies(file)).map((b) => b.refs), [1, 2, 1]);
  } finally {
    await store.close();
  }
});

test('SqliteSessionStore: a version 1 file is migrated, one body per existing message row', async () => {
  const file = freshFile();
  const cols = (p: string): string => ['topic', 'payload', 'qos', 'retain', 'properties', 'correlation_data', 'expires_at', 'publisher_id'].map((c) => p + c).join(', ');
  // The version 1 schema as written by the first release (see MIGRATIONS[0]).
  await rawExec(
    file,
    `CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
     CREATE TABLE sessions (client_id TEXT PRIMARY KEY, protocol_version INTEGER NOT NULL, expiry_interval_sec INTEGER NOT NULL, disconnected_at INTEGER, will_delay_sec INTEGER, ${cols('will_')});
     CREATE TABLE subscriptions (client_id TEXT NOT NULL, filter TEXT NOT NULL, options TEXT NOT NULL, PRIMARY KEY (client_id, filter)) WITHOUT ROWID;
     CREATE TABLE messages (client_id TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL, packet_id INTEGER, qos INTEGER NOT NULL, retain INTEGER NOT NULL, subscription_ids TEXT NOT NULL, ${cols('msg_')}, PRIMARY KEY (client_id, seq));
     CREATE TABLE qos2 (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (client_id, packet_id)) WITHOUT ROWID;
     INSERT INTO sessions (client_id, protocol_version, expiry_interval_sec) VALUES ('c', 5, 3600);
     INSERT INTO messages VALUES ('c', 1, 'inflight', 4, 1, 0, '[3]', 'a/b', X'0102', 2, 1, '{"contentType":"t"}', X'09', 123, 'pub');
     INSERT INTO messages VALUES ('c', 2, 'queued', NULL, 0, 1, '[]', 'a/c', X'', 0, 0, NULL, NULL, NULL, 'pub');
     INSERT INTO qos2 VALUES ('c', 8);`,
  );
  const store = await SqliteSessionStore.open(file);
  try {
    assert.equal((await rawGet(file, 'SELECT version FROM schema_version')).version, SESSION_SCHEMA_VERSION);
    const [c] = normalizeSessions(await store.loadAll());
    assert.deepEqual(c?.inboundQos2, [8]);
    assert.deepEqual(c?.messages, [
      { seq: 1, state: 'inflight', packetId: 4, qos: 1, retain: false, subscriptionIds: [3], message: { topic: 'a/b', payload: Uint8Array.from([1, 2]), qos: 2, retain: true, publisherId: 'pub', expiresAt: 123, properties: { contentType: 't', correlationData: Uint8Array.from([9]) } } },
      { seq: 2, state: 'queued', packetId: null, qos: 0, retain: true, subscriptionIds: [], message: { topic: 'a/c', payload: new Uint8Array(0), qos: 0, retain: false, publisherId: 'pub' } },
    ]);
    assert.deepEqual((await bodies(file)).map((b) => [b.refs, b.topic]), [[1, 'a/b'], [1, 'a/c']]);
    // New bodies do not reuse migrated ids; acking a migrated row frees its body.
    await store.apply([{ op: 'putMessage', clientId: 'c', message: stored(3) }, { op: 'deleteMessage', clientId: 'c', seq: 1 }]);
    assert.deepEqual((await bodies(file)).map((b) => [b.refs, b.topic]), [[1, 'a/c'], [1, 't/3']]);
  } finally {
    await store.close();
  }
});
