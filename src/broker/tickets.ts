// Durability tickets. A shard answers a ticket once every event sent to it before the ticket is
// committed and its effects returned. Publishes that must be acknowledged only once stored share
// one ticket per shard per event-loop turn (TurnTickets), not one each.

export class TicketBook {
  private nextId = 1;
  private readonly waiting = new Map<number, () => void>();

  /** Registers a ticket and hands its id to `send`; resolves when `done(id)` is called. */
  ticket(send: (id: number) => void): Promise<void> {
    const id = this.nextId++;
    const p = new Promise<void>((resolve) => this.waiting.set(id, resolve));
    send(id);
    return p;
  }

  done(id: number): void {
    const resolve = this.waiting.get(id);
    if (resolve === undefined) return;
    this.waiting.delete(id);
    resolve();
  }

  get pending(): number {
    return this.waiting.size;
  }
}

/** A publish waiting to be acknowledged: `remaining` parts (shards, retained store) to go. */
export interface PendingAck {
  remaining: number;
}

/** Collects, per shard, the acks that wait for that shard during the current turn. */
export class TurnTickets<A extends PendingAck> {
  private readonly byShard = new Map<number, A[]>();

  constructor(
    private readonly tickets: TicketBook,
    private readonly sendTicket: (shard: number, id: number) => void,
    private readonly partDone: (ack: A) => void,
  ) {}

  add(shard: number, ack: A): void {
    let list = this.byShard.get(shard);
    if (list === undefined) this.byShard.set(shard, (list = []));
    list.push(ack);
    ack.remaining++;
  }

  /** Right before the supervisor flushes the turn's batches: the ticket goes after them. */
  flush(): void {
    if (this.byShard.size === 0) return; // every turn flushes: no iterator when there is nothing
    for (const [shard, acks] of this.byShard) {
      void this.tickets.ticket((id) => this.sendTicket(shard, id)).then(() => {
        for (const ack of acks) this.partDone(ack);
      });
    }
    this.byShard.clear();
  }
}

interface StoreWait extends PendingAck {
  resolve: () => void;
}

/** Promises that the shards a delivery touched have committed it (a forwarded message's ack to
 * its sending node), sharing the turn's one ticket per shard. */
export class StoreWaits {
  private readonly turn: TurnTickets<StoreWait>;

  constructor(tickets: TicketBook, sendTicket: (shard: number, id: number) => void) {
    this.turn = new TurnTickets<StoreWait>(tickets, sendTicket, (wait) => {
      if (--wait.remaining === 0) wait.resolve();
    });
  }

  /** Resolves once every shard in `shards` has committed what was sent to it so far. */
  wait(shards: Iterable<number>): Promise<void> {
    return new Promise<void>((resolve) => {
      const wait: StoreWait = { remaining: 0, resolve };
      for (const shard of shards) this.turn.add(shard, wait);
      if (wait.remaining === 0) resolve();
    });
  }

  /** Right before the supervisor flushes the turn's batches. */
  flush(): void {
    this.turn.flush();
  }
}
