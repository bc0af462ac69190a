// Durability tickets: a publish that must be acknowledged only once stored asks each shard it
// touched for a ticket; the shard answers after the events before the ticket are committed.

export class TicketBook {
  private nextId = 1;
  private readonly waiting = new Map<number, () => void>();

  /** Registers a ticket and hands its id to `send`; resolves when `done(id)` is called. */
  ticket(_shard: number, send: (id: number) => void): Promise<void> {
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
