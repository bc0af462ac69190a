// The live message copies of one client in the fan-out index, by seq. Puts come in seq order (a
// session numbers its messages) and copies finish mostly oldest first (acks follow the send
// order), so this is a sorted array with a moving head rather than a Map: with a Map entry per
// queued copy, putting 1M copies (100 clients) ran at ~0.85M/s against ~1.15M/s with this list,
// store only (bench/storage-apply.ts --fanout 100 --drain). A finished item leaves a hole until
// the head passes it or the array is compacted.
//
// Each slot holds an item and a number (`aux`) in parallel arrays, so a copy can be described by
// an item it shares with others plus its own number, without an object of its own (fanout-index.ts:
// a queued copy is its log row and its index in that row).

/** Items by distinct seqs, in seq order. At most one live item per seq. */
export class SeqList<T> {
  private seqs: number[] = [];
  private slots: (T | null)[] = [];
  private auxes: number[] = [];
  private head = 0;
  private live = 0;

  /** Live items. */
  get size(): number {
    return this.live;
  }

  /**
   * The position of the live item under `seq`, or -1. Valid until the next add or remove. Acks
   * come oldest first, so the head is tried first; a put looks up a seq above the last, so that
   * is tried next.
   */
  find(seq: number): number {
    const seqs = this.seqs;
    let lo = this.head;
    let hi = seqs.length - 1;
    if (lo > hi || seq > seqs[hi]!) return -1;
    let i = -1;
    if (seqs[lo] === seq) i = lo;
    else {
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const v = seqs[mid]!;
        if (v === seq) {
          i = mid;
          break;
        }
        if (v < seq) lo = mid + 1;
        else hi = mid - 1;
      }
    }
    return i >= 0 && this.slots[i] !== null ? i : -1;
  }

  /** The item at a position find() returned. */
  item(i: number): T {
    return this.slots[i]!;
  }

  aux(i: number): number {
    return this.auxes[i]!;
  }

  seq(i: number): number {
    return this.seqs[i]!;
  }

  /** Replaces the item and number at a position find() returned. */
  replace(i: number, item: T, aux: number): void {
    this.slots[i] = item;
    this.auxes[i] = aux;
  }

  /** Adds an item; the caller has removed any live item with the same seq first. */
  add(seq: number, item: T, aux: number): void {
    const n = this.seqs.length;
    if (n === this.head || this.seqs[n - 1]! < seq) {
      this.seqs.push(seq);
      this.slots.push(item);
      this.auxes.push(aux);
    } else {
      // Out of order (a session re-put its messages): insert at the sorted position.
      let lo = this.head;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.seqs[mid]! < seq) lo = mid + 1;
        else hi = mid;
      }
      if (lo < n && this.seqs[lo] === seq) {
        // The hole its predecessor left.
        this.slots[lo] = item;
        this.auxes[lo] = aux;
      } else {
        this.seqs.splice(lo, 0, seq);
        this.slots.splice(lo, 0, item);
        this.auxes.splice(lo, 0, aux);
      }
    }
    this.live++;
  }

  /** Removes the item at a position find() returned. Positions after it may change. */
  removeAt(i: number): void {
    this.slots[i] = null;
    this.live--;
    while (this.head < this.slots.length && this.slots[this.head] === null) this.head++;
    if (this.head === this.slots.length) {
      this.seqs = [];
      this.slots = [];
      this.auxes = [];
      this.head = 0;
    } else {
      // Holes behind the head and in the middle (a copy acked while an older one is not: a
      // client may never ack one) are dropped once they are half the array, amortised O(1).
      const waste = this.slots.length - this.live;
      if (waste >= 64 && waste * 2 >= this.slots.length) this.compact();
    }
  }

  /** The seqs of the live items, in order (a copy: removing items while walking it is safe). */
  liveSeqs(): number[] {
    const out: number[] = [];
    for (let i = this.head; i < this.slots.length; i++) if (this.slots[i] !== null) out.push(this.seqs[i]!);
    return out;
  }

  private compact(): void {
    const seqs: number[] = [];
    const slots: T[] = [];
    const auxes: number[] = [];
    for (let i = this.head; i < this.slots.length; i++) {
      const c = this.slots[i];
      if (c === null || c === undefined) continue;
      seqs.push(this.seqs[i]!);
      slots.push(c);
      auxes.push(this.auxes[i]!);
    }
    this.seqs = seqs;
    this.slots = slots;
    this.auxes = auxes;
    this.head = 0;
  }
}
