import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RouteTable } from '../../../src/cluster/route-table.js';
import { digestOf } from '../../../src/cluster/route-digest.js';
import type { RouteDelta } from '../../../src/cluster/peer-messages.js';

function delta(origin: string, incarnation: number, seq: number, adds: string[], removes: string[] = []): RouteDelta {
  return { origin, incarnation, seq, adds, removes };
}

const sorted = (xs: readonly string[]): string[] => [...xs].sort();

describe('RouteTable', () => {
  it('applies deltas in order, once: a redelivered delta is a duplicate and changes nothing', () => {
    const t = new RouteTable();
    assert.equal(t.apply(delta('a', 1, 1, ['x/+', 'y'])), 'applied');
    assert.equal(t.apply(delta('a', 1, 2, ['z'], ['y'])), 'applied');
    assert.equal(t.apply(delta('a', 1, 1, ['x/+', 'y'])), 'duplicate');
    assert.equal(t.apply(delta('a', 1, 2, ['z'], ['y'])), 'duplicate');
    assert.deepEqual(sorted(t.sliceOf('a')!.filters), ['x/+', 'z']);
    assert.equal(t.digest('a')!.lastSeq, 2);
  });

  it('reports a gap instead of applying a delta out of order', () => {
    const t = new RouteTable();
    assert.equal(t.apply(delta('a', 1, 2, ['x'])), 'gap');
    assert.equal(t.sliceOf('a')!.filters.length, 0);
    assert.equal(t.apply(delta('a', 1, 1, ['y'])), 'applied');
    assert.equal(t.apply(delta('a', 1, 2, ['x'])), 'applied');
    assert.deepEqual(t.match('x').nodes, ['a']);
  });

  it('purges an origin when a newer incarnation appears and refuses the older one afterwards', () => {
    const t = new RouteTable();
    t.apply(delta('a', 1, 1, ['old']));
    assert.equal(t.apply(delta('a', 2, 1, ['new'])), 'applied');
    assert.deepEqual(t.match('old').nodes, []);
    assert.deepEqual(t.match('new').nodes, ['a']);
    assert.equal(t.apply(delta('a', 1, 2, ['late'])), 'stale');
    assert.equal(t.replaceOrigin({ origin: 'a', incarnation: 1, lastSeq: 9, filters: ['late'] }), false);
    assert.deepEqual(t.match('late').nodes, []);
  });

  it('removeOrigin purges and keeps a dead incarnation out until membership readmits it', () => {
    const t = new RouteTable();
    t.apply(delta('a', 5, 1, ['x']));
    t.apply(delta('b', 1, 1, ['x']));
    assert.equal(t.removeOrigin('a', 5), true);
    assert.deepEqual(t.match('x').nodes, ['b']);
    assert.equal(t.apply(delta('a', 5, 2, ['x'])), 'stale');
    assert.equal(t.apply(delta('a', 4, 1, ['x'])), 'stale');
    t.readmit('a', 5);
    assert.equal(t.replaceOrigin({ origin: 'a', incarnation: 5, lastSeq: 2, filters: ['x'] }), true);
    assert.deepEqual(sorted(t.match('x').nodes), ['a', 'b']);
    assert.equal(t.apply(delta('a', 4, 1, ['x'])), 'stale');
    // A purge of an older incarnation leaves the newer slice alone.
    assert.equal(t.removeOrigin('a', 3), false);
    assert.deepEqual(sorted(t.match('x').nodes), ['a', 'b']);
  });

  it('replaceOrigin installs a full slice, ignoring an older point of the same incarnation', () => {
    const t = new RouteTable();
    t.apply(delta('a', 1, 1, ['p', 'q']));
    t.apply(delta('a', 1, 2, ['r']));
    assert.equal(t.replaceOrigin({ origin: 'a', incarnation: 1, lastSeq: 1, filters: ['p'] }), false);
    assert.equal(t.replaceOrigin({ origin: 'a', incarnation: 1, lastSeq: 4, filters: ['q', 's'] }), true);
    assert.deepEqual(sorted(t.sliceOf('a')!.filters), ['q', 's']);
    assert.deepEqual(t.match('p').nodes, []);
    assert.equal(t.apply(delta('a', 1, 5, ['t'])), 'applied');
  });

  it('matches with the local router semantics: + and #, $ topics, one entry per node', () => {
    const t = new RouteTable();
    t.apply(delta('a', 1, 1, ['sport/#', '+/tennis', '$SYS/#']));
    t.apply(delta('b', 1, 1, ['#', 'sport/tennis']));
    assert.deepEqual(sorted(t.match('sport/tennis').nodes), ['a', 'b']);
    assert.deepEqual(sorted(t.match('sport').nodes), ['a', 'b']); // sport/# matches its parent [MQTT-4.7.1-2]
    assert.deepEqual(t.match('$SYS/x').nodes, ['a']); // # at the first level skips $ topics [MQTT-4.7.2-1]
    assert.deepEqual(t.match('news').nodes, ['b']);
  });

  it('keeps shared groups apart from plain routes, with the nodes holding members', () => {
    const t = new RouteTable();
    t.apply(delta('a', 1, 1, ['$share/g/s/+', '$share/h/s/+']));
    t.apply(delta('b', 1, 1, ['$share/g/s/+']));
    const m = t.match('s/1');
    assert.deepEqual(m.nodes, []);
    const groups = m.groups.map((g) => [g.share, sorted(g.nodes)]).sort();
    assert.deepEqual(groups, [['$share/g/s/+', ['a', 'b']], ['$share/h/s/+', ['a']]]);
    t.apply(delta('a', 1, 2, [], ['$share/g/s/+', '$share/h/s/+']));
    assert.deepEqual(t.match('s/1').groups, [{ share: '$share/g/s/+', nodes: ['b'] }]);
  });

  it('digests track the slice incrementally and equal a digest computed from scratch', () => {
    const t = new RouteTable();
    t.apply(delta('a', 7, 1, ['a', 'b', 'c']));
    t.apply(delta('a', 7, 2, ['d'], ['b']));
    const d = t.digest('a')!;
    assert.deepEqual(d, { origin: 'a', incarnation: 7, lastSeq: 2, count: 3, hash: digestOf(['d', 'c', 'a']) });
    assert.notEqual(d.hash, digestOf(['a', 'b', 'c']));
    assert.equal(t.digest('zz'), null);
  });

  it('ignores invalid filters from a peer and counts them', () => {
    const t = new RouteTable();
    t.apply(delta('a', 1, 1, ['ok', 'bad/#/x', '']));
    assert.deepEqual(t.sliceOf('a')!.filters, ['ok']);
    assert.equal(t.invalidFilters, 2);
    assert.equal(t.size, 1);
  });
});
