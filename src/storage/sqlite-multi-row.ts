// Multi-row INSERTs of one shape. Each statement run costs a hop to libuv's thread pool, which
// dominates the cost of a small write, so a run of rows becomes a few INSERTs of power-of-two row
// counts (a handful of prepared statements cover any run length). The rows of one INSERT are
// written in order, so with OR REPLACE a repeated key still ends with the later row.
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

  /** Splits `rows` (each `columns` values, in order) into chunks of power-of-two sizes. */
  chunk(rows: readonly (readonly SqlValue[])[]): { rows: number; params: SqlValue[] }[] {
    const chunks: { rows: number; params: SqlValue[] }[] = [];
    let i = 0;
    while (i < rows.length) {
      let n = this.maxRows;
      while (n > rows.length - i) n >>= 1;
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
