// RetainedStore on the node's own SQLite file (retained.db): one row per topic, each apply() one
// write transaction. Pragmas, durability and schema versioning as in sqlite-db.ts. A run of puts
// is a few multi-row INSERTs and a run of deletes one DELETE, not one statement per change: each
// statement run is a hop to libuv's thread pool.
import type { AppMessage } from '../protocol/message.js';
import { StorageError } from './errors.js';
import { checkRetainedChange, retainedOperation, type RetainedChange } from './memory-retained-store.js';
import { SqliteDb, type WriteUnit, type Migrations, type SqliteOptions, type SqliteStatement, type SqlValue } from './sqlite-db.js';
import { decodeMessage, encodeMessage, messageColumns } from './sqlite-message-codec.js';
import { MultiRowInsert } from './sqlite-multi-row.js';
import { SqliteStore } from './sqlite-store.js';
import type { BeforeChangeHook } from './store-hooks.js';
import type { RetainedStore } from './types.js';

export interface SqliteRetainedStoreOptions extends SqliteOptions {
  /** Test-only fault injection, see store-hooks.ts. */
  beforeChange?: BeforeChangeHook;
}

/** Schema history; append, never edit. */
const MIGRATIONS: Migrations = [
  `CREATE TABLE retained (
     ${messageColumns('').join(', ')},
     PRIMARY KEY (topic)
   );`,
];

export const RETAINED_SCHEMA_VERSION = MIGRATIONS.length;

/** 64 rows x 8 columns: well below SQLite's limit of 32766 bound parameters. */
const MAX_ROWS_PER_INSERT = 64;

export class SqliteRetainedStore extends SqliteStore implements RetainedStore {
  private constructor(
    file: string,
    db: SqliteDb,
    private readonly put: MultiRowInsert,
    private readonly del: SqliteStatement,
    private readonly beforeChange: BeforeChangeHook | undefined,
  ) {
    super(file, db);
  }

  protected statements(): { finalize(): Promise<void> }[] {
    return [this.put, this.del];
  }

  static async open(file: string, options: SqliteRetainedStoreOptions = {}): Promise<SqliteRetainedStore> {
    const db = await SqliteDb.open(file, options);
    const prepared: SqliteStatement[] = [];
    try {
      await db.migrate(MIGRATIONS);
      const cols = messageColumns('');
      const put = new MultiRowInsert(db, `INSERT OR REPLACE INTO retained (${cols.join(', ')})`, cols.length, MAX_ROWS_PER_INSERT);
      // One bound JSON array of topics for the whole run.
      const del = await db.prepare('DELETE FROM retained WHERE topic IN (SELECT value FROM json_each(?))');
      prepared.push(del);
      return new SqliteRetainedStore(file, db, put, del, options.beforeChange);
    } catch (err) {
      await Promise.all(prepared.map((s) => s.finalize()));
      await db.close().catch(() => undefined);
      if (err instanceof StorageError) throw err;
      throw new StorageError('cannot prepare statements', { file, operation: 'open', cause: err });
    }
  }

  loadAll(): Promise<AppMessage[]> {
    return this.enqueue('loadAll', async () => {
      try {
        const rows = await this.db.all('SELECT * FROM retained ORDER BY topic');
        return rows.map((row) => decodeMessage(row, ''));
      } catch (err) {
        throw new StorageError('cannot load retained messages', { file: this.file, operation: 'loadAll', cause: err });
      }
    });
  }

  apply(changes: readonly RetainedChange[]): Promise<void> {
    // Encoded (and the bytes copied) now, so later mutation by the caller cannot leak in.
    const batch = [...changes];
    const units: WriteUnit[] = [];
    let i = 0;
    while (i < changes.length) {
      const isPut = changes[i]!.message !== null;
      const rows: SqlValue[][] = [];
      const topics: string[] = [];
      const first = i;
      for (; i < changes.length && (changes[i]!.message !== null) === isPut; i++) {
        const change = changes[i]!;
        try {
          checkRetainedChange(change);
          if (change.message === null) topics.push(change.topic);
          else rows.push(encodeMessage(change.message));
        } catch (cause) {
          return Promise.reject(new StorageError('invalid change', { file: this.file, operation: retainedOperation(change), cause }));
        }
      }
      const steps: (() => Promise<void>)[] = isPut
        ? this.put.chunk(rows).map((c) => () => this.put.run(c.rows, c.params))
        : [() => this.del.run([JSON.stringify(topics)])];
      units.push({ first, count: i - first, steps });
    }
    return this.write(units, batch, retainedOperation, this.beforeChange);
  }

}

