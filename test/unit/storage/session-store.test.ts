import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sqlite3 from 'sqlite3';
import { StorageError } from '../../../src/storage/errors.js';
import { MemorySessionStore } from '../../../src/storage/memory-session-store.js';
import { SESSION_SCHEMA_VERSION, SqliteSessionStore } from '../../../src/storage/sqlite-session-store.js';
import type { StoredMessageState } from '../../../src/storage/types.js';
import { meta, sessionStoreContract, stored } from './session-store.contract.js';
import { normalizeSessions } from './normalize.js';

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
