// A session's queue of messages waiting for its inflight window or its client: first in, first
// out, in arrival order, which is seq order (a session numbers its messages as they arrive). Every
// operation costs O(1) amortised (the expiry purge O(log n) per expired message), whatever the
// depth. A plain array with shift() cost O(depth) per message once the queue was deep: V8 moves
// a large array to its large-object space, where it cannot trim it in place, so each shift copied
// it (100k messages: ~146 µs per shift; ../shared/STACK.md "V8 arrays").
//
// It is an array with a moving head. A message taken out of the middle (the oldest QoS 0 message
// evicted for room, an expired message purged on resume) leaves a hole: the slot keeps the
// message's seq, a number, so the array stays sorted by seq and searchable. The head skips holes,
// and the array is compacted once holes are half of it. Pure data structure, no clock: the session
// (session-outbound.ts) keeps the counters (bytes, QoS 0 count) and writes the store ops.
import type { StoredMessage } from '../storage/types.js';

/** Holes and consumed slots tolerated before a compaction: small queues are never copied. */
const MIN_WASTE = 64;

/** What the session's readers see; writes go through writable() (session-types.ts). */
export interface ReadonlyMessageQueue extends Iterable<StoredMessage> {
  readonly length: number;
  /** The oldest message, or undefined when empty. */
  peek(): StoredMessage | undefined;
  /** The messages in order: the exported (serialisable) form. */
  toArray(): StoredMessage[];
}

export class MessageQueue implements ReadonlyMessageQueue {
  /** Messages from `head` on, in seq order; a number is the seq of a removed message (a hole). */
  private items: (StoredMessage | number)[] = [];
  private head = 0;
  private live = 0;
  /** No QoS 0 message lies before this position: the eviction search resumes here. */
  private qos0From = 0;
  /**
   * Min-heap by expiry time of the queued messages that carry one (v5 Message Expiry), made on the
   * first such message. It may still hold messages gone by another way (sent, evicted): they are
   * skipped when popped, and pruned when they are half of it.
   */
  private expiring: StoredMessage[] | null = null;
  private expiringLive = 0;

  /** The queue of `messages` (in seq order, as a session exports or a store returns them). */
  static from(messages: Iterable<StoredMessage>): MessageQueue {
    const q = new MessageQueue();
    for (const m of messages) q.push(m);
    return q;
  }

  /**
   * An empty queue that throws on any write: the one that idle sessions share (see NO_QUEUE in
   * session-types.ts). Its array is frozen too, so a push fails instead of reaching every session.
   */
  static frozenEmpty(): ReadonlyMessageQueue {
    const q = new MessageQueue();
    Object.freeze(q.items);
    return Object.freeze(q);
  }

  get length(): number {
    return this.live;
  }

  peek(): StoredMessage | undefined {
    return this.live === 0 ? undefined : (this.items[this.head] as StoredMessage);
  }

  push(m: StoredMessage): void {
    this.items.push(m);
    this.live++;
    if (m.message.expiresAt !== undefined) this.pushExpiring(m);
  }

  /** Takes the oldest message out. */
  shift(): StoredMessage | undefined {
    if (this.live === 0) return undefined;
    const m = this.items[this.head] as StoredMessage;
    this.removeAt(this.head, m);
    return m;
  }

  /**
   * Takes out the oldest QoS 0 message, or returns undefined with none. Amortised O(1): messages
   * only join at the tail, so the search never needs to look again before where it last stopped.
   */
  removeOldestQos0(): StoredMessage | undefined {
    const items = this.items;
    for (let i = Math.max(this.qos0From, this.head); i < items.length; i++) {
      const m = items[i]!;
      if (typeof m === 'number' || m.qos !== 0) continue;
      this.qos0From = i + 1;
      this.removeAt(i, m);
      return m;
    }
    this.qos0From = items.length;
    return undefined;
  }

  /** Takes out every message expired at `now` [MQTT-3.3.2-5], returned in queue order. */
  removeExpired(now: number): StoredMessage[] {
    const heap = this.expiring;
    const gone: StoredMessage[] = [];
    while (heap !== null && heap.length > 0 && heap[0]!.message.expiresAt! <= now) {
      const m = heapPop(heap);
      const i = this.indexOf(m);
      if (i < 0) continue; // already gone by another way
      gone.push(m);
      this.removeAt(i, m);
      if (this.live === 0) break; // removeAt reset everything, the heap included
    }
    return gone.sort((a, b) => a.seq - b.seq);
  }

  *[Symbol.iterator](): IterableIterator<StoredMessage> {
    const items = this.items;
    for (let i = this.head; i < items.length; i++) {
      const m = items[i]!;
      if (typeof m !== 'number') yield m;
    }
  }

  toArray(): StoredMessage[] {
    const out: StoredMessage[] = [];
    const items = this.items;
    for (let i = this.head; i < items.length; i++) {
      const m = items[i]!;
      if (typeof m !== 'number') out.push(m);
    }
    return out;
  }

  /** Where `m` is (binary search by seq over messages and holes alike), or -1. */
  private indexOf(m: StoredMessage): number {
    const items = this.items;
    let lo = this.head;
    let hi = items.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const x = items[mid]!;
      const seq = typeof x === 'number' ? x : x.seq;
      if (seq === m.seq) return x === m ? mid : -1;
      if (seq < m.seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private removeAt(i: number, m: StoredMessage): void {
    const items = this.items;
    items[i] = m.seq; // a hole that keeps the order searchable and lets go of the message
    this.live--;
    if (m.message.expiresAt !== undefined) this.expiringLive--;
    if (this.live === 0) {
      // Empty: let go of every slot (length 0 gives the array's store back to V8).
      items.length = 0;
      this.head = 0;
      this.qos0From = 0;
      this.expiring = null;
      this.expiringLive = 0;
      return;
    }
    if (i === this.head) {
      let h = i + 1;
      while (typeof items[h] === 'number') h++;
      this.head = h;
    }
    const waste = items.length - this.live;
    if (waste >= MIN_WASTE && waste * 2 >= items.length) this.compact();
  }

  /** Drops the consumed slots and holes: O(live), paid for by the removals that made them. */
  private compact(): void {
    const items = this.items;
    const kept: StoredMessage[] = [];
    let qos0From = 0;
    for (let i = this.head; i < items.length; i++) {
      const m = items[i]!;
      if (typeof m === 'number') continue;
      if (i < this.qos0From) qos0From++;
      kept.push(m);
    }
    this.items = kept;
    this.head = 0;
    this.qos0From = qos0From;
  }

  private pushExpiring(m: StoredMessage): void {
    let heap = this.expiring;
    if (heap === null) heap = this.expiring = [];
    else if (heap.length >= MIN_WASTE && heap.length >= 2 * this.expiringLive) {
      // Mostly messages already gone: keep the live ones. O(k log n), paid for by the k/2
      // messages that left since the last pruning.
      heap = this.expiring = heap.filter((x) => this.indexOf(x) >= 0);
      for (let i = (heap.length >>> 1) - 1; i >= 0; i--) siftDown(heap, i);
    }
    this.expiringLive++;
    heap.push(m);
    siftUp(heap, heap.length - 1);
  }
}

function expiryOf(m: StoredMessage): number {
  return m.message.expiresAt!;
}

function siftUp(heap: StoredMessage[], i: number): void {
  const x = heap[i]!;
  while (i > 0) {
    const parent = (i - 1) >>> 1;
    const p = heap[parent]!;
    if (expiryOf(p) <= expiryOf(x)) break;
    heap[i] = p;
    i = parent;
  }
  heap[i] = x;
}

function siftDown(heap: StoredMessage[], i: number): void {
  const n = heap.length;
  const x = heap[i]!;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && expiryOf(heap[child + 1]!) < expiryOf(heap[child]!)) child++;
    if (expiryOf(heap[child]!) >= expiryOf(x)) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = x;
}

function heapPop(heap: StoredMessage[]): StoredMessage {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    siftDown(heap, 0);
  }
  return top;
}
