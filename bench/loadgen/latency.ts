// Collects end-to-end latencies (ms) into a preallocated array; summarised with nearest-rank
// percentiles. Publisher and subscriber live in the same process, so the performance.now()
// stamped into the payload and the one read on arrival share a clock.
import { percentileSorted } from '../stats.js';

export class LatencyRecorder {
  private readonly samples: Float64Array;
  private n = 0;
  /** Samples beyond capacity are counted but not stored (the first ones are kept). */
  dropped = 0;
  recording = false;

  constructor(capacity = 2_000_000) {
    this.samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    if (!this.recording) return;
    if (this.n < this.samples.length) this.samples[this.n++] = ms;
    else this.dropped++;
  }

  summary(): { count: number; p50: number; p99: number; max: number } {
    const sorted = this.samples.subarray(0, this.n).sort();
    return {
      count: this.n,
      p50: percentileSorted(sorted, 50),
      p99: percentileSorted(sorted, 99),
      max: this.n > 0 ? sorted[this.n - 1]! : Number.NaN,
    };
  }
}
