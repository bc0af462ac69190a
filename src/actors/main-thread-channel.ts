// The supervisor ↔ shard channel when a shard runs on the main thread: the same batches and
// messages as over a worker's MessagePort, passed by reference instead of structured-cloned.
// Batches are handled synchronously; the shard's messages are delivered in a microtask so that,
// as with a worker, effects never run inside the supervisor's own flush.
import type { ShardLink } from './shard-host.js';
import type { FromShard, ToShard } from './shard-protocol.js';

export class MainThreadChannel {
  private handler: ((batch: ToShard[]) => void) | null = null;
  /** Batches posted before the shard's store was open and its handler attached. */
  private early: ToShard[][] = [];
  private outbox: FromShard[] = [];
  private delivering = false;
  private closed = false;

  constructor(private readonly deliver: (m: FromShard) => void) {}

  /** Supervisor side: hands a batch to the shard. */
  postMessage(batch: ToShard[]): void {
    if (this.closed) return;
    if (this.handler === null) this.early.push(batch);
    else this.handler(batch);
  }

  close(): void {
    this.closed = true;
  }

  /** Shard side, for hostShard. */
  readonly link: ShardLink = {
    post: (m) => {
      if (this.closed) return; // as with a MessagePort: closing either end closes both
      this.outbox.push(m);
      if (this.delivering) return;
      this.delivering = true;
      queueMicrotask(this.drain);
    },
    onBatch: (handler) => {
      this.handler = handler;
      const early = this.early;
      this.early = [];
      for (const batch of early) handler(batch);
    },
    close: () => {
      this.closed = true;
    },
  };

  private readonly drain = (): void => {
    // Messages posted while these are delivered go out in the next microtask, still in order.
    const box = this.outbox;
    this.outbox = [];
    this.delivering = false;
    for (const m of box) this.deliver(m);
  };
}
