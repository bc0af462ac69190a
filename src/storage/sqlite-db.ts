// A thin promise wrapper over one sqlite3 connection, shared by the SQLite stores: opening with
// the durability pragmas, versioned schema migration, prepared statements and a serial queue.
//
// Durability: the stores run in WAL mode. With synchronous=NORMAL a commit is written to the WAL
// but not fsynced; it survives the *process* dying at any point (kill -9, a crashing worker),
// because the data is already in the OS page cache, but the last commits may be lost on an OS
// crash or power loss (the database itself stays consistent). synchronous=FULL fsyncs the WAL
// on every commit and survives those too, at the cost of one fsync per apply().
import sqlite3 from 'sqlite3';
import { StorageError } from './errors.js';

export type SynchronousMode = 'NORMAL' | 'FULL';

export interface SqliteOptions {
  /** Default 'NORMAL': durable across process crashes, not across OS crashes (see above). */
  synchronous?: SynchronousMode;
  /** How long a statement waits on a lock held by another connection. Default 5000 ms. */
  busyTimeoutMs?: number;
}

export type SqlValue = string | number | null | Uint8Array;
export type SqlRow = Record<string, SqlValue>;

/** Migration i (0-based) takes the schema from version i to version i + 1. */
export type Migrations = readonly string[];

export class SqliteStatement {
  constructor(private readonly stmt: sqlite3.Statement) {}

  run(params: readonly SqlValue[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stmt.run(params, (err: Error | null) => (err ? reject(err) : resolve()));
    });
  }

  finalize(): Promise<void> {
    return new Promise((resolve) => {
      // finalize() reports no error worth acting on: the statement is gone either way.
      this.stmt.finalize(() => resolve());
    });
  }
}

/** Transaction control, prepared once per connection: see SqliteDb.control(). */
type Control = 'BEGIN IMMEDIATE' | 'COMMIT' | 'ROLLBACK';

export class SqliteDb {
  private readonly controls = new Map<Control, Promise<SqliteStatement>>();

  private constructor(
    readonly file: string,
    private readonly db: sqlite3.Database,
  ) {}

  /**
   * Runs BEGIN IMMEDIATE, COMMIT or ROLLBACK from a statement prepared on first use. node-sqlite3's
   * run(sql) prepares, steps and finalizes a new statement, three hops to the thread pool; a write
   * transaction paid that twice.
   */
  async control(sql: Control): Promise<void> {
    let stmt = this.controls.get(sql);
    if (stmt === undefined) {
      stmt = this.prepare(sql);
      this.controls.set(sql, stmt);
      stmt.catch(() => this.controls.delete(sql));
    }
    await (await stmt).run([]);
  }

  /** Opens (creating if missing) the database file; its directory must exist. */
  static async open(file: string, options: SqliteOptions = {}): Promise<SqliteDb> {
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const handle: sqlite3.Database = new sqlite3.Database(
        file,
        sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE,
        (err) => (err ? reject(new StorageError('cannot open database', { file, operation: 'open', cause: err })) : resolve(handle)),
      );
    });
    const wrapped = new SqliteDb(file, db);
    try {
      const synchronous = options.synchronous ?? 'NORMAL';
      if (synchronous !== 'NORMAL' && synchronous !== 'FULL') throw new Error(`invalid synchronous mode ${String(synchronous)}`);
      await wrapped.run(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      const mode = await wrapped.get('PRAGMA journal_mode = WAL');
      // The durability argument above only holds in WAL mode; an in-memory database reports 'memory'.
      if (file !== ':memory:' && mode?.['journal_mode'] !== 'wal') {
        throw new Error(`journal_mode is ${String(mode?.['journal_mode'])}, expected wal`);
      }
      await wrapped.run(`PRAGMA synchronous = ${synchronous}`);
    } catch (err) {
      await wrapped.close().catch(() => undefined);
      if (err instanceof StorageError) throw err;
      throw new StorageError('cannot configure database', { file, operation: 'open', cause: err });
    }
    return wrapped;
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<void> {
    return new Promise((resolve, reject) => {
      this.db.run(sql, params, (err: Error | null) => (err ? reject(err) : resolve()));
    });
  }

  get(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow | undefined> {
    return new Promise((resolve, reject) => {
      this.db.get(sql, params, (err: Error | null, row: SqlRow | undefined) => (err ? reject(err) : resolve(row)));
    });
  }

  all(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow[]> {
    return new Promise((resolve, reject) => {
      this.db.all(sql, params, (err: Error | null, rows: SqlRow[]) => (err ? reject(err) : resolve(rows)));
    });
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.db.exec(sql, (err: Error | null) => (err ? reject(err) : resolve()));
    });
  }

  prepare(sql: string): Promise<SqliteStatement> {
    return new Promise((resolve, reject) => {
      const stmt: sqlite3.Statement = this.db.prepare(sql, (err: Error | null) => (err ? reject(err) : resolve(new SqliteStatement(stmt))));
    });
  }

  /**
   * Brings the schema to `migrations.length`, one transaction for all pending steps. The version
   * is read inside the write transaction, so two processes opening the same file cannot both
   * migrate. A file written by a newer build is refused rather than misread.
   */
  async migrate(migrations: Migrations): Promise<void> {
    const expected = migrations.length;
    try {
      await this.run('BEGIN IMMEDIATE');
      await this.run('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
      const row = await this.get('SELECT max(version) AS version FROM schema_version');
      const current = typeof row?.['version'] === 'number' ? row['version'] : 0;
      if (current > expected) {
        throw new StorageError(`schema version ${current} is newer than this build supports (expected ${expected}); upgrade Shoal or restore an older file`, {
          file: this.file,
          operation: 'migrate',
        });
      }
      for (let v = current; v < expected; v++) await this.exec(migrations[v]!);
      if (current !== expected) {
        await this.run('DELETE FROM schema_version');
        await this.run('INSERT INTO schema_version (version) VALUES (?)', [expected]);
      }
      await this.run('COMMIT');
    } catch (err) {
      await this.run('ROLLBACK').catch(() => undefined);
      if (err instanceof StorageError) throw err;
      throw new StorageError(`cannot migrate schema to version ${expected}`, { file: this.file, operation: 'migrate', cause: err });
    }
  }

  /** Returns 'ok' or the problems PRAGMA integrity_check found. */
  async integrityCheck(): Promise<string> {
    const rows = await this.all('PRAGMA integrity_check');
    return rows.map((r) => String(r['integrity_check'])).join('\n');
  }

  async close(): Promise<void> {
    const controls = await Promise.allSettled(this.controls.values());
    this.controls.clear();
    await Promise.all(controls.map((c) => (c.status === 'fulfilled' ? c.value.finalize() : undefined)));
    return new Promise((resolve, reject) => {
      this.db.close((err) => (err ? reject(err) : resolve()));
    });
  }
}

/** Runs tasks one at a time in call order; a failed task does not stop the ones after it. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}

/**
 * Runs `body` in one BEGIN IMMEDIATE ... COMMIT (IMMEDIATE takes the write lock up front, so no
 * statement inside can hit SQLITE_BUSY halfway). On any failure it rolls back and rethrows the
 * original error, or throws RollbackFailedError when the connection is left in a transaction.
 * `statements` is how many statements `body` runs, if known.
 */
export async function inWriteTransaction(db: SqliteDb, body: () => Promise<void>, statements = Infinity): Promise<void> {
  // One statement is atomic and durable on its own (autocommit: SQLite undoes a failing statement
  // and commits a successful one like COMMIT does); skipping BEGIN and COMMIT spares two hops to
  // the thread pool, the bulk of a small batch's cost.
  if (statements <= 1) return body();
  await db.control('BEGIN IMMEDIATE');
  try {
    await body();
    await db.control('COMMIT');
  } catch (err) {
    try {
      await db.control('ROLLBACK');
    } catch (rollbackErr) {
      // SQLite already rolled back on its own after some errors (e.g. SQLITE_FULL): then there is
      // no transaction left and ROLLBACK says so. Anything else means the connection is wedged.
      if (!/no transaction is active/i.test(String((rollbackErr as Error).message))) {
        throw new RollbackFailedError(err, rollbackErr);
      }
    }
    throw err;
  }
}

export class RollbackFailedError extends Error {
  constructor(
    readonly original: unknown,
    readonly rollbackError: unknown,
  ) {
    super(`rollback failed after ${String(original)}: ${String(rollbackError)}`, { cause: original });
    this.name = 'RollbackFailedError';
  }
}

/** Items `first .. first + count - 1` of a batch (one kind of change), written by `steps`. */
export interface WriteUnit {
  first: number;
  count: number;
  steps: (() => Promise<void>)[];
  /** What a unit of no items of its own writes (e.g. what a run of items adds up to), for errors. */
  label?: string;
}

/** A planned batch failed: `operation` names what was running, `cause` is why. */
export class WriteUnitsError extends Error {
  constructor(
    readonly operation: string,
    override readonly cause: unknown,
  ) {
    super(`${operation} failed`);
    this.name = 'WriteUnitsError';
  }
}

/**
 * Writes a planned batch in one transaction (see inWriteTransaction). `describe(item)` names the
 * item being written, for errors; `before(item, index)` is the test-only failure hook.
 */
export async function writeUnits<T>(
  db: SqliteDb,
  units: readonly WriteUnit[],
  batch: readonly T[],
  describe: (item: T) => string,
  before?: (item: T, index: number) => void,
): Promise<void> {
  if (units.length === 0) return;
  let operation = 'begin';
  try {
    await inWriteTransaction(db, async () => {
      for (const unit of units) {
        if (unit.label !== undefined) operation = unit.label;
        for (let i = unit.first; i < unit.first + unit.count; i++) {
          operation = describe(batch[i]!);
          before?.(batch[i]!, i);
        }
        for (const step of unit.steps) await step();
      }
      operation = 'commit';
    }, units.reduce((n, u) => n + u.steps.length, 0));
  } catch (err) {
    throw new WriteUnitsError(operation, err);
  }
}
