// Which connections the QoS 0 fast path may write to directly. A session says, with a 'flow'
// effect, when it has no QoS 0 message waiting in its queue; the switch to direct writes then
// waits for a ticket round trip to the session's shard issued after the last delivery sent to the
// actor, so no message still on its way back through the actor can be overtaken [MQTT-4.6.0-6].
// Every client of a shard whose switch is pending shares one ticket per turn: a ticket answers
// for everything sent to its shard before it, so one per shard confirms them all (and a burst of
// connects does not cost a promise, a closure and a shard message per client).
// A new connection usually needs no ticket at all: when nothing was sent to the actor for its
// client after its CONNECT, nothing can be in flight behind the 'flow' that CONNECT produced
// (what was sent before the CONNECT was handled before it, and its effects came first).
import type { Connection } from '../transport/connection.js';
import type { TicketBook } from './tickets.js';

/**
 * A connection that carries its own fast-path switch. On the connection rather than in a Map of
 * client id → connection: at 10k idle clients a Map entry costs ~46 bytes of heap, a field 8.
 */
export interface FastPathConnection extends Connection {
  /** Its client's QoS 0 messages may be written to it directly, while it is the online one. */
  direct: boolean;
}

interface Pending {
  clientId: string;
  conn: FastPathConnection;
  /** Bumped by every actor-path delivery: only a ticket issued after the last one confirms. */
  epoch: number;
  dirty: boolean;
}

export class FastPath {
  private readonly pending = new Map<string, Pending>();
  /** Connections whose CONNECT went to the actor, while no delivery for the client followed it. */
  private readonly fresh = new Map<string, Connection>();

  constructor(
    /** The node's connections that got CONNACK, by client id. */
    private readonly online: ReadonlyMap<string, FastPathConnection>,
    private readonly tickets: TicketBook,
    private readonly shardFor: (clientId: string) => number,
    private readonly sendTicket: (shard: number, id: number) => void,
    /** The ticket is added in the supervisor's next flush, which this makes sure happens. */
    private readonly requestFlush: () => void,
  ) {}

  /** The connection to write `clientId`'s QoS 0 messages to directly, if allowed now. */
  connection(clientId: string): Connection | undefined {
    const conn = this.online.get(clientId);
    return conn !== undefined && conn.direct ? conn : undefined;
  }

  /** The CONNECT of `conn` is being sent to the actor of `clientId`. */
  connecting(conn: FastPathConnection, clientId: string): void {
    this.fresh.set(clientId, conn);
  }

  /** A 'flow' effect from the session of `conn`. */
  flow(conn: FastPathConnection, clientId: string, direct: boolean): void {
    const fresh = this.fresh.get(clientId) === conn;
    if (fresh) this.fresh.delete(clientId);
    if (!direct) {
      this.pending.delete(clientId);
      conn.direct = false;
      return;
    }
    if (conn.direct) return;
    if (fresh && conn.state === 'open') {
      // The 'flow' of its CONNECT, with no delivery sent to the actor since: nothing to wait for.
      this.pending.delete(clientId);
      conn.direct = true;
      return;
    }
    const p = this.pending.get(clientId);
    if (p !== undefined && p.conn === conn) {
      p.epoch++;
      p.dirty = true;
    } else {
      this.pending.set(clientId, { clientId, conn, epoch: 0, dirty: true });
    }
    this.requestFlush();
  }

  /** A delivery for `clientId` went through its actor: a pending switch must wait for it. */
  sentToActor(clientId: string): void {
    if (this.fresh.size > 0) this.fresh.delete(clientId);
    if (this.pending.size === 0) return; // the usual case, and this runs once per routed copy
    const p = this.pending.get(clientId);
    if (p === undefined) return;
    p.epoch++;
    p.dirty = true;
  }

  /**
   * Copies for `clientId` were sent through its actor although `conn` takes direct writes now
   * (retained messages on subscribe): later direct writes wait, as after a 'flow', for a ticket
   * issued behind them.
   */
  behindActor(conn: FastPathConnection, clientId: string): void {
    if (conn.direct) {
      conn.direct = false;
      this.pending.set(clientId, { clientId, conn, epoch: 0, dirty: true });
      this.requestFlush();
    }
    this.sentToActor(clientId);
  }

  /**
   * Right before the supervisor flushes a turn: one ticket per shard that has a client whose
   * switch became pending (or was delayed) since the last flush.
   */
  flush(): void {
    if (this.pending.size === 0) return; // every turn flushes: no iterator when there is nothing
    let byShard: Map<number, { waiting: Pending[]; epochs: number[] }> | null = null;
    for (const p of this.pending.values()) {
      if (!p.dirty) continue;
      p.dirty = false;
      const shard = this.shardFor(p.clientId);
      byShard ??= new Map();
      let group = byShard.get(shard);
      if (group === undefined) byShard.set(shard, (group = { waiting: [], epochs: [] }));
      group.waiting.push(p);
      // The epoch this ticket vouches for: a later actor-path delivery makes it stale.
      group.epochs.push(p.epoch);
    }
    if (byShard === null) return;
    for (const [shard, { waiting, epochs }] of byShard) {
      void this.tickets.ticket((id) => this.sendTicket(shard, id)).then(() => {
        for (let i = 0; i < waiting.length; i++) this.confirm(waiting[i]!, epochs[i]!);
      });
    }
  }

  /** A ticket issued at `epoch` came back: `p` goes direct unless it changed since. */
  private confirm(p: Pending, epoch: number): void {
    if (this.pending.get(p.clientId) !== p || p.epoch !== epoch) return;
    this.pending.delete(p.clientId);
    if (p.conn.state === 'open') p.conn.direct = true;
  }

  /** The connection closed. */
  remove(conn: FastPathConnection): void {
    conn.direct = false;
    const clientId = conn.clientId;
    if (clientId === null) return;
    if (this.pending.get(clientId)?.conn === conn) this.pending.delete(clientId);
    if (this.fresh.get(clientId) === conn) this.fresh.delete(clientId);
  }
}
