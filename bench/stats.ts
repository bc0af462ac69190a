// The arithmetic of the report: medians over rounds, percentiles of latency samples, and
// Shoal/peer ratios oriented so that > 1 always means "Shoal is better".

export function median(values: readonly number[]): number {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/**
 * Nearest-rank percentile (p in 0..100) of the first `count` samples, which it sorts in place.
 * Nearest-rank never invents a value that was not observed.
 */
export function percentile(samples: Float64Array, count: number, p: number): number {
  if (count <= 0) return Number.NaN;
  const xs = samples.subarray(0, count).sort();
  return percentileSorted(xs, p);
}

export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (p <= 0) return sorted[0]!;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n, rank) - 1]!;
}

/**
 * Shoal relative to a peer, > 1 meaning Shoal is better: shoal/peer for higher-is-better metrics
 * (throughput), peer/shoal for lower-is-better ones (latency, memory, CPU per message).
 */
export function ratio(shoal: number, peer: number, better: 'higher' | 'lower'): number {
  if (!Number.isFinite(shoal) || !Number.isFinite(peer)) return Number.NaN;
  const [num, den] = better === 'higher' ? [shoal, peer] : [peer, shoal];
  if (den === 0) return num === 0 ? 1 : Number.POSITIVE_INFINITY;
  return num / den;
}
