import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginThrottle } from '../../../src/auth/login-throttle.js';

const settings = { failures: 3, baseLockMs: 1000, maxLockMs: 4000, forgetMs: 60_000, maxAddresses: 2 };

test('locks an address out after N failures in a row, doubling up to the maximum', () => {
  const t = new LoginThrottle(settings);
  assert.equal(t.failed('a', 0), 0);
  assert.equal(t.failed('a', 1), 0);
  assert.equal(t.failed('a', 2), 1000);
  assert.deepEqual(t.check('a', 500), { locked: true, retryInMs: 502 });
  assert.deepEqual(t.check('b', 500), { locked: false }, 'other addresses are not affected');
  assert.deepEqual(t.check('a', 1002), { locked: false });
  for (const [now, lock] of [[1003, 0], [1004, 0], [1005, 2000], [3005, 0], [3006, 0], [3007, 4000], [7007, 0], [7008, 0], [7009, 4000]] as const) {
    assert.equal(t.failed('a', now), lock, `at ${now}`);
  }
});

test('a success resets the address; old failures are forgotten', () => {
  const t = new LoginThrottle(settings);
  t.failed('a', 0);
  t.failed('a', 1);
  t.succeeded('a');
  assert.equal(t.failed('a', 2), 0);
  assert.equal(t.failed('a', 3), 0);
  assert.equal(t.failed('a', 3 + 60_001), 0, 'the earlier two no longer count');
});

test('remembers at most maxAddresses addresses, dropping the least recently failing', () => {
  const t = new LoginThrottle(settings);
  for (const a of ['a', 'b', 'a', 'c']) t.failed(a, 0);
  assert.equal(t.size, 2);
  t.failed('a', 0);
  assert.deepEqual(t.check('a', 1), { locked: true, retryInMs: 999 }, "'a' was kept: it failed most recently");
});

test('failures 0 turns throttling off', () => {
  const t = new LoginThrottle({ ...settings, failures: 0 });
  for (let i = 0; i < 100; i++) assert.equal(t.failed('a', i), 0);
  assert.deepEqual(t.check('a', 100), { locked: false });
  assert.equal(t.size, 0);
});
