// What both SQLite stores share: one serial queue of tasks on one connection, the write of a
// planned batch in one transaction, the "broken after a failed rollback" state, and close.
import { StorageError } from './errors.js';
import { RollbackFailedError, SerialQueue, writeUnits, WriteUnitsError, type SqliteDb, type WriteUnit } from './sqlite-db.js';

export abstract class SqliteStore {
  private readonly queue = new SerialQueue();
  private closing: Promise<void> | null = null;
  /** Set when a ROLLBACK failed: the connection may still be inside a transaction. */
  private broken: unknown = null;

  protected constructor(
    readonly file: string,
    protected readonly db: SqliteDb,
  ) {}

  /** The prepared statements to finalise on close. */
  protected abstract statements(): { finalize(): Promise<void> }[];

  /** Runs `task` after every task queued before it; refused once closing or broken. */
  protected enqueue<T>(operation: string, task: () => Promise<T>): Promise<T> {
    if (this.closing !== null) return Promise.reject(new StorageError('store is closed', { file: this.file, operation }));
    return this.queue.run(() => {
      if (this.broken !== null) {
        throw new StorageError('store unusable after a failed rollback; reopen it', { file: this.file, operation, cause: this.broken });
      }
      return task();
    });
  }

  /** Writes a planned batch in one transaction, in queue order. */
  protected write<T>(units: readonly WriteUnit[], batch: readonly T[], describe: (item: T) => string, before?: (item: T, index: number) => void): Promise<void> {
    return this.enqueue('apply', () => this.writeNow(units, batch, describe, before));
  }

  /** write() for a task already running in the queue. */
  protected async writeNow<T>(units: readonly WriteUnit[], batch: readonly T[], describe: (item: T) => string, before?: (item: T, index: number) => void): Promise<void> {
    try {
      await writeUnits(this.db, units, batch, describe, before);
    } catch (err) {
      const { operation, cause } = err as WriteUnitsError;
      if (cause instanceof RollbackFailedError) this.broken = cause;
      throw new StorageError('batch rolled back', { file: this.file, operation, cause: cause instanceof RollbackFailedError ? cause.original : cause });
    }
  }

  /** Waits for queued tasks, then finalises the statements and closes the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.queue.idle();
      await Promise.all(this.statements().map((s) => s.finalize()));
      try {
        await this.db.close();
      } catch (err) {
        throw new StorageError('cannot close database', { file: this.file, operation: 'close', cause: err });
      }
    })();
    return this.closing;
  }
}
