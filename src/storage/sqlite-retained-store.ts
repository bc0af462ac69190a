// RetainedStore on the node's own SQLite file (retained.db): one row per topic, each apply() one
// write transaction. Pragmas, durability and schema versioning as in sqlite-db.ts. A run of puts
// is one INSERT of a JSON array of rows (see sqlite-json-rows.ts) and a run of deletes one DELETE,
// not one statement per change: each statement run is a hop to libuv's thread pool.
import type { AppMessage } from '../protocol/message.js';
import { StorageError } from './errors.js';
import { checkRetainedChange, retainedOperation, type RetainedChange } from './memory-retained-store.js';
import { SqliteDb, type WriteUnit, type Migrations, type SqliteOptions, type SqliteStatement } from './sqlite-db.js';
import { JsonRowsInsert, type JsonValue } from './sqlite-json-rows.js';
import { decodeMessage, encodeMessageJson, messageColumns, messageFromJson } from './sqlite-message-codec.js';
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

export class SqliteRetainedStore extends SqliteStore implements RetainedStore {
  private constructor(
    file: string,
    db: SqliteDb,
    private readonly put: JsonRowsInsert,
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
    const prepared: { finalize(): Promise<void> }[] = [];
    try {
      await db.migrate(MIGRATIONS);
      const cols = messageColumns('');
      // Rows are inserted in array order, so a topic repeated in a batch ends with its later message.
      const put = await JsonRowsInsert.prepare(db, `INSERT OR REPLACE INTO retained (${cols.join(', ')})`, messageFromJson(0));
      prepared.push(put);
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
      const rows: JsonValue[][] = [];
      const topics: string[] = [];
      const first = i;
      for (; i < changes.length && (changes[i]!.message !== null) === isPut; i++) {
        const change = changes[i]!;
        try {
          checkRetainedChange(change);
          if (change.message === null) topics.push(change.topic);
          else rows.push(encodeMessageJson(change.message));
        } catch (cause) {
          return Promise.reject(new StorageError('invalid change', { file: this.file, operation: retainedOperation(change), cause }));
        }
      }
      const steps: (() => Promise<void>)[] = isPut
        ? this.put.chunk(rows).map((json) => () => this.put.run(json))
        : [() => this.del.run([JSON.stringify(topics)])];
      units.push({ first, count: i - first, steps });
    }
    return this.write(units, batch, retainedOperation, this.beforeChange);
  }

}

