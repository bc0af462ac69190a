// SessionStore kept in process memory: the reference implementation of the contract (tests, and
// nodes run without persistence). Everything is deep-copied on the way in and out, so callers
// can neither change stored data by mutating what they passed nor by mutating what they got.
import type { SubscriptionOptions } from '../protocol/message.js';
import { StorageError } from './errors.js';
import { defineOwn } from './own-record.js';
import type { BeforeOpHook } from './store-hooks.js';
import type { SessionMeta, SessionStore, StoredMessage, StoredSession, StoreOp } from './types.js';

export interface MemorySessionStoreOptions {
  beforeOp?: BeforeOpHook;
}

/** One client's rows. Values are never mutated once stored (updates replace them), so a batch
 * can work on shallow copies of the maps and swap them in at commit. */
interface ClientRows {
  meta: SessionMeta | null;
  subscriptions: Map<string, SubscriptionOptions>;
  qos2: Set<number>;
  messages: Map<number, StoredMessage>;
}

export class MemorySessionStore implements SessionStore {
  private readonly clients = new Map<string, ClientRows>();
  private closed = false;
  private readonly beforeOp: BeforeOpHook | undefined;

  constructor(options: MemorySessionStoreOptions = {}) {
    this.beforeOp = options.beforeOp;
  }

  async loadAll(): Promise<StoredSession[]> {
    this.assertOpen('loadAll');
    const sessions: StoredSession[] = [];
    for (const rows of this.clients.values()) {
      // Rows of a client without meta are kept (a later putMeta reveals them) but are not a
      // session yet; the SQLite store behaves the same.
      if (rows.meta === null) continue;
      const subscriptions: Record<string, SubscriptionOptions> = {};
      for (const [filter, options] of rows.subscriptions) defineOwn(subscriptions, filter, structuredClone(options));
      sessions.push({
        meta: structuredClone(rows.meta),
        subscriptions,
        inboundQos2: [...rows.qos2].sort((a, b) => a - b),
        messages: [...rows.messages.values()].sort((a, b) => a.seq - b.seq).map((m) => structuredClone(m)),
      });
    }
    return sessions;
  }

  async apply(ops: readonly StoreOp[]): Promise<void> {
    this.assertOpen('apply');
    const working = new Map<string, ClientRows>();
    const rowsOf = (clientId: string): ClientRows => {
      let rows = working.get(clientId);
      if (rows === undefined) {
        const stored = this.clients.get(clientId);
        rows = {
          meta: stored?.meta ?? null,
          subscriptions: new Map(stored?.subscriptions),
          qos2: new Set(stored?.qos2),
          messages: new Map(stored?.messages),
        };
        working.set(clientId, rows);
      }
      return rows;
    };
    let index = 0;
    for (const op of ops) {
      try {
        this.beforeOp?.(op, index++);
        if (op.op === 'putShared') for (const clientId of op.clientIds) applyOp(rowsOf(clientId), { op: 'putMessage', clientId, message: op.message });
        else applyOp(rowsOf(op.op === 'putMeta' ? op.meta.clientId : op.clientId), op);
      } catch (cause) {
        // Nothing in `working` has been published: the batch leaves no trace.
        throw new StorageError('batch rolled back', { file: null, operation: op.op, cause });
      }
    }
    for (const [clientId, rows] of working) {
      const empty = rows.meta === null && rows.subscriptions.size === 0 && rows.qos2.size === 0 && rows.messages.size === 0;
      if (empty) this.clients.delete(clientId);
      else this.clients.set(clientId, rows);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new StorageError('store is closed', { file: null, operation });
  }
}

/** One op of one client (putShared is applied as a putMessage per client). */
function applyOp(rows: ClientRows, op: Exclude<StoreOp, { op: 'putShared' }>): void {
  switch (op.op) {
    case 'putMeta':
      rows.meta = structuredClone(op.meta);
      return;
    case 'deleteSession':
      rows.meta = null;
      rows.subscriptions.clear();
      rows.qos2.clear();
      rows.messages.clear();
      return;
    case 'putSubscription':
      rows.subscriptions.set(op.filter, structuredClone(op.options));
      return;
    case 'deleteSubscription':
      rows.subscriptions.delete(op.filter);
      return;
    case 'putMessage':
      rows.messages.set(op.message.seq, structuredClone(op.message));
      return;
    case 'updateMessage': {
      // Updating a message that is gone (acked, or its session deleted) is a no-op, as in SQL.
      const current = rows.messages.get(op.seq);
      if (current !== undefined) rows.messages.set(op.seq, { ...current, state: op.state, packetId: op.packetId });
      return;
    }
    case 'deleteMessage':
      rows.messages.delete(op.seq);
      return;
    case 'putQos2':
      rows.qos2.add(op.packetId);
      return;
    case 'deleteQos2':
      rows.qos2.delete(op.packetId);
      return;
    default: {
      const never: never = op;
      throw new TypeError(`unknown store op ${JSON.stringify(never)}`);
    }
  }
}
