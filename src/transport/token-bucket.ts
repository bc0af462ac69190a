// A token bucket of `ratePerSec` tokens a second holding at most `burst`, kept as one number: the
// time the bucket would be full again (the "theoretical arrival time" of GCRA, the generic cell
// rate algorithm, which is a token bucket in other units). One field instead of a token count and
// a refill time, and no arithmetic on elapsed time per call. Pure: the caller passes the clock.

export class TokenBucket {
  /** Milliseconds one token takes to come back. */
  private readonly intervalMs: number;
  /** How far `fullAt` may run ahead of now while tokens are left: (burst - 1) intervals. */
  private readonly toleranceMs: number;
  /** Epoch ms at which every token is back; at or before now, the bucket is full. */
  private fullAt = 0;

  constructor(ratePerSec: number, burst: number = ratePerSec) {
    this.intervalMs = 1000 / ratePerSec;
    this.toleranceMs = (Math.max(1, burst) - 1) * this.intervalMs;
  }

  /** Takes a token if one is left at `now`; false (and nothing taken) otherwise. */
  take(now: number): boolean {
    const from = this.fullAt > now ? this.fullAt : now;
    if (from - now > this.toleranceMs) return false;
    this.fullAt = from + this.intervalMs;
    return true;
  }

  /**
   * Takes a token whether or not one is left, going into debt, and returns how many ms from
   * `now` until the next token is there (0 if one is left already).
   */
  borrow(now: number): number {
    this.fullAt = (this.fullAt > now ? this.fullAt : now) + this.intervalMs;
    return this.waitMs(now);
  }

  /** Milliseconds from `now` until a token is there; 0 when one is. */
  waitMs(now: number): number {
    const wait = this.fullAt - this.toleranceMs - now;
    return wait > 0 ? Math.ceil(wait) : 0;
  }

  /** True when every token is back at `now`: a bucket in this state can be forgotten. */
  isFull(now: number): boolean {
    return this.fullAt <= now;
  }
}
