// Reference counts of this node's own filters: a filter is in the cluster's route table while at
// least one local session subscribes to it, so the cluster sees one route per (filter, node)
// however many clients share it. Only the 0 → 1 and 1 → 0 transitions reach the route outbox.
// Filters are as subscribed (`$share/{group}/{filter}` for a shared subscription). Pure.

export class LocalRoutes {
  private readonly counts = new Map<string, number>();

  /**
   * One more local subscription to `filter`; true when it is the first (announce the route).
   * Call once per new (session, filter) pair, not when a session re-subscribes with new options.
   */
  add(filter: string): boolean {
    const n = this.counts.get(filter) ?? 0;
    this.counts.set(filter, n + 1);
    return n === 0;
  }

  /**
   * One local subscription to `filter` fewer; true when it was the last (withdraw the route).
   * A remove without a matching add is ignored (false) rather than driving the count negative.
   */
  remove(filter: string): boolean {
    const n = this.counts.get(filter);
    if (n === undefined) return false;
    if (n > 1) {
      this.counts.set(filter, n - 1);
      return false;
    }
    this.counts.delete(filter);
    return true;
  }

  /** Local subscriptions to `filter` (0 when none). */
  count(filter: string): number {
    return this.counts.get(filter) ?? 0;
  }

  /** The filters with at least one local subscriber: this node's slice of the route table. */
  filters(): IterableIterator<string> {
    return this.counts.keys();
  }

  get size(): number {
    return this.counts.size;
  }
}
