// INSERTs of many rows as ONE bound value: the rows go as a JSON array, unpacked by json_each on
// SQLite's side. Binding is what costs on this thread: node-sqlite3 converts each bound value
// separately (about 0.6 µs each, measured: 5 µs per retained message of 8 columns), and each
// statement run is a hop to libuv's thread pool; a batch of one statement also needs no BEGIN and
// COMMIT. Bytes travel as hex (unhex() on SQLite's side). One statement's JSON is kept below
// `maxChars` so a batch of large payloads never builds a string near V8's limit; a single row
// larger than that gets a statement of its own.
import type { SqliteDb, SqliteStatement } from './sqlite-db.js';

/** A value of a JSON row: bytes must already be hex strings (see hex()). */
export type JsonValue = string | number | null | readonly JsonValue[];

export const DEFAULT_MAX_JSON_CHARS = 4 * 1024 * 1024;

export class JsonRowsInsert {
  private constructor(
    private readonly stmt: SqliteStatement,
    private readonly maxChars: number,
  ) {}

  /**
   * `head` is the statement up to SELECT, e.g. 'INSERT INTO t (a, b)'; `selects` read each column
   * from `value`, the JSON row (e.g. 'value->>0', 'unhex(value->>1)').
   */
  static async prepare(db: SqliteDb, head: string, selects: readonly string[], maxChars = DEFAULT_MAX_JSON_CHARS): Promise<JsonRowsInsert> {
    return new JsonRowsInsert(await db.prepare(`${head} SELECT ${selects.join(', ')} FROM json_each(?)`), maxChars);
  }

  /** The JSON texts of `rows`, in order, each below maxChars unless a single row is larger. */
  chunk(rows: readonly (readonly JsonValue[])[]): string[] {
    const out: string[] = [];
    let parts: string[] = [];
    let chars = 0;
    for (const row of rows) {
      const text = JSON.stringify(row);
      if (parts.length > 0 && chars + text.length + 1 > this.maxChars) {
        out.push(`[${parts.join(',')}]`);
        parts = [];
        chars = 0;
      }
      parts.push(text);
      chars += text.length + 1;
    }
    if (parts.length > 0) out.push(`[${parts.join(',')}]`);
    return out;
  }

  run(json: string): Promise<void> {
    return this.stmt.run([json]);
  }

  finalize(): Promise<void> {
    return this.stmt.finalize();
  }
}

/** Bytes as the hex text unhex() turns back into the same BLOB. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
