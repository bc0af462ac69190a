// This node's route changes on their way to its peers: collected between flushes, coalesced (an
// add followed by a remove of the same filter cancels out, and the other way round, since the
// route's state is then what peers already hold), and cut into deltas of at most `maxBatch`
// filters, numbered 1, 2, ... within this incarnation. Receivers apply them in that order and ask
// for the full slice on a gap, so a delta that is lost is repaired, never resent. Pure.

import type { RouteDelta } from './peer-messages.js';

/** Filters per delta: bounds one protobuf message (~1000 filters of ~64 bytes ≈ 64 KiB, well
 * under gRPC's 4 MiB default) and the pause of applying one on the receiver. */
export const DEFAULT_ROUTE_BATCH = 1000;

export class RouteOutbox {
  /** filter → the change not yet taken; Map order is the order changes were first made. */
  private readonly pending = new Map<string, 'add' | 'remove'>();
  private seq = 0;

  constructor(
    readonly origin: string,
    readonly incarnation: number,
    readonly maxBatch: number = DEFAULT_ROUTE_BATCH,
  ) {
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`route batch size must be an integer >= 1, got ${maxBatch}`);
    }
  }

  /** The route for `filter` appeared (LocalRoutes.add returned true). */
  add(filter: string): void {
    this.change(filter, 'add');
  }

  /** The route for `filter` went away (LocalRoutes.remove returned true). */
  remove(filter: string): void {
    this.change(filter, 'remove');
  }

  /** Filters with a change not yet taken. */
  get size(): number {
    return this.pending.size;
  }

  /** Sequence number of the last delta taken (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  /** The next delta (up to maxBatch filters, oldest changes first), or null when nothing is
   * pending. Each call numbers a new delta, so send every delta taken. */
  take(): RouteDelta | null {
    if (this.pending.size === 0) return null;
    const adds: string[] = [];
    const removes: string[] = [];
    let n = 0;
    for (const [filter, op] of this.pending) {
      if (n === this.maxBatch) break;
      (op === 'add' ? adds : removes).push(filter);
      this.pending.delete(filter);
      n++;
    }
    this.seq++;
    return { origin: this.origin, incarnation: this.incarnation, seq: this.seq, adds, removes };
  }

  private change(filter: string, op: 'add' | 'remove'): void {
    const before = this.pending.get(filter);
    // LocalRoutes alternates add and remove per filter, so a pending opposite change means the
    // route is back to the state peers hold: drop both.
    if (before !== undefined && before !== op) this.pending.delete(filter);
    else this.pending.set(filter, op);
  }
}
