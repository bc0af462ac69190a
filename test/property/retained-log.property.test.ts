// The log-structured SQLite retained store against the memory store as the model: after every
// batch of random puts and deletes over a few topics (so topics are replaced and deleted often),
// with compaction due almost at once or only now and then, both load the same messages, and so does the file
// after close and reopen. And the log keeps no row whose entries are all superseded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { AppMessage } from '../../src/protocol/message.js';
import { SqliteDb } from '../../src/storage/sqlite-db.js';
import { MemoryRetainedStore, type RetainedChange } from '../../src/storage/memory-retained-store.js';
import { SqliteRetainedStore } from '../../src/storage/sqlite-retained-store.js';
import { normalizeRetained } from '../unit/storage/normalize.js';
import { propertyParams } from './harness.js';

const params = propertyParams();
// Each run opens a SQLite file and writes up to 30 batches: a quarter of the usual run count.
const runs = { ...params, numRuns: Math.max(1, Math.ceil(params.numRuns / 4)) };

let dir = '';
let counter = 0;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-retained-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const TOPICS = ['a', 'b', 'c/d', 'e', '€', 'f/g/h'] as const;

const changeArb: fc.Arbitrary<RetainedChange> = fc
  .record({ t: fc.nat({ max: TOPICS.length - 1 }), put: fc.boolean(), payload: fc.uint8Array({ minLength: 1, maxLength: 4 }), qos: fc.constantFrom(0 as const, 1 as const, 2 as const) })
  .map(({ t, put, payload, qos }) => {
    const topic = TOPICS[t]!;
    const message: AppMessage = { topic, payload, qos, retain: true, publisherId: 'p' };
    return { topic, message: put ? message : null };
  });

/** Ids of rows none of whose entries is the latest one for its topic in the whole log. */
async function supersededRows(file: string): Promise<number[]> {
  const db = await SqliteDb.open(file);
  try {
    const rows = await db.all('SELECT id, changes FROM retained_log ORDER BY id');
    const latest = new Map<string, number>();
    for (const r of rows) for (const e of JSON.parse(String(r['changes'])) as unknown[][]) latest.set(e[0] as string, r['id'] as number);
    return rows.filter((r) => !(JSON.parse(String(r['changes'])) as unknown[][]).some((e) => latest.get(e[0] as string) === r['id'])).map((r) => r['id'] as number);
  } finally {
    await db.close();
  }
}

test('property: the log-structured retained store agrees with the memory store through replacements, deletes and compaction', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(changeArb, { maxLength: 8 }), { minLength: 1, maxLength: 30 }), fc.constantFrom(0, 1, 3, 8, 20), async (batches, compactSlack) => {
      const file = path.join(dir, `log-${counter++}.db`);
      const model = new MemoryRetainedStore();
      let store = await SqliteRetainedStore.open(file, { compactSlack });
      try {
        for (const batch of batches) {
          await model.apply(batch);
          await store.apply(batch);
          assert.deepEqual(normalizeRetained(await store.loadAll()), normalizeRetained(await model.loadAll()));
        }
        assert.deepEqual(await supersededRows(file), [], 'rows kept with every entry superseded');
        await store.close();
        store = await SqliteRetainedStore.open(file, { compactSlack });
        assert.deepEqual(normalizeRetained(await store.loadAll()), normalizeRetained(await model.loadAll()), 'after reopening');
      } finally {
        await store.close();
        fs.rmSync(file, { force: true });
      }
    }),
    runs,
  );
});
