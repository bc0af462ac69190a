// What each shard counts for /metrics, in one SharedArrayBuffer the supervisor hands every shard:
// the shard (a worker thread or the main thread) adds with plain writes to its own slot, and the
// main thread reads at scrape time. No message, no lock: a scrape may see a value one update
// stale, which a metric tolerates (and an aligned Float64 write is never torn on x64 or arm64).

/** Upper bounds (seconds) of the SQLite commit latency buckets: WAL commits take 0.1..10 ms, fsync'd ones more. */
export const COMMIT_BUCKETS_SECONDS: readonly number[] = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);

const APPLIED = 0;
const COMMITS = 1;
const COMMIT_SECONDS = 2;
const FIRST_BUCKET = 3;
/** Float64 slots per shard: the three counters, one per bucket, and +Inf. */
const SLOT = FIRST_BUCKET + COMMIT_BUCKETS_SECONDS.length + 1;

export function shardGaugesBuffer(shards: number): SharedArrayBuffer {
  return new SharedArrayBuffer(shards * SLOT * Float64Array.BYTES_PER_ELEMENT);
}

/** One shard's writer. */
export class ShardGauges {
  private readonly cells: Float64Array;

  constructor(buffer: SharedArrayBuffer, shard: number) {
    this.cells = new Float64Array(buffer, shard * SLOT * Float64Array.BYTES_PER_ELEMENT, SLOT);
  }

  /** The shard took `n` messages off its mailbox. */
  applied(n: number): void {
    this.cells[APPLIED]! += n;
  }

  /** One group commit took `seconds`. */
  committed(seconds: number): void {
    const c = this.cells;
    c[COMMITS]! += 1;
    c[COMMIT_SECONDS]! += seconds;
    let i = 0;
    while (i < COMMIT_BUCKETS_SECONDS.length && seconds > COMMIT_BUCKETS_SECONDS[i]!) i++;
    c[FIRST_BUCKET + i]! += 1;
  }
}

export interface ShardGaugeReading {
  /** Messages (events, deliveries, tickets) the shard has taken from its mailbox since it started. */
  applied: number;
  commits: number;
  commitSeconds: number;
  /** Cumulative counts per COMMIT_BUCKETS_SECONDS bound, then +Inf (= commits). */
  cumulativeBuckets: number[];
}

/** Reads shard `shard`'s slot (the supervisor's side). */
export function readShardGauges(buffer: SharedArrayBuffer, shard: number): ShardGaugeReading {
  const c = new Float64Array(buffer, shard * SLOT * Float64Array.BYTES_PER_ELEMENT, SLOT);
  const cumulativeBuckets: number[] = [];
  let sum = 0;
  for (let i = 0; i <= COMMIT_BUCKETS_SECONDS.length; i++) {
    sum += c[FIRST_BUCKET + i]!;
    cumulativeBuckets.push(sum);
  }
  return { applied: c[APPLIED]!, commits: c[COMMITS]!, commitSeconds: c[COMMIT_SECONDS]!, cumulativeBuckets };
}
