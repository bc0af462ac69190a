// SessionStore on one SQLite file per shard. A batch of ops is one write transaction of prepared
// statements (group commit: the shard collects ops and applies them together), and batches are
// queued so only one transaction is open on the connection at a time. Durability trade-off of
// synchronous=NORMAL vs FULL: see sqlite-db.ts.
import type { AppMessage, ProtocolVersion, SubscriptionOptions, WillMessage } from '../protocol/message.js';
import { StorageError } from './errors.js';
import { defineOwn } from './own-record.js';
import { SqliteDb, type WriteUnit, type Migrations, type SqliteOptions, type SqliteStatement, type SqlRow, type SqlValue } from './sqlite-db.js';
import { asNumber, asString, decodeMessage, encodeMessage, messageColumns, nullMessage } from './sqlite-message-codec.js';
import { MultiRowInsert } from './sqlite-multi-row.js';
import { SqliteStore } from './sqlite-store.js';
import type { BeforeOpHook } from './store-hooks.js';
import type { SessionMeta, SessionStore, StoredMessage, StoredMessageState, StoredSession, StoreOp } from './types.js';

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

/**
 * Schema history; append, never edit: a file records how many of these it has run.
 *  1: sessions, subscriptions, messages (each row with its own copy of the message), qos2.
 *  2: message bodies in their own table, shared by the rows of all sessions one publish reached
 *     (existing rows get one body each).
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
];

/** The schema version this build writes; a file with a higher one is refused. */
export const SESSION_SCHEMA_VERSION = MIGRATIONS.length;

const BODY_COLUMNS = ['id', 'refs', ...messageColumns('')];
/** 64 rows x 10 columns stays far below SQLite's limit of 32766 bound parameters. */
const MAX_BODIES_PER_INSERT = 64;

/** A run of message rows is one statement with one bound JSON array of rows, see plan(). */
const json = (n: number): string => Array.from({ length: n }, (_, i) => `value->>${i}`).join(', ');

const SQL = {
  putMeta: `INSERT OR REPLACE INTO sessions (client_id, protocol_version, expiry_interval_sec, disconnected_at, will_delay_sec, ${messageColumns(WILL).join(', ')})
            VALUES (${placeholders(5 + messageColumns(WILL).length)})`,
  deleteSession: 'DELETE FROM sessions WHERE client_id = ?',
  deleteSessionSubscriptions: 'DELETE FROM subscriptions WHERE client_id = ?',
  deleteSessionMessages: 'DELETE FROM messages WHERE client_id = ?',
  deleteSessionQos2: 'DELETE FROM qos2 WHERE client_id = ?',
  putSubscription: 'INSERT OR REPLACE INTO subscriptions (client_id, filter, options) VALUES (?, ?, ?)',
  deleteSubscription: 'DELETE FROM subscriptions WHERE client_id = ? AND filter = ?',
  // An upsert rather than OR REPLACE: REPLACE's implicit delete fires the body-releasing trigger
  // only with recursive_triggers on; the UPDATE OF body_id trigger fires without any pragma.
  // 'WHERE true' resolves the parser ambiguity of INSERT ... SELECT ... ON CONFLICT.
  putMessages: `INSERT INTO messages (client_id, seq, state, packet_id, qos, retain, subscription_ids, body_id)
                SELECT ${json(8)} FROM json_each(?) WHERE true
                ON CONFLICT (client_id, seq) DO UPDATE SET state = excluded.state, packet_id = excluded.packet_id, qos = excluded.qos,
                  retain = excluded.retain, subscription_ids = excluded.subscription_ids, body_id = excluded.body_id`,
  updateMessages: `UPDATE messages SET state = u.value->>2, packet_id = u.value->>3 FROM json_each(?) AS u
                   WHERE messages.client_id = u.value->>0 AND messages.seq = u.value->>1`,
  deleteMessages: 'DELETE FROM messages WHERE (client_id, seq) IN (SELECT value->>0, value->>1 FROM json_each(?))',
  putQos2: 'INSERT OR IGNORE INTO qos2 (client_id, packet_id) VALUES (?, ?)',
  deleteQos2: 'DELETE FROM qos2 WHERE client_id = ? AND packet_id = ?',
} as const;

type Statements = Record<keyof typeof SQL, SqliteStatement>;

export class SqliteSessionStore extends SqliteStore implements SessionStore {
  private constructor(
    file: string,
    db: SqliteDb,
    private readonly stmts: Statements,
    private readonly putBodies: MultiRowInsert,
    /**
     * Body ids are assigned when a batch is planned, so its message rows can name them without a
     * read back. This connection is the file's only writer; ids of a rolled-back batch are just
     * skipped, and a collision would fail the INSERT rather than share a body by mistake.
     */
    private nextBodyId: number,
    private readonly beforeOp: BeforeOpHook | undefined,
  ) {
    super(file, db);
  }

  protected statements(): { finalize(): Promise<void> }[] {
    return [...Object.values(this.stmts), this.putBodies];
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
      const maxId = await db.get('SELECT coalesce(max(id), 0) AS id FROM bodies');
      const putBodies = new MultiRowInsert(db, `INSERT INTO bodies (${BODY_COLUMNS.join(', ')})`, BODY_COLUMNS.length, MAX_BODIES_PER_INSERT);
      return new SqliteSessionStore(file, db, stmts, putBodies, asNumber(maxId?.['id']) + 1, options.beforeOp);
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
        const messageRows = await this.db.all(
          `SELECT m.client_id, m.seq, m.state, m.packet_id, m.qos, m.retain, m.subscription_ids, ${messageColumns('').map((c) => `b.${c} AS ${MSG}${c}`).join(', ')}
           FROM messages m JOIN bodies b ON b.id = m.body_id ORDER BY m.client_id, m.seq`,
        );
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
    const batch = [...ops];
    let units: WriteUnit[];
    try {
      units = this.plan(batch);
    } catch (err) {
      return Promise.reject(new StorageError('invalid op', { file: this.file, operation: 'apply', cause: err }));
    }
    return this.write(units, batch, (op) => op.op, this.beforeOp);
  }

  /**
   * Each statement run costs a hop to libuv's thread pool and each bound value a conversion on
   * this thread, so:
   *  - a run of consecutive message ops (putMessage, updateMessage, deleteMessage: fan-out to
   *    offline sessions, sends and acks on drain) is reduced to its net effect per (client, seq)
   *    (nothing inside the run reads the rows, and different keys do not interact), then written
   *    as at most three statements (delete, upsert, update) whose only parameter is a JSON array
   *    of the rows, unpacked by SQLite's json_each on the pool thread;
   *  - a message body (topic, payload, properties) is written once per batch for all putMessage
   *    ops that carry the same AppMessage object (the shard hands one object to every session a
   *    publish reached), with a reference count; triggers on messages decrement it and delete the
   *    body at zero. Counting keeps the write path free of scans and of an index on body_id: the
   *    cost is one primary-key update of bodies per deleted or replaced message row, inside the
   *    same statement.
   */
  private plan(ops: readonly StoreOp[]): WriteUnit[] {
    const runs: { first: number; count: number; net: NetEffect[] | null }[] = [];
    for (let i = 0; i < ops.length; ) {
      let end = i;
      while (end < ops.length && isMessageOp(ops[end]!)) end++;
      if (end === i) runs.push({ first: i, count: 1, net: null });
      else runs.push({ first: i, count: end - i, net: netEffect(ops.slice(i, end) as MessageOp[]) });
      i = Math.max(end, i + 1);
    }
    // References per body over the whole batch: a body inserted with its final count cannot drop
    // to zero while a later run of the same batch still has rows to add.
    const refs = new Map<AppMessage, number>();
    for (const run of runs) {
      for (const e of run.net ?? []) if (e.kind === 'row') refs.set(e.put.message.message, (refs.get(e.put.message.message) ?? 0) + 1);
    }
    const bodyIds = new Map<AppMessage, number>();
    const units: WriteUnit[] = [];
    for (const run of runs) {
      const unit: WriteUnit = { first: run.first, count: run.count, steps: [] };
      units.push(unit);
      if (run.net === null) {
        unit.steps.push(...this.planOne(ops[run.first]!).map(([stmt, params]) => runOf(stmt, params)));
        continue;
      }
      const deletes: unknown[] = [];
      const updates: unknown[] = [];
      const rows: unknown[] = [];
      const newBodies: SqlValue[][] = [];
      for (const e of run.net) {
        if (e.kind === 'absent') deletes.push([e.clientId, e.seq]);
        // A missing row updates nothing: the message was acked or its session deleted meanwhile.
        else if (e.kind === 'update') updates.push([e.clientId, e.seq, e.state, e.packetId]);
        else {
          const m = e.put.message;
          let bodyId = bodyIds.get(m.message);
          if (bodyId === undefined) {
            bodyId = this.nextBodyId++;
            bodyIds.set(m.message, bodyId);
            newBodies.push([bodyId, refs.get(m.message)!, ...encodeMessage(m.message)]);
          }
          const ids = m.subscriptionIds.length === 0 ? '[]' : JSON.stringify(m.subscriptionIds);
          rows.push([e.clientId, m.seq, e.state, e.packetId, m.qos, m.retain ? 1 : 0, ids, bodyId]);
        }
      }
      if (deletes.length > 0) unit.steps.push(runOf(this.stmts.deleteMessages, [JSON.stringify(deletes)]));
      for (const c of this.putBodies.chunk(newBodies)) unit.steps.push(() => this.putBodies.run(c.rows, c.params));
      if (rows.length > 0) unit.steps.push(runOf(this.stmts.putMessages, [JSON.stringify(rows)]));
      if (updates.length > 0) unit.steps.push(runOf(this.stmts.updateMessages, [JSON.stringify(updates)]));
    }
    return units;
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
          [s.deleteSessionMessages, [op.clientId]],
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

type PutMessageOp = Extract<StoreOp, { op: 'putMessage' }>;
type MessageOp = Extract<StoreOp, { op: 'putMessage' | 'updateMessage' | 'deleteMessage' }>;

function isMessageOp(op: StoreOp): op is MessageOp {
  return op.op === 'putMessage' || op.op === 'updateMessage' || op.op === 'deleteMessage';
}

/** What a run of message ops leaves behind for one (client, seq). */
type NetEffect =
  | { kind: 'absent'; clientId: string; seq: number } // deleted (whether or not it existed)
  | { kind: 'row'; clientId: string; seq: number; put: PutMessageOp; state: StoredMessageState; packetId: number | null } // put, then maybe updated
  | { kind: 'update'; clientId: string; seq: number; state: StoredMessageState; packetId: number | null }; // updates of a row from before the run

function netEffect(ops: readonly MessageOp[]): NetEffect[] {
  // Hot on fan-out to offline sessions (one op per session per message): no spreads, and the
  // effect objects are this function's own, so a later update may change them in place.
  const byClient = new Map<string, Map<number, NetEffect>>();
  for (const op of ops) {
    const clientId = op.clientId;
    let bySeq = byClient.get(clientId);
    if (bySeq === undefined) byClient.set(clientId, (bySeq = new Map()));
    switch (op.op) {
      case 'putMessage': {
        const m = op.message;
        bySeq.set(m.seq, { kind: 'row', clientId, seq: m.seq, put: op, state: m.state, packetId: m.packetId });
        break;
      }
      case 'deleteMessage':
        bySeq.set(op.seq, { kind: 'absent', clientId, seq: op.seq });
        break;
      case 'updateMessage': {
        const prev = bySeq.get(op.seq);
        if (prev === undefined || prev.kind === 'update') bySeq.set(op.seq, { kind: 'update', clientId, seq: op.seq, state: op.state, packetId: op.packetId });
        else if (prev.kind === 'row') {
          prev.state = op.state;
          prev.packetId = op.packetId;
        }
        // After a delete the row is gone: the update changes nothing.
        break;
      }
    }
  }
  const out: NetEffect[] = [];
  for (const bySeq of byClient.values()) for (const e of bySeq.values()) out.push(e);
  return out;
}


function runOf(stmt: SqliteStatement, params: SqlValue[]): () => Promise<void> {
  return () => stmt.run(params);
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
