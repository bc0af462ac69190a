// One coarse timer for the connect and keepalive deadlines of every connection, instead of a
// Timeout (plus its closure) per connection and a Timeout.refresh() per inbound packet. A target
// sits in the bucket of the slot its deadline falls in; when the slot comes, the wheel asks it for
// its deadline again (activity may have moved it: the "lazy" part) and it either fires or is put
// into a later bucket. Deadlines fire late by at most one resolution step, never early.

export interface DeadlineTarget {
  /** @internal The slot this target is filed under, -1 for none; owned by the wheel. */
  wheelSlot: number;
  /** Its slot came: fire if `now` is past its deadline, else reschedule (or do nothing). */
  onWheelSlot(now: number): void;
}

export class DeadlineWheel {
  private readonly buckets = new Map<number, Set<DeadlineTarget>>();
  private timer: NodeJS.Timeout | null = null;
  /** The next slot to process. */
  private nextSlot = 0;
  private count = 0;
  /**
   * Slots count from here rather than from the epoch: epoch ms / 100 is past 2^31, which V8 keeps
   * as a 16-byte heap number in every target's `wheelSlot`; a small slot number is stored inline.
   */
  private readonly originMs: number;

  constructor(
    /** Milliseconds per slot: the most a deadline fires late. */
    readonly resolutionMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.originMs = clock();
  }

  /** Files `target` for `deadline` (epoch ms). A target already filed earlier stays there. */
  schedule(target: DeadlineTarget, deadline: number): void {
    if (this.timer === null) this.start();
    const slot = Math.max(this.slotOf(deadline, Math.ceil), this.nextSlot);
    if (target.wheelSlot !== -1) {
      // It is rechecked at its earlier slot and moved on from there.
      if (target.wheelSlot <= slot) return;
      this.remove(target);
    }
    let bucket = this.buckets.get(slot);
    if (bucket === undefined) this.buckets.set(slot, (bucket = new Set()));
    bucket.add(target);
    target.wheelSlot = slot;
    this.count++;
  }

  cancel(target: DeadlineTarget): void {
    if (target.wheelSlot !== -1) this.remove(target);
  }

  /** Targets filed (for tests and diagnostics). */
  get size(): number {
    return this.count;
  }

  private remove(target: DeadlineTarget): void {
    // The bucket is gone when its slot is being processed; tick() then skips this target.
    this.buckets.get(target.wheelSlot)?.delete(target);
    target.wheelSlot = -1;
    this.count--;
  }

  /** Never negative, also when the wall clock steps back: -1 means "not filed". */
  private slotOf(ms: number, round: (x: number) => number): number {
    return Math.max(0, round((ms - this.originMs) / this.resolutionMs));
  }

  private start(): void {
    this.nextSlot = this.slotOf(this.clock(), Math.floor);
    this.timer = setInterval(() => this.tick(), this.resolutionMs);
    // Like the per-connection timers it replaces, it does not keep the process alive.
    this.timer.unref();
  }

  private tick(): void {
    const now = this.clock();
    const last = this.slotOf(now, Math.floor);
    while (this.nextSlot <= last) {
      const slot = this.nextSlot++;
      const bucket = this.buckets.get(slot);
      if (bucket === undefined) continue;
      this.buckets.delete(slot);
      for (const target of bucket) {
        if (target.wheelSlot !== slot) continue; // cancelled by an earlier target of this slot
        // Unfiled first: the target may reschedule itself (into a later slot) or close.
        target.wheelSlot = -1;
        this.count--;
        target.onWheelSlot(now);
      }
    }
    if (this.count === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
