// Which connections the QoS 0 fast path may write to directly. A session says, with a 'flow'
// effect, when it has no QoS 0 message waiting in its queue; the switch to direct writes then
// waits for a ticket round trip to the session's shard issued after the last delivery sent to the
// actor, so no message still on its way back through the actor can be overtaken [MQTT-4.6.0-6].
import type { Connection } from '../transport/connection.js';
import type { TicketBook } from './tickets.js';

interface Pending {
  conn: Connection;
  /** Bumped by every actor-path delivery: only a ticket issued after the last one confirms. */
  epoch: number;
  dirty: boolean;
}

export class FastPath {
  private readonly direct = new Map<string, Connection>();
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly tickets: TicketBook,
    private readonly sendTicket: (clientId: string, id: number) => void,
    /** The ticket is added in the supervisor's next flush, which this makes sure happens. */
    private readonly requestFlush: () => void,
  ) {}

  /** The connection to write `clientId`'s QoS 0 messages to directly, if allowed now. */
  connection(clientId: string): Connection | undefined {
    return this.direct.get(clientId);
  }

  /** A 'flow' effect from the session of `conn`. */
  flow(conn: Connection, clientId: string, direct: boolean): void {
    if (!direct) {
      this.pending.delete(clientId);
      if (this.direct.get(clientId) === conn) this.direct.delete(clientId);
      return;
    }
    if (this.direct.get(clientId) === conn) return;
    const p = this.pending.get(clientId);
    if (p !== undefined && p.conn === conn) {
      p.epoch++;
      p.dirty = true;
    } else {
      this.pending.set(clientId, { conn, epoch: 0, dirty: true });
    }
    this.requestFlush();
  }

  /** A delivery for `clientId` went through its actor: a pending switch must wait for it. */
  sentToActor(clientId: string): void {
    const p = this.pending.get(clientId);
    if (p === undefined) return;
    p.epoch++;
    p.dirty = true;
  }

  /** Right before the supervisor flushes a turn: one ticket per client whose switch is pending. */
  flush(): void {
    for (const [clientId, p] of this.pending) {
      if (!p.dirty) continue;
      p.dirty = false;
      const epoch = p.epoch;
      void this.tickets.ticket((id) => this.sendTicket(clientId, id)).then(() => {
        if (this.pending.get(clientId) !== p || p.epoch !== epoch) return;
        this.pending.delete(clientId);
        if (p.conn.state === 'open') this.direct.set(clientId, p.conn);
      });
    }
  }

  /** The connection closed. */
  remove(conn: Connection): void {
    const clientId = conn.clientId;
    if (clientId === null) return;
    if (this.direct.get(clientId) === conn) this.direct.delete(clientId);
    if (this.pending.get(clientId)?.conn === conn) this.pending.delete(clientId);
  }
}
