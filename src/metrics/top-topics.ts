// The busiest topics of a node, for the dashboard, in bounded memory whatever the number of
// distinct topics: the Space-Saving algorithm (Metwally et al., 2005) over a sample of the
// published messages. At most `capacity` topics are tracked; a new topic replaces the one with
// the smallest count and inherits that count as its possible over-estimate (`error`). A topic
// published more than total/capacity times is always in the table. Pure: no clock, no I/O.

export interface TopicCount {
  topic: string;
  /** Estimated messages published on the topic since the node started (sampled, scaled). */
  messages: number;
  /** Upper bound on how much of `messages` may belong to topics it replaced. */
  error: number;
}

interface Entry {
  count: number;
  error: number;
}

export class TopTopics {
  private readonly entries = new Map<string, Entry>();
  /** xorshift32 state: a pseudo-random sample, since every n-th message would see only one of n
   * topics published round-robin. */
  private rand: number;

  /**
   * @param capacity topics tracked at most.
   * @param sampleEvery on average one message in this many is counted (a power of two), so the
   *   hot path pays a few integer operations for the others.
   */
  constructor(
    readonly capacity = 100,
    readonly sampleEvery = 8,
    seed = 0x9e3779b9,
  ) {
    this.rand = seed | 0 || 1;
    if ((sampleEvery & (sampleEvery - 1)) !== 0 || sampleEvery < 1) throw new RangeError(`sampleEvery must be a power of two, got ${sampleEvery}`);
  }

  /** One published message on `topic`. */
  offer(topic: string): void {
    let x = this.rand;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rand = x;
    if ((x & (this.sampleEvery - 1)) !== 0) return;
    const hit = this.entries.get(topic);
    if (hit !== undefined) {
      hit.count++;
      return;
    }
    if (this.entries.size < this.capacity) {
      this.entries.set(topic, { count: 1, error: 0 });
      return;
    }
    // Full: evict the smallest. O(capacity), on a sampled miss only.
    let minTopic = '';
    let min: Entry | null = null;
    for (const [t, e] of this.entries) {
      if (min === null || e.count < min.count) {
        min = e;
        minTopic = t;
      }
    }
    this.entries.delete(minTopic);
    this.entries.set(topic, { count: min!.count + 1, error: min!.count });
  }

  /** The `n` topics with the highest estimates, highest first (ties by topic name). */
  top(n: number): TopicCount[] {
    const all: TopicCount[] = [];
    for (const [topic, e] of this.entries) all.push({ topic, messages: e.count * this.sampleEvery, error: e.error * this.sampleEvery });
    all.sort((a, b) => b.messages - a.messages || (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
    return all.slice(0, Math.max(0, n));
  }
}
