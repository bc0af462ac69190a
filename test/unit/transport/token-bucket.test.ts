// TokenBucket (GCRA): a burst at once, then one token per interval; borrow() goes into debt and
// says how long until the next token.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../../src/transport/token-bucket.js';

describe('TokenBucket', () => {
  it('gives `burst` tokens at once, then one per 1/rate s', () => {
    const b = new TokenBucket(10, 3); // a token per 100 ms
    const t = 1_000_000;
    assert.deepEqual([b.take(t), b.take(t), b.take(t), b.take(t)], [true, true, true, false]);
    assert.equal(b.waitMs(t), 100);
    assert.equal(b.take(t + 99), false);
    assert.equal(b.take(t + 100), true);
    assert.equal(b.take(t + 100), false);
    assert.equal(b.isFull(t + 100), false);
    assert.equal(b.isFull(t + 400), true);
    // Idle time refills up to the burst, no further.
    assert.deepEqual([b.take(t + 10_000), b.take(t + 10_000), b.take(t + 10_000), b.take(t + 10_000)], [true, true, true, false]);
  });

  it('burst defaults to one second of the rate; rate 1 means one at a time', () => {
    const b = new TokenBucket(5);
    let n = 0;
    while (b.take(0)) n++;
    assert.equal(n, 5);
    const one = new TokenBucket(1);
    assert.deepEqual([one.take(0), one.take(0), one.take(999), one.take(1000)], [true, false, false, true]);
  });

  it('borrow() takes a token past empty and returns the wait until the next one', () => {
    const b = new TokenBucket(4, 1); // a token per 250 ms
    assert.equal(b.borrow(0), 250, 'the first token was there; the next comes in 250 ms');
    assert.equal(b.borrow(0), 500, 'in debt by one');
    assert.equal(b.take(499), false);
    assert.equal(b.take(500), true);
  });
});
