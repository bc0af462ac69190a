import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { median, percentile, percentileSorted, ratio } from '../../../bench/stats.js';

describe('bench stats: median', () => {
  it('takes the middle of an odd count regardless of order', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([9, 2, 7, 1, 100]), 7);
  });
  it('averages the two middle values of an even count', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });
  it('ignores failed rounds (NaN) and is NaN when nothing is left', () => {
    assert.equal(median([Number.NaN, 10, 20, Number.NaN, 30]), 20);
    assert.ok(Number.isNaN(median([Number.NaN])));
    assert.ok(Number.isNaN(median([])));
  });
  it('does not reorder its input', () => {
    const xs = [3, 1, 2];
    median(xs);
    assert.deepEqual(xs, [3, 1, 2]);
  });
});

describe('bench stats: percentile (nearest rank)', () => {
  it('p50 and p99 of 1..100', () => {
    const xs = Float64Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(percentile(xs, 100, 50), 50);
    assert.equal(percentile(xs, 100, 99), 99);
    assert.equal(percentile(xs, 100, 100), 100);
  });
  it('only looks at the first `count` samples', () => {
    const xs = Float64Array.from([5, 1, 1000, 1000]);
    assert.equal(percentile(xs, 2, 99), 5);
  });
  it('returns an observed value and handles tiny sets', () => {
    assert.equal(percentileSorted([7], 99), 7);
    assert.equal(percentileSorted([1, 2], 50), 1);
    assert.equal(percentileSorted([1, 2], 51), 2);
    assert.equal(percentileSorted([1, 2], 0), 1);
    assert.ok(Number.isNaN(percentile(new Float64Array(0), 0, 50)));
  });
});

describe('bench stats: ratio (> 1 means Shoal is better)', () => {
  it('throughput: shoal / peer', () => {
    assert.equal(ratio(200, 100, 'higher'), 2);
    assert.equal(ratio(50, 100, 'higher'), 0.5);
  });
  it('latency or memory: peer / shoal', () => {
    assert.equal(ratio(2, 4, 'lower'), 2);
    assert.equal(ratio(8, 4, 'lower'), 0.5);
  });
  it('is NaN when either side failed, and handles zeros', () => {
    assert.ok(Number.isNaN(ratio(Number.NaN, 1, 'higher')));
    assert.ok(Number.isNaN(ratio(1, Number.NaN, 'lower')));
    assert.equal(ratio(5, 0, 'higher'), Number.POSITIVE_INFINITY);
    assert.equal(ratio(0, 0, 'higher'), 1);
  });
});
