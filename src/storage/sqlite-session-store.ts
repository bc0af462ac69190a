// SessionStore on one SQLite file per shard. A batch of ops is one write transaction of prepared
// statements (group commit: the shard collects ops and applies them together), and batches are
// queued so only one transaction is open on the connection at a time. Durability trade-off of
// synchronous=NORMAL vs FULL: see sqlite-db.ts.
import type { ProtocolVersion, SubscriptionOptions, WillMessage } from '../protocol/message.js';
import { StorageError } from './errors.js';
import { defineOwn } from './own-record.js';
import { inWriteTransaction, RollbackFailedError, SerialQueue, SqliteDb, type Migrations, type SqliteOptions, type SqliteStatement, type SqlRow, type SqlValue } from './sqlite-db.js';
import { asNumber, asString, decodeMessage, encodeMessage, messageColumns, nullMessage } from './sqlite-message-codec.js';
import type { BeforeOpHook } from './store-hooks.js';
import type { SessionMeta, SessionStore, StoredMessage, StoredMessageState, StoredSession, StoreOp } from './types.js';

export interface SqliteSessionStoreOptions extends SqliteOptions {
  /** Test-only fault injection, see store-hooks.ts. */
  beforeOp?: BeforeOpHook;
}

const WILL = 'will_';
const MSG = 'msg_';

/** Schema history; append, never edit: a file records how many of these it has run. */
const MIGRATIONS: Migrations = [
  `CREATE TABLE sessions (
     client_id TEXT PRIMARY KEY,
     protocol_version INTEGER NOT NULL CHECK (protocol_version IN (3, 4, 5)),
     expiry_interval_sec INTEGER NOT NULL,
     disconnected_at INTEGER,
     will_delay_sec INTEGER,
     ${messageColumns(WILL).join(', ')}
   );
   CREATE TABLE subscriptions (
     client_id TEXT NOT NULL,
     filter TEXT NOT NULL,
     options TEXT NOT NULL,
     PRIMARY KEY (client_id, filter)
   ) WITHOUT ROWID;
   CREATE TABLE messages (
     client_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('queued', 'inflight', 'released')),
     packet_id INTEGER CHECK (packet_id IS NULL OR packet_id BETWEEN 1 AND 65535),
     qos INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
     retain INTEGER NOT NULL,
     subscription_ids TEXT NOT NULL,
     ${messageColumns(MSG).join(', ')},
     PRIMARY KEY (client_id, seq)
   );
   CREATE TABLE qos2 (
     client_id TEXT NOT NULL,
     packet_id INTEGER NOT NULL,
     PRIMARY KEY (client_id, packet_id)
   ) WITHOUT ROWID;`,
];

/** The schema version this build writes; a file with a higher one is refused. */
export const SESSION_SCHEMA_VERSION = MIGRATIONS.length;

const PUT_MESSAGE_COLUMNS = ['client_id', 'seq', 'state', 'packet_id', 'qos', 'retain', 'subscription_ids', ...messageColumns(MSG)];
/** 64 rows x 15 columns stays far below SQLite's limit of 32766 bound parameters. */
const MAX_ROWS_PER_INSERT = 64;

const SQL = {
  putMeta: `INSERT OR REPLACE INTO sessions (client_id, protocol_version, expiry_interval_sec, disconnected_at, will_delay_sec, ${messageColumns(WILL).join(', ')})
            VALUES (${placeholders(5 + messageColumns(WILL).length)})`,
  deleteSession: 'DELETE FROM sessions WHERE client_id = ?',
  deleteSessionSubscriptions: 'DELETE FROM subscriptions WHERE client_id = ?',
  deleteSessionMessages: 'DELETE FROM messages WHERE client_id = ?',
  deleteSessionQos2: 'DELETE FROM qos2 WHERE client_id = ?',
  putSubscription: 'INSERT OR REPLACE INTO subscriptions (client_id, filter, options) VALUES (?, ?, ?)',
  deleteSubscription: 'DELETE FROM subscriptions WHERE client_id = ? AND filter = ?',
  putMessage: `INSERT OR REPLACE INTO messages (${PUT_MESSAGE_COLUMNS.join(', ')}) VALUES (${placeholders(PUT_MESSAGE_COLUMNS.length)})`,
  updateMessage: 'UPDATE messages SET state = ?, packet_id = ? WHERE client_id = ? AND seq = ?',
  deleteMessage: 'DELETE FROM messages WHERE client_id = ? AND seq = ?',
  putQos2: 'INSERT OR IGNORE INTO qos2 (client_id, packet_id) VALUES (?, ?)',
  deleteQos2: 'DELETE FROM qos2 WHERE client_id = ? AND packet_id = ?',
} as const;

type Statements = Record<keyof typeof SQL, SqliteStatement>;

export class SqliteSessionStore implements SessionStore {
  private readonly queue = new SerialQueue();
  private closing: Promise<void> | null = null;
  /** Set when a ROLLBACK failed: the connection may still be inside a transaction. */
  private broken: unknown = null;
  /** Multi-row putMessage INSERTs by row count (powers of two up to MAX_ROWS_PER_INSERT). */
  private readonly multiPut = new Map<number, SqliteStatement>();

  private constructor(
    readonly file: string,
    private readonly db: SqliteDb,
    private readonly stmts: Statements,
    private readonly beforeOp: BeforeOpHook | undefined,
  ) {}

  /** Opens or creates the shard's database file (its directory must exist) and migrates it. */
  static async open(file: string, options: SqliteSessionStoreOptions = {}): Promise<SqliteSessionStore> {
    const db = await SqliteDb.open(file, options);
    const prepared: SqliteStatement[] = [];
    try {
      await db.migrate(MIGRATIONS);
      const stmts = {} as Statements;
      for (const key of Object.keys(SQL) as (keyof typeof SQL)[]) {
        stmts[key] = await db.prepare(SQL[key]);
        prepared.push(stmts[key]);
      }
      return new SqliteSessionStore(file, db, stmts, options.beforeOp);
    } catch (err) {
      await Promise.all(prepared.map((s) => s.finalize()));
      await db.close().catch(() => undefined);
      if (err instanceof StorageError) throw err;
      throw new StorageError('cannot prepare statements', { file, operation: 'open', cause: err });
    }
  }

  loadAll(): Promise<StoredSession[]> {
    return this.enqueue('loadAll', async () => {
      // One read transaction, so the four queries see the same snapshot.
      await this.db.run('BEGIN');
      try {
        const sessionRows = await this.db.all('SELECT * FROM sessions');
        const subscriptionRows = await this.db.all('SELECT client_id, filter, options FROM subscriptions');
        const qos2Rows = await this.db.all('SELECT client_id, packet_id FROM qos2 ORDER BY client_id, packet_id');
        const messageRows = await this.db.all('SELECT * FROM messages ORDER BY client_id, seq');
        await this.db.run('COMMIT');
        return assemble(sessionRows, subscriptionRows, qos2Rows, messageRows);
      } catch (err) {
        await this.db.run('ROLLBACK').catch(() => undefined);
        throw new StorageError('cannot load sessions', { file: this.file, operation: 'loadAll', cause: err });
      }
    });
  }

  apply(ops: readonly StoreOp[]): Promise<void> {
    // Bind values are taken now, not when the queued batch runs, so a caller that reuses or
    // mutates its op objects after apply() returns cannot change what gets written.
    let units: Unit[];
    try {
      units = this.plan(ops);
    } catch (err) {
      return Promise.reject(new StorageError('invalid op', { file: this.file, operation: 'apply', cause: err }));
    }
    return this.enqueue('apply', async () => {
      if (units.length === 0) return;
      let operation = 'begin';
      try {
        await inWriteTransaction(this.db, async () => {
          for (const unit of units) {
            for (let i = unit.first; i < unit.first + unit.count; i++) {
              operation = ops[i]!.op;
              this.beforeOp?.(ops[i]!, i);
            }
            for (const [ref, params] of unit.steps) {
              const stmt = typeof ref === 'number' ? await this.putMessageRows(ref) : ref;
              await stmt.run(params);
            }
          }
          operation = 'commit';
        });
      } catch (err) {
        if (err instanceof RollbackFailedError) this.broken = err;
        throw new StorageError('batch rolled back', { file: this.file, operation, cause: err instanceof RollbackFailedError ? err.original : err });
      }
    });
  }

  /** Waits for queued batches, then finalises the statements and closes the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.queue.idle();
      await Promise.all([...Object.values(this.stmts), ...this.multiPut.values()].map((s) => s.finalize()));
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

  /**
   * Each statement run costs a hop to libuv's thread pool, which dominates the cost of a write;
   * so a run of consecutive putMessage ops (the common case: fan-out to offline sessions) becomes
   * a few multi-row INSERTs of power-of-two sizes. Rows of one INSERT are written in order, so a
   * repeated seq still ends with the later row, as with one statement per op.
   */
  private plan(ops: readonly StoreOp[]): Unit[] {
    const units: Unit[] = [];
    let i = 0;
    while (i < ops.length) {
      let end = i;
      while (end < ops.length && ops[end]!.op === 'putMessage') end++;
      if (end === i) {
        units.push({ first: i, count: 1, steps: this.planOne(ops[i]!) });
        i++;
        continue;
      }
      while (i < end) {
        let rows = MAX_ROWS_PER_INSERT;
        while (rows > end - i) rows >>= 1;
        const params: SqlValue[] = [];
        for (let k = i; k < i + rows; k++) params.push(...putMessageParams(ops[k] as Extract<StoreOp, { op: 'putMessage' }>));
        units.push({ first: i, count: rows, steps: [[rows === 1 ? this.stmts.putMessage : rows, params]] });
        i += rows;
      }
    }
    return units;
  }

  /** The INSERT of `rows` messages, prepared on first use. */
  private async putMessageRows(rows: number): Promise<SqliteStatement> {
    let stmt = this.multiPut.get(rows);
    if (stmt === undefined) {
      const row = `(${placeholders(PUT_MESSAGE_COLUMNS.length)})`;
      stmt = await this.db.prepare(`INSERT OR REPLACE INTO messages (${PUT_MESSAGE_COLUMNS.join(', ')}) VALUES ${new Array<string>(rows).fill(row).join(', ')}`);
      this.multiPut.set(rows, stmt);
    }
    return stmt;
  }

  private planOne(op: StoreOp): Step[] {
    const s = this.stmts;
    switch (op.op) {
      case 'putMeta':
        return [[s.putMeta, encodeMeta(op.meta)]];
      case 'deleteSession':
        return [
          [s.deleteSession, [op.clientId]],
          [s.deleteSessionSubscriptions, [op.clientId]],
          [s.deleteSessionMessages, [op.clientId]],
          [s.deleteSessionQos2, [op.clientId]],
        ];
      case 'putSubscription':
        return [[s.putSubscription, [op.clientId, op.filter, JSON.stringify(op.options)]]];
      case 'deleteSubscription':
        return [[s.deleteSubscription, [op.clientId, op.filter]]];
      case 'putMessage':
        return [[s.putMessage, putMessageParams(op)]];
      case 'updateMessage':
        // A missing row updates nothing: the message was acked or its session deleted meanwhile.
        return [[s.updateMessage, [op.state, op.packetId, op.clientId, op.seq]]];
      case 'deleteMessage':
        return [[s.deleteMessage, [op.clientId, op.seq]]];
      case 'putQos2':
        return [[s.putQos2, [op.clientId, op.packetId]]];
      case 'deleteQos2':
        return [[s.deleteQos2, [op.clientId, op.packetId]]];
      default: {
        const never: never = op;
        throw new TypeError(`unknown store op ${JSON.stringify(never)}`);
      }
    }
  }
}

/** A statement, or the row count of a multi-row putMessage INSERT, with its bind values. */
type Step = [SqliteStatement | number, SqlValue[]];

/** Ops `first .. first + count - 1` of a batch, written by `steps`. */
interface Unit {
  first: number;
  count: number;
  steps: Step[];
}

function putMessageParams(op: Extract<StoreOp, { op: 'putMessage' }>): SqlValue[] {
  const m = op.message;
  return [op.clientId, m.seq, m.state, m.packetId, m.qos, m.retain ? 1 : 0, JSON.stringify(m.subscriptionIds), ...encodeMessage(m.message)];
}

function placeholders(n: number): string {
  return new Array<string>(n).fill('?').join(', ');
}

function encodeMeta(meta: SessionMeta): SqlValue[] {
  const will = meta.will === null ? [null, ...nullMessage()] : [meta.will.delaySec, ...encodeMessage(meta.will.message)];
  return [meta.clientId, meta.protocolVersion, meta.expiryIntervalSec, meta.disconnectedAt, ...will];
}

function decodeMeta(row: SqlRow): SessionMeta {
  const protocolVersion = asNumber(row['protocol_version']) as ProtocolVersion;
  const disconnectedAt = row['disconnected_at'];
  const willDelay = row['will_delay_sec'];
  const will: WillMessage | null = typeof willDelay === 'number' ? { message: decodeMessage(row, WILL), delaySec: willDelay } : null;
  return {
    clientId: asString(row['client_id']),
    protocolVersion,
    expiryIntervalSec: asNumber(row['expiry_interval_sec']),
    disconnectedAt: typeof disconnectedAt === 'number' ? disconnectedAt : null,
    will,
  };
}

function decodeStoredMessage(row: SqlRow): StoredMessage {
  const packetId = row['packet_id'];
  return {
    seq: asNumber(row['seq']),
    state: asString(row['state']) as StoredMessageState,
    packetId: typeof packetId === 'number' ? packetId : null,
    qos: asNumber(row['qos']) as StoredMessage['qos'],
    retain: row['retain'] === 1,
    subscriptionIds: JSON.parse(asString(row['subscription_ids'])) as number[],
    message: decodeMessage(row, MSG),
  };
}

/** Groups the rows per client; rows of a client without a sessions row are not a session (yet). */
function assemble(sessionRows: SqlRow[], subscriptionRows: SqlRow[], qos2Rows: SqlRow[], messageRows: SqlRow[]): StoredSession[] {
  const byClient = new Map<string, StoredSession>();
  for (const row of sessionRows) {
    const meta = decodeMeta(row);
    byClient.set(meta.clientId, { meta, subscriptions: {}, inboundQos2: [], messages: [] });
  }
  for (const row of subscriptionRows) {
    const session = byClient.get(asString(row['client_id']));
    if (session !== undefined) defineOwn(session.subscriptions, asString(row['filter']), JSON.parse(asString(row['options'])) as SubscriptionOptions);
  }
  for (const row of qos2Rows) byClient.get(asString(row['client_id']))?.inboundQos2.push(asNumber(row['packet_id']));
  for (const row of messageRows) {
    const session = byClient.get(asString(row['client_id']));
    if (session !== undefined) session.messages.push(decodeStoredMessage(row));
  }
  return [...byClient.values()];
}
