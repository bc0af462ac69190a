// The backoff of re-syncs with seeds and down members (src/cluster/rejoin-schedule.ts): soon at
// first, doubling, capped, so a healed partition is found within the cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_GOSSIP_TIMINGS } from '../../../src/cluster/membership.js';
import { RejoinSchedule, rejoinDelayMs } from '../../../src/cluster/rejoin-schedule.js';

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

test('the schedule contacts a new candidate at once, then on the backoff, and logs attempts 1, 2, 4', () => {
  const s = new RejoinSchedule({ seedRetryMs: 1000, rejoinIntervalMs: 5000 });
  const c = new Set(['a:1']);
  const at = (now: number): [string[], number[]] => {
    const { hosts, milestones } = s.due(c, now);
    return [hosts, milestones.map((m) => m.attempt)];
  };
  assert.deepEqual(at(0), [['a:1'], [1]]);
  assert.deepEqual(at(999), [[], []]);
  assert.deepEqual(at(1000), [['a:1'], [2]]); // next in 2000
  assert.deepEqual(at(2999), [[], []]);
  assert.deepEqual(at(3000), [['a:1'], []]); // attempt 3, next in 4000
  assert.deepEqual(at(7000), [['a:1'], [4]]); // next in 5000 (the cap)
  assert.deepEqual(at(11_999), [[], []]);
  assert.deepEqual(at(12_000), [['a:1'], []]);
});

test('an address that became live starts over when it is a candidate again', () => {
  const s = new RejoinSchedule({ seedRetryMs: 1000, rejoinIntervalMs: 5000 });
  s.due(new Set(['a:1']), 0);
  s.due(new Set(['a:1']), 1000);
  assert.deepEqual(s.due(new Set(), 2000).hosts, []);
  const again = s.due(new Set(['a:1']), 2500);
  assert.deepEqual([again.hosts, again.milestones.map((m) => [m.attempt, m.nextInMs])], [['a:1'], [[1, 1000]]]);
});
