// Multi-row INSERTs of one shape with bound values, for rows that carry large JSON text (a log
// row's recipients): inside one bound JSON array of rows, unpacked by json_each, that text would
// be parsed again by every column's extraction; bound, it is copied once. Each statement run costs a hop to
// libuv's thread pool, and a batch of one statement needs no BEGIN and COMMIT (two more hops), so
// a run of rows becomes as few INSERTs as possible: full ones of `maxRows` rows, then one of
// exactly the rows left. Each row count gets its own prepared statement, made on first use: at
// most `maxRows` of them.
import type { SqliteDb, SqliteStatement, SqlValue } from './sqlite-db.js';

export class MultiRowInsert {
  private readonly byRows = new Map<number, Promise<SqliteStatement>>();

  /**
   * `head` is the statement up to VALUES, e.g. 'INSERT INTO t (a, b)'. `maxRows` x `columns` must
   * stay below SQLite's limit of 32766 bound parameters.
   */
  constructor(
    private readonly db: SqliteDb,
    private readonly head: string,
    private readonly columns: number,
    private readonly maxRows: number,
  ) {
    if (maxRows * columns > 32766) throw new RangeError(`${maxRows} rows of ${columns} columns exceed SQLite's parameter limit`);
  }

  /** Splits `rows` (each `columns` values, in order) into chunks of `maxRows` and one of the rest. */
  chunk(rows: readonly (readonly SqlValue[])[]): { rows: number; params: SqlValue[] }[] {
    const chunks: { rows: number; params: SqlValue[] }[] = [];
    for (let i = 0; i < rows.length; ) {
      const n = Math.min(this.maxRows, rows.length - i);
      const params: SqlValue[] = [];
      for (let k = i; k < i + n; k++) {
        const row = rows[k]!;
        if (row.length !== this.columns) throw new RangeError(`row has ${row.length} values, expected ${this.columns}`);
        for (const v of row) params.push(v);
      }
      chunks.push({ rows: n, params });
      i += n;
    }
    return chunks;
  }

  /** Runs the INSERT of `rows` rows (prepared on first use) with `params`. */
  async run(rows: number, params: readonly SqlValue[]): Promise<void> {
    let stmt = this.byRows.get(rows);
    if (stmt === undefined) {
      const row = `(${new Array<string>(this.columns).fill('?').join(', ')})`;
      stmt = this.db.prepare(`${this.head} VALUES ${new Array<string>(rows).fill(row).join(', ')}`);
      this.byRows.set(rows, stmt);
      // A failed prepare is not cached: the next batch tries again.
      stmt.catch(() => this.byRows.delete(rows));
    }
    await (await stmt).run(params);
  }

  async finalize(): Promise<void> {
    const stmts = await Promise.allSettled(this.byRows.values());
    this.byRows.clear();
    await Promise.all(stmts.map((s) => (s.status === 'fulfilled' ? s.value.finalize() : undefined)));
  }
}
