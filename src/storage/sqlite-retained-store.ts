// RetainedStore on the node's own SQLite file (retained.db): one row per topic, each apply() one
// write transaction. Pragmas, durability and schema versioning as in sqlite-db.ts.
import type { AppMessage } from '../protocol/message.js';
import { StorageError } from './errors.js';
import { checkRetainedChange, retainedOperation, type RetainedChange } from './memory-retained-store.js';
import { inWriteTransaction, RollbackFailedError, SerialQueue, SqliteDb, type Migrations, type SqliteOptions, type SqliteStatement, type SqlValue } from './sqlite-db.js';
import { decodeMessage, encodeMessage, messageColumns } from './sqlite-message-codec.js';
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

export class SqliteRetainedStore implements RetainedStore {
  private readonly queue = new SerialQueue();
  private closing: Promise<void> | null = null;
  private broken: unknown = null;

  private constructor(
    readonly file: string,
    private readonly db: SqliteDb,
    private readonly put: SqliteStatement,
    private readonly del: SqliteStatement,
    private readonly beforeChange: BeforeChangeHook | undefined,
  ) {}

  static async open(file: string, options: SqliteRetainedStoreOptions = {}): Promise<SqliteRetainedStore> {
    const db = await SqliteDb.open(file, options);
    const prepared: SqliteStatement[] = [];
    try {
      await db.migrate(MIGRATIONS);
      const cols = messageColumns('');
      const put = await db.prepare(`INSERT OR REPLACE INTO retained (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
      prepared.push(put);
      const del = await db.prepare('DELETE FROM retained WHERE topic = ?');
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
    const plan: { change: RetainedChange; stmt: SqliteStatement; params: SqlValue[] }[] = [];
    for (const change of changes) {
      try {
        checkRetainedChange(change);
        plan.push(change.message === null ? { change, stmt: this.del, params: [change.topic] } : { change, stmt: this.put, params: encodeMessage(change.message) });
      } catch (cause) {
        return Promise.reject(new StorageError('invalid change', { file: this.file, operation: retainedOperation(change), cause }));
      }
    }
    return this.enqueue('apply', async () => {
      if (plan.length === 0) return;
      let operation = 'begin';
      try {
        await inWriteTransaction(this.db, async () => {
          for (let i = 0; i < plan.length; i++) {
            const { change, stmt, params } = plan[i]!;
            operation = retainedOperation(change);
            this.beforeChange?.(change, i);
            await stmt.run(params);
          }
          operation = 'commit';
        });
      } catch (err) {
        if (err instanceof RollbackFailedError) this.broken = err;
        throw new StorageError('batch rolled back', { file: this.file, operation, cause: err instanceof RollbackFailedError ? err.original : err });
      }
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.queue.idle();
      await Promise.all([this.put.finalize(), this.del.finalize()]);
      try {
        await this.db.close();
      } catch (err) {
        throw new StorageError('cannot close database', { file: this.file, operation: 'close', cause: err });
      }
    })();
    return this.closing;
  }

  private enqueue<T>(operation: string, task: () => Promise<T>): Promise<T> {
    if (this.closing !== null) return Promise.reject(new StorageError('store is closed', { file: this.file, operation }));
    return this.queue.run(() => {
      if (this.broken !== null) {
        throw new StorageError('store unusable after a failed rollback; reopen it', { file: this.file, operation, cause: this.broken });
      }
      return task();
    });
  }
}
