// SessionStore on one SQLite file per shard. A batch of ops is one write transaction of prepared
// statements (group commit: the shard collects ops and applies them together), and batches are
// queued so only one transaction is open on the connection at a time. Queued and inflight
// messages live in a fan-out log (see fanout-index.ts). Durability trade-off of
// synchronous=NORMAL vs FULL: see sqlite-db.ts.
import type { AppMessage, ProtocolVersion, SubscriptionOptions, WillMessage } from '../protocol/message.js';
import { StorageError } from './errors.js';
import { defineOwn } from './own-record.js';
import { SqliteDb, type WriteUnit, type Migrations, type SqliteOptions, type SqliteStatement, type SqlRow, type SqlValue } from './sqlite-db.js';
import { FanoutIndex, type FanoutChanges, type LiveCopy } from './fanout-index.js';
import { asNumber, asString, decodeMessage, encodeMessage, messageColumns, nullMessage } from './sqlite-message-codec.js';
import { MultiRowInsert } from './sqlite-multi-row.js';
import { SqliteStore } from './sqlite-store.js';
import type { BeforeOpHook } from './store-hooks.js';
import type { SessionMeta, SessionStore, StoredSession, StoreOp } from './types.js';

export interface SqliteSessionStoreOptions extends SqliteOptions {
  /** Test-only fault injection, see store-hooks.ts. */
  beforeOp?: BeforeOpHook;
}

const WILL = 'will_';
const MSG = 'msg_';

/** The queued-message tables of schema version 2, and the triggers that free unused bodies. */
const BODIES_V2 = `
   CREATE TABLE bodies (
     id INTEGER PRIMARY KEY,
     refs INTEGER NOT NULL,
     ${messageColumns('').join(', ')}
   );
   CREATE TABLE messages_v2 (
     client_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('queued', 'inflight', 'released')),
     packet_id INTEGER CHECK (packet_id IS NULL OR packet_id BETWEEN 1 AND 65535),
     qos INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
     retain INTEGER NOT NULL,
     subscription_ids TEXT NOT NULL,
     body_id INTEGER NOT NULL,
     PRIMARY KEY (client_id, seq)
   ) WITHOUT ROWID;
   INSERT INTO bodies (id, refs, ${messageColumns('').join(', ')})
     SELECT rowid, 1, ${messageColumns(MSG).join(', ')} FROM messages;
   INSERT INTO messages_v2 (client_id, seq, state, packet_id, qos, retain, subscription_ids, body_id)
     SELECT client_id, seq, state, packet_id, qos, retain, subscription_ids, rowid FROM messages;
   DROP TABLE messages;
   ALTER TABLE messages_v2 RENAME TO messages;
   CREATE TRIGGER messages_release_body_on_delete AFTER DELETE ON messages BEGIN
     UPDATE bodies SET refs = refs - 1 WHERE id = OLD.body_id;
     DELETE FROM bodies WHERE id = OLD.body_id AND refs <= 0;
   END;
   CREATE TRIGGER messages_release_body_on_replace AFTER UPDATE OF body_id ON messages BEGIN
     UPDATE bodies SET refs = refs - 1 WHERE id = OLD.body_id;
     DELETE FROM bodies WHERE id = OLD.body_id AND refs <= 0;
   END;`;

/** Schema version 3: the fan-out log replaces the per-copy message rows and their bodies. */
const FANOUT_V3 = `
   CREATE TABLE fanout (
     id INTEGER PRIMARY KEY,
     ${messageColumns('').join(', ')},
     recipients TEXT NOT NULL
   );
   CREATE TABLE fanout_dead (
     id INTEGER PRIMARY KEY,
     dead TEXT NOT NULL
   );
   CREATE TABLE copy_state (
     client_id TEXT PRIMARY KEY,
     runs TEXT NOT NULL
   ) WITHOUT ROWID;
   INSERT INTO fanout (id, ${messageColumns('').join(', ')}, recipients)
     SELECT b.id, ${messageColumns('').map((c) => `b.${c}`).join(', ')}, g.recipients FROM bodies b JOIN (
       SELECT body_id, json_group_array(json_array(client_id, seq, qos, retain, json(subscription_ids), state, packet_id)) AS recipients
       FROM messages GROUP BY body_id
     ) g ON g.body_id = b.id;
   DROP TRIGGER messages_release_body_on_delete;
   DROP TRIGGER messages_release_body_on_replace;
   DROP TABLE messages;
   DROP TABLE bodies;`;

/**
 * Schema version 4 changes no table: a log row's `recipients` may now be the shared form (one
 * copy's fields and a list of client ids, see fanout-index.ts), which a build that knows version
 * 3 only would misread, so such a build must refuse the file.
 */
const SHARED_RECIPIENTS_V4 = '-- version 4: no table changes';

/** Schema version 5: the user a session belongs to (NULL: anonymous, and every older session). */
const SESSION_OWNER_V5 = 'ALTER TABLE sessions ADD COLUMN username TEXT;';

/**
 * Schema history; append, never edit: a file records how many of these it has run.
 *  1: sessions, subscriptions, messages (each row with its own copy of the message), qos2.
 *  2: message bodies in their own table, shared by the rows of all sessions one publish reached
 *     (existing rows get one body each).
 *  3: the fan-out log: one row per message per batch listing its recipients, dead lists of
 *     finished copies, the state of copies sent since (existing rows: one log row per body).
 *  4: log rows may list their recipients in the shared form (no table changes).
 *  5: sessions.username, the user a session belongs to (--session-owner-check).
 */
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
  BODIES_V2,
  FANOUT_V3,
  SHARED_RECIPIENTS_V4,
  SESSION_OWNER_V5,
];

/** The schema version this build writes; a file with a higher one is refused. */
export const SESSION_SCHEMA_VERSION = MIGRATIONS.length;

/** The SQL of each schema version, for tests that build a file of an older one. */
export const SESSION_MIGRATIONS: Migrations = MIGRATIONS;

const FANOUT_COLUMNS = ['id', ...messageColumns(''), 'recipients'];
/** 64 rows x 10 columns stays far below SQLite's limit of 32766 bound parameters. */
const MAX_FANOUT_PER_INSERT = 64;

const SQL = {
  putMeta: `INSERT OR REPLACE INTO sessions (client_id, protocol_version, expiry_interval_sec, disconnected_at, will_delay_sec, ${messageColumns(WILL).join(', ')}, username)
            VALUES (${placeholders(6 + messageColumns(WILL).length)})`,
  deleteSession: 'DELETE FROM sessions WHERE client_id = ?',
  deleteSessionSubscriptions: 'DELETE FROM subscriptions WHERE client_id = ?',
  deleteSessionQos2: 'DELETE FROM qos2 WHERE client_id = ?',
  putSubscription: 'INSERT OR REPLACE INTO subscriptions (client_id, filter, options) VALUES (?, ?, ?)',
  deleteSubscription: 'DELETE FROM subscriptions WHERE client_id = ? AND filter = ?',
  // Each takes one JSON array of rows, unpacked by json_each on SQLite's side: one bound value
  // and one hop to the thread pool however many rows. 'WHERE true' resolves the parser ambiguity
  // of INSERT ... SELECT ... ON CONFLICT.
  putDead: `INSERT INTO fanout_dead (id, dead) SELECT value->>0, value->>1 FROM json_each(?) WHERE true
            ON CONFLICT (id) DO UPDATE SET dead = excluded.dead`,
  deleteFanout: 'DELETE FROM fanout WHERE id IN (SELECT value FROM json_each(?))',
  deleteDead: 'DELETE FROM fanout_dead WHERE id IN (SELECT value FROM json_each(?))',
  putStates: `INSERT INTO copy_state (client_id, runs) SELECT value->>0, value->>1 FROM json_each(?) WHERE true
              ON CONFLICT (client_id) DO UPDATE SET runs = excluded.runs`,
  deleteStates: 'DELETE FROM copy_state WHERE client_id IN (SELECT value FROM json_each(?))',
  putQos2: 'INSERT OR IGNORE INTO qos2 (client_id, packet_id) VALUES (?, ?)',
  deleteQos2: 'DELETE FROM qos2 WHERE client_id = ? AND packet_id = ?',
} as const;

type Statements = Record<keyof typeof SQL, SqliteStatement>;

export class SqliteSessionStore extends SqliteStore implements SessionStore {
  /**
   * Where each live copy sits in the fan-out log. Built from the file on first use, and dropped
   * when a batch fails, so the next task rebuilds it from what was committed. Only the queued
   * tasks touch it, one at a time.
   */
  private index: FanoutIndex | null = null;

  private constructor(
    file: string,
    db: SqliteDb,
    private readonly stmts: Statements,
    private readonly putFanout: MultiRowInsert,
    private readonly beforeOp: BeforeOpHook | undefined,
  ) {
    super(file, db);
  }

  protected statements(): { finalize(): Promise<void> }[] {
    return [...Object.values(this.stmts), this.putFanout];
  }

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
      const putFanout = new MultiRowInsert(db, `INSERT INTO fanout (${FANOUT_COLUMNS.join(', ')})`, FANOUT_COLUMNS.length, MAX_FANOUT_PER_INSERT);
      return new SqliteSessionStore(file, db, stmts, putFanout, options.beforeOp);
    } catch (err) {
      await Promise.all(prepared.map((s) => s.finalize()));
      await db.close().catch(() => undefined);
      if (err instanceof StorageError) throw err;
      throw new StorageError('cannot prepare statements', { file, operation: 'open', cause: err });
    }
  }

  loadAll(): Promise<StoredSession[]> {
    return this.enqueue('loadAll', async () => {
      // One read transaction, so the queries see the same snapshot.
      await this.db.run('BEGIN');
      try {
        const sessionRows = await this.db.all('SELECT * FROM sessions');
        const subscriptionRows = await this.db.all('SELECT client_id, filter, options FROM subscriptions');
        const qos2Rows = await this.db.all('SELECT client_id, packet_id FROM qos2 ORDER BY client_id, packet_id');
        const fanoutRows = await this.db.all(`SELECT f.id, f.recipients, d.dead, ${messageColumns('').map((c) => `f.${c} AS ${MSG}${c}`).join(', ')}
                                              FROM fanout f LEFT JOIN fanout_dead d ON d.id = f.id`);
        const stateRows = await this.db.all('SELECT client_id, runs FROM copy_state');
        await this.db.run('COMMIT');
        const { index, live } = FanoutIndex.load(fanoutRows.map(logRow), stateRows.map(statesRow));
        // The tasks queued after this one plan against the same snapshot.
        this.index ??= index;
        const messages = new Map<number, AppMessage>();
        for (const row of fanoutRows) messages.set(asNumber(row['id']), decodeMessage(row, MSG));
        return assemble(sessionRows, subscriptionRows, qos2Rows, live, messages);
      } catch (err) {
        await this.db.run('ROLLBACK').catch(() => undefined);
        throw new StorageError('cannot load sessions', { file: this.file, operation: 'loadAll', cause: err });
      }
    });
  }

  apply(ops: readonly StoreOp[]): Promise<void> {
    // Planned when the batch's turn comes (the index must reflect every batch before it), so the
    // caller must not change the op objects before the returned promise settles; the shard hands
    // over fresh objects and never touches them again.
    const batch = [...ops];
    return this.enqueue('apply', async () => {
      const index = this.index ?? (this.index = await this.loadIndex());
      try {
        await this.writeNow(this.plan(batch, index), batch, (op) => op.op, this.beforeOp);
      } catch (err) {
        // The index already reflects the batch that did not happen: rebuild it from the file.
        this.index = null;
        if (err instanceof StorageError) throw err;
        throw new StorageError('invalid op', { file: this.file, operation: 'apply', cause: err });
      }
    });
  }

  /** The fan-out log's index, read from the file (without the messages themselves). */
  private async loadIndex(): Promise<FanoutIndex> {
    try {
      await this.db.run('BEGIN');
      const rows = await this.db.all('SELECT f.id, f.recipients, d.dead FROM fanout f LEFT JOIN fanout_dead d ON d.id = f.id');
      const states = await this.db.all('SELECT client_id, runs FROM copy_state');
      await this.db.run('COMMIT');
      return FanoutIndex.load(rows.map(logRow), states.map(statesRow)).index;
    } catch (err) {
      await this.db.run('ROLLBACK').catch(() => undefined);
      throw new StorageError('cannot read the fan-out log', { file: this.file, operation: 'apply', cause: err });
    }
  }

  /**
   * Each statement run costs a hop to libuv's thread pool and each bound value a conversion on
   * this thread, so the batch's message ops (putMessage, putShared, updateMessage, deleteMessage, and the
   * messages of deleteSession) are folded into the fan-out log's index as they come, and written
   * at the end: one multi-row INSERT per 64 new log rows, then at most five statements that each
   * take one JSON array (deleted rows, their dead lists, dead lists to upsert, override lists to
   * delete and to upsert). The other ops
   * keep their order; they touch other tables, so the log's writes need not interleave with them.
   * Runs of message ops still form units of their own, so a failure is named after its op.
   */
  private plan(ops: readonly StoreOp[], index: FanoutIndex): WriteUnit[] {
    const batch = index.batch();
    const units: WriteUnit[] = [];
    // The unit of the current run of message ops (they add no statements of their own).
    let run: WriteUnit | null = null;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      try {
        switch (op.op) {
          case 'putMessage':
            batch.put(op.clientId, op.message);
            break;
          case 'putShared':
            batch.putShared(op.clientIds, op.message);
            break;
          case 'updateMessage':
            batch.update(op.clientId, op.seq, op.state, op.packetId);
            break;
          case 'deleteMessage':
            batch.remove(op.clientId, op.seq);
            break;
          case 'deleteSession':
            batch.removeClient(op.clientId);
            run = null;
            units.push({ first: i, count: 1, steps: this.planOne(op).map(([stmt, params]) => runOf(stmt, params)) });
            continue;
          default:
            run = null;
            units.push({ first: i, count: 1, steps: this.planOne(op).map(([stmt, params]) => runOf(stmt, params)) });
            continue;
        }
      } catch (err) {
        throw new StorageError('invalid op', { file: this.file, operation: op.op, cause: err });
      }
      if (run === null) units.push((run = { first: i, count: 0, steps: [] }));
      run.count++;
    }
    const log = this.logSteps(batch.finishBatch());
    if (log.length > 0) units.push({ first: ops.length, count: 0, steps: log, label: 'write fan-out log' });
    return units;
  }

  private logSteps(c: FanoutChanges): WriteUnit['steps'] {
    const steps: WriteUnit['steps'] = [];
    const rows: SqlValue[][] = c.inserts.map((r) => [r.id, ...encodeMessage(r.message), r.recipients]);
    for (const chunk of this.putFanout.chunk(rows)) steps.push(() => this.putFanout.run(chunk.rows, chunk.params));
    if (c.deletedRows.length > 0) {
      const ids = JSON.stringify(c.deletedRows);
      steps.push(runOf(this.stmts.deleteFanout, [ids]), runOf(this.stmts.deleteDead, [ids]));
    }
    if (c.deadLists.length > 0) steps.push(runOf(this.stmts.putDead, [JSON.stringify(c.deadLists)]));
    if (c.clearedStates.length > 0) steps.push(runOf(this.stmts.deleteStates, [JSON.stringify(c.clearedStates)]));
    if (c.states.length > 0) steps.push(runOf(this.stmts.putStates, [JSON.stringify(c.states)]));
    return steps;
  }

  /** The statements of one op that is not a message op. */
  private planOne(op: StoreOp): [SqliteStatement, SqlValue[]][] {
    const s = this.stmts;
    switch (op.op) {
      case 'putMeta':
        return [[s.putMeta, encodeMeta(op.meta)]];
      case 'deleteSession':
        return [
          [s.deleteSession, [op.clientId]],
          [s.deleteSessionSubscriptions, [op.clientId]],
          [s.deleteSessionQos2, [op.clientId]],
        ];
      case 'putSubscription':
        return [[s.putSubscription, [op.clientId, op.filter, JSON.stringify(op.options)]]];
      case 'deleteSubscription':
        return [[s.deleteSubscription, [op.clientId, op.filter]]];
      case 'putQos2':
        return [[s.putQos2, [op.clientId, op.packetId]]];
      case 'deleteQos2':
        return [[s.deleteQos2, [op.clientId, op.packetId]]];
      case 'putMessage':
      case 'putShared':
      case 'updateMessage':
      case 'deleteMessage':
        throw new TypeError(`${op.op} is planned as a run`);
      default: {
        const never: never = op;
        throw new TypeError(`unknown store op ${JSON.stringify(never)}`);
      }
    }
  }
}

function runOf(stmt: SqliteStatement, params: SqlValue[]): () => Promise<void> {
  return () => stmt.run(params);
}

function placeholders(n: number): string {
  return new Array<string>(n).fill('?').join(', ');
}

function encodeMeta(meta: SessionMeta): SqlValue[] {
  const will = meta.will === null ? [null, ...nullMessage()] : [meta.will.delaySec, ...encodeMessage(meta.will.message)];
  return [meta.clientId, meta.protocolVersion, meta.expiryIntervalSec, meta.disconnectedAt, ...will, meta.username];
}

function decodeMeta(row: SqlRow): SessionMeta {
  const protocolVersion = asNumber(row['protocol_version']) as ProtocolVersion;
  const disconnectedAt = row['disconnected_at'];
  const willDelay = row['will_delay_sec'];
  const username = row['username'];
  const will: WillMessage | null = typeof willDelay === 'number' ? { message: decodeMessage(row, WILL), delaySec: willDelay } : null;
  return {
    clientId: asString(row['client_id']),
    username: typeof username === 'string' ? username : null,
    protocolVersion,
    expiryIntervalSec: asNumber(row['expiry_interval_sec']),
    disconnectedAt: typeof disconnectedAt === 'number' ? disconnectedAt : null,
    will,
  };
}

function logRow(row: SqlRow): { id: number; recipients: string; dead: string | null } {
  const dead = row['dead'];
  return { id: asNumber(row['id']), recipients: asString(row['recipients']), dead: typeof dead === 'string' ? dead : null };
}

function statesRow(row: SqlRow): { clientId: string; runs: string } {
  return { clientId: asString(row['client_id']), runs: asString(row['runs']) };
}

/**
 * Groups the rows per client; rows of a client without a sessions row are not a session (yet).
 * The copies of one log row share its decoded message, as the copies of one publish do in a shard.
 */
function assemble(sessionRows: SqlRow[], subscriptionRows: SqlRow[], qos2Rows: SqlRow[], live: LiveCopy[], messages: Map<number, AppMessage>): StoredSession[] {
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
  for (const { rowId, recipient } of live) {
    const [clientId, seq, qos, retain, subscriptionIds, state, packetId] = recipient;
    const session = byClient.get(clientId);
    if (session !== undefined) session.messages.push({ seq, state, packetId, qos, retain: retain === 1, subscriptionIds: [...subscriptionIds], message: messages.get(rowId)! });
  }
  for (const session of byClient.values()) session.messages.sort((a, b) => a.seq - b.seq);
  return [...byClient.values()];
}
