// Acknowledgements of inbound QoS 1/2 PUBLISH packets. Each waits for its parts (the shards that
// store a copy, the retained store) to be durable; per connection they go out in PUBLISH order
// [MQTT-4.6.0-2], however their parts complete.
import type { Connection } from '../transport/connection.js';
import { TurnTickets, type PendingAck, type TicketBook } from './tickets.js';

/** An inbound QoS 1 PUBLISH (PUBACK) or QoS 2 PUBLISH (PUBREC via its session) waiting to be acknowledged. */
export interface InboundAck extends PendingAck {
  kind: 'puback' | 'pubrec';
  conn: Connection;
  packetId: number;
  /** Deliveries the message matched (0: v5 reason code 0x10 No Matching Subscribers). */
  matched: number;
  done: boolean;
}

/**
 * One connection's acks in PUBLISH order, from `head` on. A moving head, not shift(): a 3.1.1
 * publisher has no Receive Maximum, so thousands may wait for one commit, and shift() copies an
 * array that large (../shared/STACK.md "V8 arrays").
 */
interface AckQueue {
  items: InboundAck[];
  head: number;
}

export class InboundAcks {
  private readonly queues = new Map<number, AckQueue>();
  private readonly turn: TurnTickets<InboundAck>;

  constructor(
    tickets: TicketBook,
    sendTicket: (shard: number, id: number) => void,
    /** Sends one acknowledgement whose turn has come. */
    private readonly send: (ack: InboundAck) => void,
    /** An ack that completed after its connection closed: never sent (the node drops what it kept for it). */
    private readonly dropped: (ack: InboundAck) => void = () => undefined,
  ) {
    this.turn = new TurnTickets<InboundAck>(tickets, sendTicket, (ack) => this.partDone(ack));
  }

  /** Registers the ack of an inbound PUBLISH, in arrival order on its connection. */
  open(conn: Connection, kind: InboundAck['kind'], packetId: number): InboundAck {
    const ack: InboundAck = { kind, conn, packetId, remaining: 0, matched: 0, done: false };
    const queue = this.queues.get(conn.id);
    if (queue === undefined) this.queues.set(conn.id, { items: [ack], head: 0 });
    else queue.items.push(ack);
    return ack;
  }

  /** The message was routed: wait for these shards (and `stored`, if any); done now if nothing. */
  track(ack: InboundAck, matched: number, shards: Iterable<number>, stored: Promise<void> | null): void {
    ack.matched = matched;
    // Hold one part while the others are registered, then release it: completes now if none.
    ack.remaining++;
    for (const shard of shards) this.turn.add(shard, ack);
    if (stored !== null) {
      ack.remaining++;
      // A failed store is logged where it failed; the message is then never acknowledged.
      stored.then(() => this.partDone(ack), () => undefined);
    }
    this.partDone(ack);
  }

  private partDone(ack: InboundAck): void {
    if (--ack.remaining > 0) return;
    ack.done = true;
    const queue = this.queues.get(ack.conn.id);
    if (queue === undefined) {
      this.dropped(ack); // the connection closed
      return;
    }
    const items = queue.items;
    // The head moves before each send, so nothing a send might set off sees an ack twice.
    while (queue.head < items.length && items[queue.head]!.done) this.send(items[queue.head++]!);
    if (queue.items !== items) return;
    if (queue.head === items.length) {
      items.length = 0;
      queue.head = 0;
    } else if (queue.head > 64 && queue.head * 2 > items.length) {
      queue.items = items.slice(queue.head);
      queue.head = 0;
    }
  }

  /** Before the supervisor posts the turn's batches: the tickets go after the deliveries. */
  flush(): void {
    this.turn.flush();
  }

  /** The connection closed: its pending acks are never sent (the client resends). */
  forget(connId: number): void {
    const queue = this.queues.get(connId);
    if (queue === undefined) return;
    this.queues.delete(connId);
    // Those done already but waiting behind an earlier one are dropped now; the others when done.
    for (let i = queue.head; i < queue.items.length; i++) if (queue.items[i]!.done) this.dropped(queue.items[i]!);
  }
}
