import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sqlite3 from 'sqlite3';
import { StorageError } from '../../../src/storage/errors.js';
import { MemorySessionStore } from '../../../src/storage/memory-session-store.js';
import { SESSION_MIGRATIONS, SESSION_SCHEMA_VERSION, SqliteSessionStore } from '../../../src/storage/sqlite-session-store.js';
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
        { op: 'updateMessage', clientId: 'c', seq: 2, state: 'inflight', packetId: 1 },
        // The CHECK constraint on protocol_version rejects this row (the type system would, too).
        { op: 'putMeta', meta: meta('d', { protocolVersion: 7 as 5 }) },
        { op: 'putMessage', clientId: 'd', message: stored(1) },
      ]),
      (err: unknown) => {
        assert.ok(err instanceof StorageError);
        assert.equal(err.file, file);
        assert.equal(err.operation, 'putMeta');
        assert.match(String((err.cause as Error).message), /CHECK constraint/);
        return true;
      },
    );
    assert.deepEqual(normalizeSessions(await store.loadAll()), before);
    // The fan-out log's index forgot the failed batch: seq 1 can still be acked, seq 2 was never put.
    await store.apply([{ op: 'putMeta', meta: meta('d') }, { op: 'updateMessage', clientId: 'c', seq: 2, state: 'inflight', packetId: 1 }]);
    assert.deepEqual((await store.loadAll()).map((s) => [s.meta.clientId, s.messages.map((m) => [m.seq, m.state])]).sort(), [['c', [[1, 'queued']]], ['d', []]]);
    await store.apply([{ op: 'deleteMessage', clientId: 'c', seq: 1 }]);
    assert.deepEqual((await store.loadAll()).map((s) => s.messages.length), [0, 0]);
    assert.deepEqual(await rawAll(file, 'SELECT id FROM fanout'), [], 'the last copy of a row finished: the row is gone');
  } finally {
    await store.close();
  }
});

test('SqliteSessionStore: an invalid message state, packet id or QoS is refused before anything is written, naming the op', async () => {
  const file = freshFile();
  const store = await SqliteSessionStore.open(file);
  try {
    await store.apply([{ op: 'putMeta', meta: meta('c') }, { op: 'putMessage', clientId: 'c', message: stored(1) }]);
    const before = normalizeSessions(await store.loadAll());
    const cases: [StoreOp, RegExp][] = [
      [{ op: 'updateMessage', clientId: 'c', seq: 1, state: 'bogus' as StoredMessageState, packetId: 1 }, /invalid message state: "bogus"/],
      [{ op: 'updateMessage', clientId: 'c', seq: 1, state: 'inflight', packetId: 65536 }, /invalid packet id: 65536/],
      [{ op: 'putMessage', clientId: 'c', message: stored(2, { state: 'inflight', packetId: 0 }) }, /invalid packet id: 0/],
      // Written unquoted into the recipients' JSON: anything but 0..2 would corrupt the row.
      [{ op: 'putMessage', clientId: 'c', message: stored(2, { qos: 3 as 2 }) }, /invalid qos: 3/],
    ];
    for (const [op, why] of cases) {
      await assert.rejects(store.apply([{ op: 'putMessage', clientId: 'c', message: stored(3) }, op]), (err: unknown) => {
        assert.ok(err instanceof StorageError);
        assert.equal(err.operation, op.op);
        assert.match(String((err.cause as Error).message), why);
        return true;
      });
      assert.deepEqual(normalizeSessions(await store.loadAll()), before);
    }
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

// ---- the fan-out log (schema version 3) ----


function rawAll(file: string, sql: string): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (err) => {
      if (err) return reject(err);
      db.all(sql, (e, rows: Record<string, unknown>[]) => db.close(() => (e ? reject(e) : resolve(rows))));
    });
  });
}

/** The log's rows: id, topic, live recipients (entries not null and not in the dead list), in either form of the list. */
const logRows = (file: string): Promise<Record<string, unknown>[]> =>
  rawAll(
    file,
    `SELECT f.id, f.topic, (SELECT count(*) FROM json_each(f.recipients, iif(json_type(f.recipients) = 'object', '$.clients', '$')) WHERE type <> 'null') - coalesce(json_array_length(d.dead), 0) AS live
     FROM fanout f LEFT JOIN fanout_dead d ON d.id = f.id ORDER BY f.id`,
  );

test('SqliteSessionStore: one publish to N sessions in a batch is one log row; acks grow its dead list; its last copy takes it away', async () => {
  const file = freshFile();
  let store = await SqliteSessionStore.open(file);
  try {
    const shared = appMessage('fan/out', [1, 2, 3], { properties: { contentType: 'x', correlationData: Uint8Array.from([9]) } });
    const clients = Array.from({ length: 100 }, (_, i) => `c${i}`);
    await store.apply([
      ...clients.map((c): StoreOp => ({ op: 'putMeta', meta: meta(c) })),
      ...clients.map((c, i): StoreOp => ({ op: 'putMessage', clientId: c, message: stored(1, { qos: (i % 2) as 0 | 1, message: shared }) })),
      { op: 'putMessage', clientId: 'c0', message: stored(2) },
    ]);
    assert.deepEqual(await logRows(file), [{ id: 1, topic: 'fan/out', live: 100 }, { id: 2, topic: 't/2', live: 1 }]);
    const loaded = normalizeSessions(await store.loadAll());
    assert.equal(loaded.length, 100);
    for (const [i, s] of loaded.entries()) assert.deepEqual(s.messages[0], toPlain(stored(1, { qos: (Number(s.meta.clientId.slice(1)) % 2) as 0 | 1, message: shared })), `session ${i}`);

    // Acks, a session deleted, a copy replaced by another message: the row stays while any copy of it is live.
    await store.apply([
      ...clients.slice(0, 97).map((c): StoreOp => ({ op: 'deleteMessage', clientId: c, seq: 1 })),
      { op: 'deleteSession', clientId: 'c97' },
      { op: 'putMessage', clientId: 'c98', message: stored(1) },
    ]);
    assert.deepEqual(await logRows(file), [{ id: 1, topic: 'fan/out', live: 1 }, { id: 2, topic: 't/2', live: 1 }, { id: 3, topic: 't/1', live: 1 }]);
    assert.deepEqual(await rawAll(file, 'SELECT id, json_array_length(dead) AS n FROM fanout_dead'), [{ id: 1, n: 99 }]);

    // Sending a copy rewrites its client's override list, not the log row.
    await store.apply([{ op: 'updateMessage', clientId: 'c99', seq: 1, state: 'inflight', packetId: 5 }]);
    assert.deepEqual(await rawAll(file, 'SELECT client_id, runs FROM copy_state'), [{ client_id: 'c99', runs: '[[1,1,"inflight",5]]' }]);
    assert.deepEqual(await logRows(file), [{ id: 1, topic: 'fan/out', live: 1 }, { id: 2, topic: 't/2', live: 1 }, { id: 3, topic: 't/1', live: 1 }]);

    // A reopened store rebuilds the same index from the file.
    await store.close();
    store = await SqliteSessionStore.open(file);
    const c99 = normalizeSessions(await store.loadAll()).find((s) => s.meta.clientId === 'c99');
    assert.deepEqual(c99?.messages.map((m) => [m.seq, m.state, m.packetId]), [[1, 'inflight', 5]]);
    await store.apply([{ op: 'deleteMessage', clientId: 'c99', seq: 1 }]);
    assert.deepEqual(await logRows(file), [{ id: 2, topic: 't/2', live: 1 }, { id: 3, topic: 't/1', live: 1 }]);
    assert.deepEqual(await rawAll(file, 'SELECT id FROM fanout_dead'), []);
    assert.deepEqual(await rawAll(file, 'SELECT client_id FROM copy_state'), []);
  } finally {
    await store.close();
  }
});

test('SqliteSessionStore: a copy put and acknowledged in one batch is never written (what the shard\'s early QoS 1 release saves)', async () => {
  const file = freshFile();
  const store = await SqliteSessionStore.open(file);
  try {
    await store.apply([
      { op: 'putMeta', meta: meta('c1') },
      { op: 'putMessage', clientId: 'c1', message: stored(1, { state: 'inflight', packetId: 1 }) },
      { op: 'putMessage', clientId: 'c1', message: stored(2, { state: 'inflight', packetId: 2 }) },
      { op: 'deleteMessage', clientId: 'c1', seq: 1 },
    ]);
    assert.deepEqual(await logRows(file), [{ id: 2, topic: 't/2', live: 1 }], 'only the copy still unacknowledged has a row');
    assert.deepEqual(await rawAll(file, 'SELECT id FROM fanout_dead'), []);
    assert.deepEqual(normalizeSessions(await store.loadAll())[0]?.messages.map((m) => m.seq), [2]);
  } finally {
    await store.close();
  }
});

test('SqliteSessionStore: a message object put in two batches gets a log row per batch, neither removed early', async () => {
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
    assert.deepEqual(await logRows(file), [{ id: 2, topic: 'two/batches', live: 1 }]);
    const c = normalizeSessions(await store.loadAll()).find((s) => s.meta.clientId === 'c');
    assert.deepEqual(c?.messages, toPlain([stored(1, { message: shared })]));
    // Within one batch: a seq put twice with the same object, a copy deleted, a copy put again
    // with another state, and a copy sent before the batch ends: one row, with what is left.
    await store.apply([
      { op: 'putMessage', clientId: 'a', message: stored(5, { message: shared }) },
      { op: 'putMessage', clientId: 'a', message: stored(5, { message: shared }) },
      { op: 'putMessage', clientId: 'b', message: stored(5, { message: shared }) },
      { op: 'deleteMessage', clientId: 'a', seq: 5 },
      { op: 'putMessage', clientId: 'a', message: stored(6, { message: shared }) },
      { op: 'putMessage', clientId: 'b', message: stored(5, { message: shared, state: 'inflight', packetId: 1 }) },
      { op: 'updateMessage', clientId: 'a', seq: 6, state: 'inflight', packetId: 2 },
    ]);
    assert.deepEqual(await logRows(file), [{ id: 2, topic: 'two/batches', live: 1 }, { id: 3, topic: 'two/batches', live: 2 }]);
    assert.deepEqual(await rawAll(file, 'SELECT client_id FROM copy_state'), [], 'a copy sent in the batch that put it needs no override');
    const [a, b] = normalizeSessions(await store.loadAll());
    assert.deepEqual(a?.messages.map((m) => [m.seq, m.state, m.packetId]), [[6, 'inflight', 2]]);
    assert.deepEqual(b?.messages.map((m) => [m.seq, m.state, m.packetId]), [[5, 'inflight', 1]]);
    // A failed batch leaves no row behind, and the next batch's ids do not collide.
    await assert.rejects(store.apply([{ op: 'putMessage', clientId: 'a', message: stored(7, { message: shared }) }, { op: 'updateMessage', clientId: 'a', seq: 7, state: 'bogus' as StoredMessageState, packetId: 1 }]), StorageError);
    await store.apply([{ op: 'putMessage', clientId: 'a', message: stored(7, { message: shared }) }]);
    assert.deepEqual((await logRows(file)).map((r) => [r.id, r.live]), [[2, 1], [3, 2], [4, 1]]);
  } finally {
    await store.close();
  }
});

test('SqliteSessionStore: a version 1 file is migrated, one log row per existing message row', async () => {
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
    assert.deepEqual((await logRows(file)).map((r) => [r.id, r.topic, r.live]), [[1, 'a/b', 1], [2, 'a/c', 1]]);
    assert.deepEqual(await rawAll(file, "SELECT name FROM sqlite_master WHERE name IN ('messages', 'bodies')"), []);
    // New rows do not reuse migrated ids; acking a migrated copy removes its row.
    await store.apply([{ op: 'putMessage', clientId: 'c', message: stored(3) }, { op: 'deleteMessage', clientId: 'c', seq: 1 }]);
    assert.deepEqual((await logRows(file)).map((r) => [r.id, r.topic]), [[2, 'a/c'], [3, 't/3']]);
  } finally {
    await store.close();
  }
});

test('SqliteSessionStore: a version 2 file is migrated, one log row per shared body with all its copies', async () => {
  const file = freshFile();
  const cols = ['topic', 'payload', 'qos', 'retain', 'properties', 'correlation_data', 'expires_at', 'publisher_id'].join(', ');
  await rawExec(
    file,
    `CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (2);
     ${SESSION_MIGRATIONS[0]} ${SESSION_MIGRATIONS[1]}
     INSERT INTO sessions (client_id, protocol_version, expiry_interval_sec) VALUES ('a', 5, 3600), ('b', 4, 60);
     INSERT INTO bodies (id, refs, ${cols}) VALUES (7, 2, 'x/y', X'0A0B', 1, 0, NULL, NULL, NULL, 'pub'), (9, 1, 'z', X'', 2, 1, NULL, NULL, 55, 'p2');
     INSERT INTO messages VALUES ('a', 3, 'inflight', 12, 1, 0, '[4,5]', 7), ('b', 1, 'queued', NULL, 0, 1, '[]', 7), ('b', 2, 'released', 13, 2, 0, '[]', 9);`,
  );
  const store = await SqliteSessionStore.open(file);
  try {
    assert.equal((await rawGet(file, 'SELECT version FROM schema_version')).version, SESSION_SCHEMA_VERSION);
    assert.deepEqual((await logRows(file)).map((r) => [r.id, r.topic, r.live]), [[7, 'x/y', 2], [9, 'z', 1]]);
    const [a, b] = normalizeSessions(await store.loadAll());
    const xy = { topic: 'x/y', payload: Uint8Array.from([10, 11]), qos: 1, retain: false, publisherId: 'pub' };
    assert.deepEqual(a?.messages, [{ seq: 3, state: 'inflight', packetId: 12, qos: 1, retain: false, subscriptionIds: [4, 5], message: xy }]);
    assert.deepEqual(b?.messages, [
      { seq: 1, state: 'queued', packetId: null, qos: 0, retain: true, subscriptionIds: [], message: xy },
      { seq: 2, state: 'released', packetId: 13, qos: 2, retain: false, subscriptionIds: [], message: { topic: 'z', payload: new Uint8Array(0), qos: 2, retain: true, publisherId: 'p2', expiresAt: 55 } },
    ]);
    await store.apply([{ op: 'deleteMessage', clientId: 'a', seq: 3 }, { op: 'deleteSession', clientId: 'b' }]);
    assert.deepEqual(await logRows(file), []);
  } finally {
    await store.close();
  }
});

test('SqliteSessionStore: long queues with acks out of order, a stuck oldest copy and re-puts match the memory store, before and after reopen', async () => {
  // Hundreds of copies per client, so the index's per-client lists compact (see seq-list.ts).
  const file = freshFile();
  const sqlite = await SqliteSessionStore.open(file);
  const memory = new MemorySessionStore();
  const both = async (ops: StoreOp[]): Promise<void> => {
    await sqlite.apply(ops);
    await memory.apply(ops);
  };
  try {
    const clients = ['a', 'b'];
    await both(clients.map((c): StoreOp => ({ op: 'putMeta', meta: meta(c) })));
    for (let seq = 1; seq <= 400; seq += 50) {
      const ops: StoreOp[] = [];
      for (let s = seq; s < seq + 50; s++) {
        const m = appMessage(`t/${s}`, [s & 0xff]);
        for (const c of clients) ops.push({ op: 'putMessage', clientId: c, message: stored(s, { message: m }) });
      }
      await both(ops);
    }
    // 'a': seq 1 is sent and never acked; every later copy is sent and acked, newest first in each batch.
    const ack: StoreOp[] = [{ op: 'updateMessage', clientId: 'a', seq: 1, state: 'inflight', packetId: 1 }];
    for (let s = 400; s >= 2; s--) ack.push({ op: 'deleteMessage', clientId: 'a', seq: s });
    await both(ack);
    // 'b': every third copy acked, then seqs 10..19 put again (replacing), and a new tail.
    await both(Array.from({ length: 133 }, (_, i): StoreOp => ({ op: 'deleteMessage', clientId: 'b', seq: 3 * i + 1 })));
    await both([
      ...Array.from({ length: 10 }, (_, i): StoreOp => ({ op: 'putMessage', clientId: 'b', message: stored(10 + i, { message: appMessage('again', [i]) }) })),
      ...Array.from({ length: 5 }, (_, i): StoreOp => ({ op: 'putMessage', clientId: 'b', message: stored(401 + i) })),
      { op: 'updateMessage', clientId: 'b', seq: 2, state: 'inflight', packetId: 7 },
    ]);
    const expected = normalizeSessions(await memory.loadAll());
    assert.deepEqual(expected.find((s) => s.meta.clientId === 'a')?.messages.map((m) => [m.seq, m.state]), [[1, 'inflight']]);
    // 133 acked; the re-put brings back the four of them in 10..19 (10, 13, 16, 19); 5 new.
    assert.equal(expected.find((s) => s.meta.clientId === 'b')?.messages.length, 400 - 133 + 4 + 5);
    assert.deepEqual(normalizeSessions(await sqlite.loadAll()), expected);
    // The index (not only the file) is right: ops on copies that moved in it still find them.
    await both([
      { op: 'deleteMessage', clientId: 'a', seq: 1 },
      { op: 'updateMessage', clientId: 'b', seq: 15, state: 'inflight', packetId: 9 },
      { op: 'deleteMessage', clientId: 'b', seq: 405 },
      { op: 'deleteMessage', clientId: 'b', seq: 3 },
    ]);
    const reopened = await SqliteSessionStore.open(file);
    try {
      assert.deepEqual(normalizeSessions(await reopened.loadAll()), normalizeSessions(await memory.loadAll()));
    } finally {
      await reopened.close();
    }
  } finally {
    await sqlite.close();
  }
});
