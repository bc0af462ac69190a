import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SqliteDb } from '../../../src/storage/sqlite-db.js';
import { hex, JsonRowsInsert } from '../../../src/storage/sqlite-json-rows.js';

test('JsonRowsInsert: rows go in order, split below maxChars, an oversize row alone; bytes survive as hex', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-json-rows-'));
  const db = await SqliteDb.open(path.join(dir, 't.db'));
  try {
    await db.run('CREATE TABLE t (k INTEGER PRIMARY KEY, s, b)');
    const insert = await JsonRowsInsert.prepare(db, 'INSERT OR REPLACE INTO t (k, s, b)', ['value->>0', 'value->>1', 'unhex(value->>2)'], 60);
    const bytes = [new Uint8Array(0), Uint8Array.from([0, 255, 16]), new Uint8Array(40).fill(7), Uint8Array.from([1])];
    const rows = [
      [1, 'a"\\\n€', hex(bytes[0]!)],
      [2, 'b', hex(bytes[1]!)],
      [3, 'c', hex(bytes[2]!)], // 80 hex chars: larger than maxChars on its own
      [4, 'd', hex(bytes[3]!)],
      [1, 'a again', hex(bytes[3]!.subarray(0, 0))], // a repeated key ends with the later row
    ];
    const chunks = insert.chunk(rows);
    assert.ok(chunks.length >= 3, `expected the rows split, got ${chunks.length} chunk(s)`);
    for (const c of chunks) assert.ok(c.length <= 60 || JSON.parse(c).length === 1, `a chunk over the limit holds more than one row: ${c}`);
    assert.deepEqual(chunks.flatMap((c) => JSON.parse(c) as unknown[]), rows);
    for (const c of chunks) await insert.run(c);
    await insert.finalize();
    const got = await db.all('SELECT k, s, b FROM t ORDER BY k');
    assert.deepEqual(
      got.map((r) => [r['k'], r['s'], [...(r['b'] as Uint8Array)]]),
      [[1, 'a again', []], [2, 'b', [0, 255, 16]], [3, 'c', [...bytes[2]!]], [4, 'd', [1]]],
    );
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
