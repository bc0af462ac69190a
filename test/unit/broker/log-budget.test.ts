import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogBudget } from '../../../src/broker/log-budget.js';

test('a log budget writes N lines per name and window, then counts what it left out', () => {
  const b = new LogBudget(3, 1000);
  assert.deepEqual([0, 1, 2, 3, 4].map(() => b.take('session.subscribe.quota', 10_000)), [0, 0, 0, null, null]);
  // Another name has its own budget.
  assert.equal(b.take('session.subscribe.invalid', 10_500), 0);
  assert.equal(b.take('session.subscribe.quota', 10_999), null);
  // A new window: the first line written reports the 3 left out.
  assert.equal(b.take('session.subscribe.quota', 11_000), 3);
  assert.equal(b.take('session.subscribe.quota', 11_001), 0);
});
