import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RouteOutbox } from '../../../src/cluster/route-outbox.js';

describe('RouteOutbox', () => {
  it('numbers deltas from 1 and tags them with origin and incarnation', () => {
    const o = new RouteOutbox('n1', 42);
    assert.equal(o.take(), null);
    o.add('a');
    o.remove('b');
    assert.deepEqual(o.take(), { origin: 'n1', incarnation: 42, seq: 1, adds: ['a'], removes: ['b'] });
    o.add('c');
    assert.equal(o.take()!.seq, 2);
    assert.equal(o.lastSeq, 2);
    assert.equal(o.take(), null);
    assert.equal(o.lastSeq, 2);
  });

  it('cancels an add followed by a remove, and a remove followed by an add', () => {
    const o = new RouteOutbox('n1', 1);
    o.add('a');
    o.remove('a');
    o.remove('b');
    o.add('b');
    assert.equal(o.size, 0);
    assert.equal(o.take(), null);
    o.add('a');
    o.remove('a');
    o.add('a');
    assert.deepEqual(o.take()!.adds, ['a']);
  });

  it('cuts batches at maxBatch, oldest changes first', () => {
    const o = new RouteOutbox('n1', 1, 2);
    for (const f of ['a', 'b', 'c', 'd', 'e']) o.add(f);
    assert.deepEqual(o.take()!.adds, ['a', 'b']);
    assert.deepEqual(o.take()!.adds, ['c', 'd']);
    const last = o.take()!;
    assert.deepEqual([last.seq, last.adds], [3, ['e']]);
  });

  it('refuses a batch size below 1', () => {
    assert.throws(() => new RouteOutbox('n1', 1, 0), /batch size must be an integer >= 1/);
  });
});
