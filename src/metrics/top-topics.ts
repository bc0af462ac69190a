// The busiest topics of a node, for the dashboard, in bounded memory whatever the number of
// distinct topics, and at a cost per PUBLISH of a few integer operations: a pseudo-random sample
// of the messages goes into the Misra-Gries "frequent items" summary. At most `capacity` topics
// are counted; a sampled topic that is not counted while the table is full cancels out with one
// count of every counted topic (each is decremented, those at zero leave). Each pass costs
// `capacity` but removes as many counts as were added, so a sample costs O(1) amortised.
// Guarantees (on the sample): a count is at most `error` below the truth, and a topic with more
// than 1/(capacity+1) of the sampled messages is always in the table. Pure: no clock, no I/O.

export interface TopicCount {
  topic: string;
  /** Estimated messages published on the topic since the node started (sampled, scaled): a
   * lower bound, short of the truth by at most `error` (plus sampling noise). */
  messages: number;
  error: number;
}

export class TopTopics {
  private readonly counts = new Map<string, number>();
  /** Decrement passes so far: how far below the truth any count may be. */
  private decrements = 0;
  /** xorshift32 state: a pseudo-random sample, since every n-th message would see only one of n
   * topics published round-robin. */
  private rand: number;

  /**
   * @param capacity topics counted at most.
   * @param sampleEvery on average one message in this many is counted (a power of two). 64
   *   costs 5-26x less per PUBLISH than counting every message (bench/metrics-cost.ts).
   */
  constructor(
    readonly capacity = 100,
    readonly sampleEvery = 64,
    seed = 0x9e3779b9,
  ) {
    if ((sampleEvery & (sampleEvery - 1)) !== 0 || sampleEvery < 1) throw new RangeError(`sampleEvery must be a power of two, got ${sampleEvery}`);
    this.rand = seed | 0 || 1;
  }

  /** One published message on `topic`. */
  offer(topic: string): void {
    let x = this.rand;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rand = x;
    if ((x & (this.sampleEvery - 1)) !== 0) return;
    const counts = this.counts;
    const n = counts.get(topic);
    if (n !== undefined) {
      counts.set(topic, n + 1);
      return;
    }
    if (counts.size < this.capacity) {
      counts.set(topic, 1);
      return;
    }
    this.decrements++;
    counts.forEach(decrement);
  }

  /** The `n` topics with the highest counts, highest first (ties by topic name). */
  top(n: number): TopicCount[] {
    const all: TopicCount[] = [];
    const error = this.decrements * this.sampleEvery;
    for (const [topic, count] of this.counts) all.push({ topic, messages: count * this.sampleEvery, error });
    all.sort((a, b) => b.messages - a.messages || (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
    return all.slice(0, Math.max(0, n));
  }
}

/** Map.forEach callback of the decrement pass (deleting the current entry is safe in forEach). */
function decrement(this: void, n: number, topic: string, counts: Map<string, number>): void {
  if (n === 1) counts.delete(topic);
  else counts.set(topic, n - 1);
}
