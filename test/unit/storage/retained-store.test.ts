import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sqlite3 from 'sqlite3';
import { StorageError } from '../../../src/storage/errors.js';
import { MemoryRetainedStore } from '../../../src/storage/memory-retained-store.js';
import { RETAINED_MIGRATIONS, RETAINED_SCHEMA_VERSION, SqliteRetainedStore } from '../../../src/storage/sqlite-retained-store.js';
import type { AppMessage } from '../../../src/protocol/message.js';
import { retained, retainedStoreContract } from './retained-store.contract.js';
import { normalizeRetained, toPlain } from './normalize.js';

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

function rawAll(file: string, sql: string): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (err) => {
      if (err) return reject(err);
      db.all(sql, (e, rows: Record<string, unknown>[]) => db.close(() => (e ? reject(e) : resolve(rows))));
    });
  });
}

/** Rows of the log and the entries in them. */
async function logSize(file: string): Promise<{ rows: number; entries: number }> {
  const [r] = await rawAll(file, 'SELECT count(*) AS rows, coalesce(sum(json_array_length(changes)), 0) AS entries FROM retained_log');
  return { rows: Number(r!['rows']), entries: Number(r!['entries']) };
}

test('SqliteRetainedStore: a version 1 file (a row per topic) is migrated into log rows, messages intact', async () => {
  const file = freshFile();
  const rich = retained('a/rich', [0, 1, 255], {
    qos: 2,
    expiresAt: 1_800_000_000_000,
    properties: { payloadFormatIndicator: true, contentType: 'text/plain', correlationData: Uint8Array.from([5, 6]), userProperties: { k: ['v1', 'v2'] } },
  });
  const plain = Array.from({ length: 300 }, (_, i) => retained(`t/${i}`, [i % 256, 7]));
  const values = (m: AppMessage): string => {
    const props = m.properties === undefined ? 'NULL' : `'${JSON.stringify({ ...m.properties, correlationData: undefined })}'`;
    const cd = m.properties?.correlationData === undefined ? 'NULL' : `x'${Buffer.from(m.properties.correlationData).toString('hex')}'`;
    return `('${m.topic}', x'${Buffer.from(m.payload).toString('hex')}', ${m.qos}, ${m.retain ? 1 : 0}, ${props}, ${cd}, ${m.expiresAt ?? 'NULL'}, '${m.publisherId}')`;
  };
  await rawExec(file, `CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
    ${RETAINED_MIGRATIONS[0]}
    INSERT INTO retained VALUES ${[rich, ...plain].map(values).join(', ')};`);
  let store = await SqliteRetainedStore.open(file);
  try {
    assert.deepEqual(normalizeRetained(await store.loadAll()), toPlain(normalizeRetained([rich, ...plain])));
    assert.deepEqual(await logSize(file), { rows: 2, entries: 301 }, 'rows of up to 256 messages');
    assert.deepEqual(await rawAll(file, "SELECT name FROM sqlite_master WHERE name = 'retained'"), [], 'the old table is gone');
    // The migrated rows behave as log rows: replacing every topic of the first empties it.
    await store.apply([rich, ...plain.slice(0, 255)].map((m) => ({ topic: m.topic, message: { ...m, payload: Uint8Array.from([9]) } })));
    await store.close();
    store = await SqliteRetainedStore.open(file);
    const loaded = normalizeRetained(await store.loadAll());
    assert.equal(loaded.length, 301);
    assert.deepEqual(loaded.find((m) => m.topic === 't/299')?.payload, Uint8Array.from([299 % 256, 7]));
    assert.deepEqual(loaded.find((m) => m.topic === 't/0')?.payload, Uint8Array.from([9]));
  } finally {
    await store.close();
  }
});

test('SqliteRetainedStore: the log stays bounded: superseded rows go at once, dead entries are compacted oldest first', async () => {
  const file = freshFile();
  const slack = 50;
  let store = await SqliteRetainedStore.open(file, { compactSlack: slack });
  try {
    // One topic replaced 500 times, a batch each: each batch's row supersedes the previous one.
    for (let i = 0; i < 500; i++) await store.apply([{ topic: 'hot', message: retained('hot', [i % 256]) }]);
    assert.deepEqual(await logSize(file), { rows: 1, entries: 1 });

    // 600 topics in batches of 3, then two of each three deleted: rows keep one live entry and two
    // superseded ones, and the tombstones are entries too, until compaction rewrites the oldest rows.
    for (let i = 0; i < 600; i += 3) await store.apply([0, 1, 2].map((k) => ({ topic: `k/${i + k}`, message: retained(`k/${i + k}`, [k]) })));
    for (let i = 0; i < 600; i += 3) await store.apply([1, 2].map((k) => ({ topic: `k/${i + k}`, message: null })));
    const live = 1 + 200;
    const { entries } = await logSize(file);
    assert.ok(entries <= 2 * live + slack + 3 * 64, `${entries} entries in the log for ${live} messages`);
    const expected = [retained('hot', [499 % 256]), ...Array.from({ length: 200 }, (_, j) => retained(`k/${3 * j}`, [0]))];
    assert.deepEqual(normalizeRetained(await store.loadAll()), toPlain(normalizeRetained(expected)));
    await store.close();
    store = await SqliteRetainedStore.open(file, { compactSlack: slack });
    assert.deepEqual(normalizeRetained(await store.loadAll()), toPlain(normalizeRetained(expected)), 'the same after reopening');
    // A deleted topic set again, and a tombstone for a topic the log never had (nothing written).
    const before = await logSize(file);
    await store.apply([{ topic: 'never', message: null }]);
    assert.deepEqual(await logSize(file), before);
    await store.apply([{ topic: 'k/1', message: retained('k/1', [1, 1]) }]);
    assert.deepEqual((await store.loadAll()).find((m) => m.topic === 'k/1')?.payload, Uint8Array.from([1, 1]));
  } finally {
    await store.close();
  }
});

test('SqliteRetainedStore: a batch that repeats one topic keeps its last message; compaction waits for an older row', async () => {
  const file = freshFile();
  const store = await SqliteRetainedStore.open(file, { compactSlack: 0 });
  try {
    await store.apply([1, 2, 3, 4, 5].map((i) => ({ topic: 'a', message: retained('a', [i]) })));
    assert.deepEqual(normalizeRetained(await store.loadAll()), toPlain([retained('a', [5])]));
    // Five entries for one message is over the limit, but the only row is the batch's own.
    assert.deepEqual(await logSize(file), { rows: 1, entries: 5 });
    await store.apply([{ topic: 'b', message: retained('b', [1]) }]);
    // Now the first row is older than the batch: its latest entry moved to a new row, the rest went.
    assert.deepEqual(await logSize(file), { rows: 2, entries: 2 });
    assert.deepEqual(normalizeRetained(await store.loadAll()), toPlain(normalizeRetained([retained('a', [5]), retained('b', [1])])));
  } finally {
    await store.close();
  }
});
