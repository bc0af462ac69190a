import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRoutes } from '../../../src/cluster/local-routes.js';

describe('LocalRoutes', () => {
  it('reports only the 0 -> 1 and 1 -> 0 transitions of a filter', () => {
    const r = new LocalRoutes();
    assert.equal(r.add('a/+'), true);
    assert.equal(r.add('a/+'), false);
    assert.equal(r.add('$share/g/a/+'), true);
    assert.equal(r.count('a/+'), 2);
    assert.equal(r.remove('a/+'), false);
    assert.equal(r.remove('a/+'), true);
    assert.equal(r.count('a/+'), 0);
    assert.deepEqual([...r.filters()], ['$share/g/a/+']);
    assert.equal(r.size, 1);
  });

  it('ignores a remove without an add instead of going negative', () => {
    const r = new LocalRoutes();
    assert.equal(r.remove('x'), false);
    assert.equal(r.add('x'), true);
    assert.equal(r.count('x'), 1);
  });
});
