import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RouteSync } from '../../../src/cluster/route-sync.js';

describe('RouteSync', () => {
  it('flush applies its own deltas and broadcasts them; refcounts hide repeat subscriptions', () => {
    const s = new RouteSync({ name: 'a', incarnation: 1 });
    s.subscribe('x/+');
    s.subscribe('x/+');
    s.unsubscribe('x/+');
    const effects = s.flush();
    assert.deepEqual(effects, [
      { kind: 'broadcast', message: { kind: 'route-delta', delta: { origin: 'a', incarnation: 1, seq: 1, adds: ['x/+'], removes: [] } } },
    ]);
    assert.deepEqual(s.match('x/1').nodes, ['a']);
    assert.deepEqual(s.flush(), []);
  });

  it('refuses deltas about itself, and fetches from the origin on a gap', () => {
    const s = new RouteSync({ name: 'a', incarnation: 1 });
    s.memberUp('b', 7);
    assert.deepEqual(s.receive('b', { kind: 'route-delta', delta: { origin: 'a', incarnation: 1, seq: 1, adds: ['evil'], removes: [] } }), []);
    assert.deepEqual(s.match('evil').nodes, []);
    const gap = s.receive('b', { kind: 'route-delta', delta: { origin: 'b', incarnation: 7, seq: 3, adds: ['y'], removes: [] } });
    assert.deepEqual(gap, [{ kind: 'fetch', from: 'b', origin: 'b' }]);
    // A second gap while the fetch is on its way asks nothing more.
    assert.deepEqual(s.receive('b', { kind: 'route-delta', delta: { origin: 'b', incarnation: 7, seq: 4, adds: [], removes: [] } }), []);
    // The answer is at seq 3, but seq 4 was seen meanwhile: the origin is asked again.
    assert.deepEqual(s.receiveSlice('b', { origin: 'b', incarnation: 7, lastSeq: 3, filters: ['y', 'z'] }), [
      { kind: 'fetch', from: 'b', origin: 'b' },
    ]);
    assert.deepEqual(s.receiveSlice('b', { origin: 'b', incarnation: 7, lastSeq: 4, filters: ['y', 'z'] }), []);
    assert.deepEqual(s.match('z').nodes, ['b']);
  });

  it('membership: up sends digests once, a newer incarnation purges the old, down purges at once', () => {
    const s = new RouteSync({ name: 'a', incarnation: 1 });
    const up = s.memberUp('b', 7);
    assert.equal(up.length, 1);
    assert.equal(up[0]!.kind, 'send');
    assert.deepEqual(s.memberUp('b', 7), []);
    s.receive('b', { kind: 'route-delta', delta: { origin: 'b', incarnation: 7, seq: 1, adds: ['y'], removes: [] } });
    s.memberUp('b', 8);
    assert.deepEqual(s.match('y').nodes, []);
    s.receiveSlice('b', { origin: 'b', incarnation: 7, lastSeq: 1, filters: ['y'] });
    assert.deepEqual(s.match('y').nodes, []);
    s.receive('b', { kind: 'route-delta', delta: { origin: 'b', incarnation: 8, seq: 1, adds: ['y'], removes: [] } });
    assert.deepEqual(s.match('y').nodes, ['b']);
    s.memberDown('b', 8);
    assert.deepEqual(s.match('y').nodes, []);
    assert.deepEqual(s.peers(), []);
    assert.equal(s.receive('b', { kind: 'route-delta', delta: { origin: 'b', incarnation: 8, seq: 2, adds: ['y'], removes: [] } }).length, 0);
    assert.deepEqual(s.match('y').nodes, []);
  });

  it('tick purges slices of nodes not live and broadcasts this node\'s digests', () => {
    const s = new RouteSync({ name: 'a', incarnation: 1 });
    // A delta from a node membership has not reported yet is applied (the transport admitted it)...
    s.receive('c', { kind: 'route-delta', delta: { origin: 'c', incarnation: 3, seq: 1, adds: ['q'], removes: [] } });
    assert.deepEqual(s.match('q').nodes, ['c']);
    // ...and purged by the next tick if membership still does not list it.
    const [effect] = s.tick();
    assert.deepEqual(s.match('q').nodes, []);
    assert.deepEqual(effect, { kind: 'broadcast', message: { kind: 'digests', set: { from: 'a', digests: [] } } });
  });
});
