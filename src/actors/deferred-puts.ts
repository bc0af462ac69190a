// Copies to online sessions whose write the shard holds back for a few milliseconds, hoping the
// subscriber acknowledges them first: a copy acknowledged before it is written is never written
// (the delete cancels the put here), which is most copies of a subscriber that keeps up. The
// publisher's PUBACK waits until each of its copies is durable *or* acknowledged, which is all
// QoS 1 asks of the broker [MQTT-4.3.2]. Pure bookkeeping: the shard (shard.ts) decides when to
// write, and owns the timer and the tickets.
import type { StoredMessage, StoreOp } from '../storage/types.js';

type PutMessage = Extract<StoreOp, { op: 'putMessage' }>;

interface Deferred {
  op: PutMessage;
  /** The flush that deferred it: its tickets wait for this copy. */
  readonly batch: number;
  /** When it was deferred (the clock's ms): it is written once it is older than the shard allows. */
  readonly at: number;
  /** Written or cancelled: left in the FIFO until the head reaches it. */
  done: boolean;
}

export class DeferredPuts {
  /** All deferred copies in the order they were deferred (from `head` on). */
  private fifo: Deferred[] = [];
  private head = 0;
  /** Each client's deferred copies, in seq order (the order they were deferred). */
  private readonly byClient = new Map<string, ClientList>();
  /** Per flush number, its deferred copies neither durable nor acknowledged yet (ascending keys). */
  private readonly unresolved = new Map<number, number>();
  private live = 0;

  get size(): number {
    return this.live;
  }

  defer(op: PutMessage, batch: number, at: number): void {
    const d: Deferred = { op, batch, at, done: false };
    this.fifo.push(d);
    const list = this.byClient.get(op.clientId);
    if (list === undefined) this.byClient.set(op.clientId, { items: [d], head: 0 });
    else list.items.push(d);
    this.unresolved.set(batch, (this.unresolved.get(batch) ?? 0) + 1);
    this.live++;
  }

  /** Whether the put of `clientId`'s copy `seq` is held back here (not written, not cancelled). */
  holds(clientId: string, seq: number): boolean {
    const list = this.byClient.get(clientId);
    return list !== undefined && indexOfSeq(list, seq) >= 0;
  }

  /**
   * A later op on one copy of `clientId`: a delete cancels a deferred copy (acknowledged, or
   * dropped, before it was written), an update becomes part of its put. True when the op was
   * absorbed so (it must then not reach the store); false when the copy is not deferred here.
   */
  absorb(op: Extract<StoreOp, { op: 'deleteMessage' | 'updateMessage' }>): boolean {
    const list = this.byClient.get(op.clientId);
    if (list === undefined) return false;
    const i = indexOfSeq(list, op.seq);
    if (i < 0) return false;
    const d = list.items[i]!;
    if (op.op === 'updateMessage') {
      // A new object: the put's message may be a copy shared with other sessions' ops.
      const m = d.op.message;
      const updated: StoredMessage = { seq: m.seq, state: op.state, packetId: op.packetId, qos: m.qos, retain: m.retain, subscriptionIds: m.subscriptionIds, message: m.message };
      d.op = { op: 'putMessage', clientId: op.clientId, message: updated };
      return true;
    }
    if (removeAt(list, i)) this.byClient.delete(op.clientId);
    d.done = true;
    this.live--;
    this.resolve(d.batch);
    return true;
  }

  /**
   * Appends the puts of every copy of `clientId` still deferred to `out`, in order, and their
   * flush numbers to `written` (resolved once that commit is durable). Called before any op of
   * that client that must not run before them.
   */
  writeClient(clientId: string, out: StoreOp[], written: number[]): void {
    const list = this.byClient.get(clientId);
    if (list === undefined) return;
    this.byClient.delete(clientId);
    for (let i = list.head; i < list.items.length; i++) this.write(list.items[i]!, out, written);
  }

  /** Writes the copies deferred at or before `before` (every copy with Infinity), oldest first. */
  writeOlder(before: number, out: StoreOp[], written: number[]): void {
    while (this.head < this.fifo.length) {
      const d = this.fifo[this.head]!;
      if (!d.done) {
        if (d.at > before) break;
        // The oldest live copy of its client, so the first of its list.
        const list = this.byClient.get(d.op.clientId)!;
        if (removeAt(list, list.head)) this.byClient.delete(d.op.clientId);
        this.write(d, out, written);
      }
      this.head++;
    }
    if (this.head === this.fifo.length) {
      this.fifo = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.head);
      this.head = 0;
    }
  }

  /** When the oldest live copy was deferred, or null with none. */
  oldest(): number | null {
    for (let i = this.head; i < this.fifo.length; i++) if (!this.fifo[i]!.done) return this.fifo[i]!.at;
    return null;
  }

  /** A flush's copy is durable or acknowledged. */
  resolve(batch: number): void {
    const n = this.unresolved.get(batch)!;
    if (n <= 1) this.unresolved.delete(batch);
    else this.unresolved.set(batch, n - 1);
  }

  /** The lowest flush number with a copy neither durable nor acknowledged; Infinity with none. */
  firstUnresolved(): number {
    for (const batch of this.unresolved.keys()) return batch;
    return Infinity;
  }

  private write(d: Deferred, out: StoreOp[], written: number[]): void {
    d.done = true;
    this.live--;
    out.push(d.op);
    written.push(d.batch);
  }
}

/**
 * One client's deferred copies from `head` on. A moving head, not shift(): a subscriber far
 * behind has thousands of copies held at once, and shift() copies an array that large
 * (../shared/STACK.md "V8 arrays").
 */
interface ClientList {
  items: Deferred[];
  head: number;
}

/**
 * Where copy `seq` is in a client's list, or -1. Acknowledgements come mostly in order: the copy
 * is usually first.
 */
function indexOfSeq(list: ClientList, seq: number): number {
  const items = list.items;
  for (let i = list.head; i < items.length; i++) if (items[i]!.op.message.seq === seq) return i;
  return -1;
}

/** Takes item `i` out of the list; true when the list is left empty. */
function removeAt(list: ClientList, i: number): boolean {
  if (i === list.head) list.head++;
  else list.items.splice(i, 1); // out of order (a later copy acknowledged first): rare
  if (list.head === list.items.length) return true;
  if (list.head > 64 && list.head * 2 > list.items.length) {
    list.items = list.items.slice(list.head);
    list.head = 0;
  }
  return false;
}
