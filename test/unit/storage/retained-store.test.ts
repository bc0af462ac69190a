import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sqlite3 from 'sqlite3';
import { StorageError } from '../../../src/storage/errors.js';
import { MemoryRetainedStore } from '../../../src/storage/memory-retained-store.js';
import { RETAINED_SCHEMA_VERSION, SqliteRetainedStore } from '../../../src/storage/sqlite-retained-store.js';
import { retainedStoreContract } from './retained-store.contract.js';

let dir = '';
let counter = 0;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
const freshFile = (): string => path.join(dir, `retained-${counter++}.db`);

retainedStoreContract('MemoryRetainedStore', async (hooks) => ({ store: new MemoryRetainedStore(hooks) }));

retainedStoreContract('SqliteRetainedStore', async (hooks) => {
  const file = freshFile();
  return { store: await SqliteRetainedStore.open(file, hooks), reopen: () => SqliteRetainedStore.open(file) };
});

function rawExec(file: string, sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (err) => {
      if (err) return reject(err);
      db.exec(sql, (e) => db.close(() => (e ? reject(e) : resolve())));
    });
  });
}

test('SqliteRetainedStore: a file from a newer schema is refused, naming the file and the versions', async () => {
  const file = freshFile();
  await (await SqliteRetainedStore.open(file)).close();
  await rawExec(file, `UPDATE schema_version SET version = ${RETAINED_SCHEMA_VERSION + 1}`);
  await assert.rejects(SqliteRetainedStore.open(file), (err: unknown) => {
    assert.ok(err instanceof StorageError);
    assert.equal(err.file, file);
    assert.match(err.message, new RegExp(`version ${RETAINED_SCHEMA_VERSION + 1} .*expected ${RETAINED_SCHEMA_VERSION}`));
    return true;
  });
});

test('SqliteRetainedStore: opening in a missing directory fails with StorageError', async () => {
  await assert.rejects(SqliteRetainedStore.open(path.join(dir, 'missing', 'retained.db')), (err: unknown) => err instanceof StorageError && err.operation === 'open');
});
