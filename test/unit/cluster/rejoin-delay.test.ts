// The backoff of re-syncs with seeds and down members (src/cluster/membership.ts): soon at first,
// doubling, capped, so a healed partition is found within the cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_GOSSIP_TIMINGS, rejoinDelayMs } from '../../../src/cluster/membership.js';

test('rejoin delay starts at seedRetryMs, doubles, and stops at rejoinIntervalMs', () => {
  const t = { seedRetryMs: 1000, rejoinIntervalMs: 5000 };
  assert.deepEqual([1, 2, 3, 4, 5, 50, 10_000].map((a) => rejoinDelayMs(t, a)), [1000, 2000, 4000, 5000, 5000, 5000, 5000]);
  assert.equal(rejoinDelayMs(t, 0), 1000);
});

test('a cap below seedRetryMs never makes the delay shorter than seedRetryMs', () => {
  assert.equal(rejoinDelayMs({ seedRetryMs: 100, rejoinIntervalMs: 50 }, 3), 100);
});

test('the defaults find a healed partition within 5 s of backoff', () => {
  assert.equal(rejoinDelayMs(DEFAULT_GOSSIP_TIMINGS, 100), 5000);
});
