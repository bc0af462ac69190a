import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isBehind, planPurge, planResync, sliceStillWanted } from '../../../src/cluster/anti-entropy.js';
import type { OriginDigest } from '../../../src/cluster/peer-messages.js';

function d(origin: string, incarnation: number, lastSeq: number, count = 1, hash = 'h'): OriginDigest {
  return { origin, incarnation, lastSeq, count, hash };
}

describe('anti-entropy decisions', () => {
  it('isBehind: a newer incarnation or a later sequence; same point differs only from the origin', () => {
    assert.equal(isBehind(null, d('a', 1, 3), false), true);
    assert.equal(isBehind(null, d('a', 1, 0, 0), false), false);
    assert.equal(isBehind(d('a', 1, 9), d('a', 2, 1), false), true);
    assert.equal(isBehind(d('a', 2, 1), d('a', 1, 9), true), false);
    assert.equal(isBehind(d('a', 1, 3), d('a', 1, 4), false), true);
    assert.equal(isBehind(d('a', 1, 4), d('a', 1, 3), false), false);
    assert.equal(isBehind(d('a', 1, 4, 1, 'x'), d('a', 1, 4, 1, 'y'), false), false);
    assert.equal(isBehind(d('a', 1, 4, 1, 'x'), d('a', 1, 4, 1, 'y'), true), true);
    assert.equal(isBehind(d('a', 1, 4), d('a', 1, 4), true), false);
  });

  it('planResync fetches from the advertiser, never its own slice nor a dead or other incarnation', () => {
    const mine = new Map([['b', d('b', 1, 2)], ['c', d('c', 1, 1)]]);
    const live = new Map([['self', 1], ['b', 1], ['c', 1], ['p', 3]]);
    const plan = planResync(
      'self',
      (o) => mine.get(o) ?? null,
      { from: 'p', digests: [d('self', 1, 99), d('b', 1, 5), d('c', 1, 1), d('dead', 1, 4), d('c', 0, 9), d('p', 3, 1)] },
      live,
    );
    assert.deepEqual(plan, [{ origin: 'b', from: 'p' }, { origin: 'p', from: 'p' }]);
    const fromDead = planResync('self', () => null, { from: 'ghost', digests: [d('b', 1, 5)] }, live);
    assert.deepEqual(fromDead, []);
  });

  it('planPurge drops slices of nodes not alive or alive as a newer incarnation, never its own', () => {
    const live = new Map([['self', 1], ['b', 2], ['c', 1]]);
    const plan = planPurge('self', [d('self', 1, 1), d('b', 1, 1), d('c', 1, 1), d('gone', 4, 1)], live);
    assert.deepEqual(plan, [{ origin: 'b', incarnation: 1 }, { origin: 'gone', incarnation: 4 }]);
  });

  it('sliceStillWanted checks the origin is alive at that incarnation when the answer lands', () => {
    const live = new Map([['self', 1], ['b', 2]]);
    assert.equal(sliceStillWanted('self', 'b', 2, live), true);
    assert.equal(sliceStillWanted('self', 'b', 1, live), false);
    assert.equal(sliceStillWanted('self', 'self', 1, live), false);
    assert.equal(sliceStillWanted('self', 'x', 1, live), false);
  });
});
