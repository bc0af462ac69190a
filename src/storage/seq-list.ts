// The live message copies of one client in the fan-out log's index, by seq. Puts come in seq
// order (a session numbers its messages) and copies finish mostly oldest first (acks follow the
// send order), so this is a sorted array with a moving head rather than a Map: with a Map entry per
// queued copy, putting 1M copies (100 clients) ran at ~0.85M/s against ~1.15M/s now, store only
// (bench/storage-apply.ts --fanout 100 --drain). A finished item leaves a hole until the head
// passes it or the array is compacted.

/** Items with distinct seqs, in seq order. At most one live item per seq. */
export class SeqList<T extends { readonly seq: number }> {
  private seqs: number[] = [];
  private slots: (T | null)[] = [];
  private head = 0;
  private live = 0;

  /** Live items. */
  get size(): number {
    return this.live;
  }

  get(seq: number): T | undefined {
    const i = this.find(seq);
    return i < 0 ? undefined : (this.slots[i] ?? undefined);
  }

  /** Adds an item; the caller has deleted any live item with the same seq first. */
  add(item: T): void {
    const n = this.seqs.length;
    if (n === this.head || this.seqs[n - 1]! < item.seq) {
      this.seqs.push(item.seq);
      this.slots.push(item);
    } else {
      // Out of order (a session re-put its messages): insert at the sorted position.
      let lo = this.head;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.seqs[mid]! < item.seq) lo = mid + 1;
        else hi = mid;
      }
      if (lo < n && this.seqs[lo] === item.seq) this.slots[lo] = item; // the hole its predecessor left
      else {
        this.seqs.splice(lo, 0, item.seq);
        this.slots.splice(lo, 0, item);
      }
    }
    this.live++;
  }

  delete(item: T): void {
    const i = this.find(item.seq);
    if (i < 0 || this.slots[i] !== item) return;
    this.slots[i] = null;
    this.live--;
    while (this.head < this.slots.length && this.slots[this.head] === null) this.head++;
    if (this.head === this.slots.length) {
      this.seqs = [];
      this.slots = [];
      this.head = 0;
    } else {
      // Holes behind the head and in the middle (a copy acked while an older one is not: a
      // client may never ack one) are dropped once they are half the array, amortised O(1).
      const waste = this.slots.length - this.live;
      if (waste >= 64 && waste * 2 >= this.slots.length) this.compact();
    }
  }

  *values(): IterableIterator<T> {
    for (let i = this.head; i < this.slots.length; i++) {
      const c = this.slots[i];
      if (c !== null && c !== undefined) yield c;
    }
  }

  /**
   * The index of `seq` (live or a hole), or -1. Acks come oldest first, so the head is tried
   * first; a put looks up a seq above the last, so that is tried next.
   */
  private find(seq: number): number {
    const seqs = this.seqs;
    let lo = this.head;
    let hi = seqs.length - 1;
    if (lo > hi || seq > seqs[hi]!) return -1;
    if (seqs[lo] === seq) return lo;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = seqs[mid]!;
      if (v === seq) return mid;
      if (v < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private compact(): void {
    const seqs: number[] = [];
    const slots: T[] = [];
    for (let i = this.head; i < this.slots.length; i++) {
      const c = this.slots[i];
      if (c === null || c === undefined) continue;
      seqs.push(this.seqs[i]!);
      slots.push(c);
    }
    this.seqs = seqs;
    this.slots = slots;
    this.head = 0;
  }
}
