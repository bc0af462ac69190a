import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTrie, type TrieVisitor } from '../../../src/routing/topic-trie.js';
import { ReentrantMatchError } from '../../../src/routing/errors.js';

class Collect<V> implements TrieVisitor<V> {
  hits: string[] = [];
  visit(key: string, _value: V, filter: string): void {
    this.hits.push(`${filter}|${key}`);
  }
}

function matches(filter: string, topic: string): boolean {
  const trie = new TopicTrie<number>();
  trie.set(filter, 'k', 1);
  const c = new Collect<number>();
  trie.match(topic, c);
  return c.hits.length === 1;
}

describe('TopicTrie matching (MQTT 4.7)', () => {
  const cases: Array<[filter: string, topic: string, expected: boolean]> = [
    // §4.7.1.2 multi-level wildcard examples
    ['sport/tennis/player1/#', 'sport/tennis/player1', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
    ['sport/#', 'sport', true],
    ['sport/tennis/#', 'sport/tennis', true],
    ['sport/tennis/#', 'sport/tennisX', false],
    ['sport/tennis/#', 'sport', false],
    ['#', 'sport/tennis', true],
    ['#', '/', true],
    // §4.7.1.3 single-level wildcard examples
    ['sport/tennis/+', 'sport/tennis/player1', true],
    ['sport/tennis/+', 'sport/tennis/player2', true],
    ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
    ['sport/+', 'sport', false],
    ['sport/+', 'sport/', true],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['+', '/finance', false],
    ['+', 'finance', true],
    ['+', '', true],
    ['+/tennis/#', 'sport/tennis', true],
    ['+/#', 'a', true],
    ['a/+/c', 'a//c', true],
    ['a//c', 'a//c', true],
    ['a//c', 'a/c', false],
    ['a/b', 'a/b/', false],
    ['a/b/', 'a/b/', true],
    // §4.7.2 topics beginning with $ [MQTT-4.7.2-1]
    ['#', '$SYS/x', false],
    ['+/monitor/Clients', '$SYS/monitor/Clients', false],
    ['+', '$SYS', false],
    ['+/#', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['$SYS/#', '$SYS', true],
    ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
    ['a/#', 'a/$SYS', true],
    ['a/+', 'a/$x', true],
    // case sensitivity and exact levels
    ['ACCOUNTS', 'Accounts', false],
    ['a/b', 'a/b', true],
    ['a/b', 'a', false],
  ];
  for (const [filter, topic, expected] of cases) {
    it(`${filter} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(topic)}`, () => {
      assert.equal(matches(filter, topic), expected);
    });
  }

  it('visits every matching (filter, key) exactly once with its value', () => {
    const trie = new TopicTrie<string>();
    trie.set('a/b', 'x', 'v1');
    trie.set('a/b', 'y', 'v2');
    trie.set('a/+', 'x', 'v3');
    trie.set('#', 'z', 'v4');
    trie.set('a/#', 'x', 'v5');
    trie.set('a/c', 'x', 'v6');
    const seen: string[] = [];
    trie.match('a/b', { visit: (k, v, f) => seen.push(`${f}|${k}|${v}`) });
    assert.deepEqual(seen.sort(), ['#|z|v4', 'a/#|x|v5', 'a/+|x|v3', 'a/b|x|v1', 'a/b|y|v2']);
  });
});

describe('TopicTrie bookkeeping', () => {
  it('set reports new entries, replaces values, get reads them', () => {
    const trie = new TopicTrie<number>();
    assert.equal(trie.set('a/+', 'k', 1), true);
    assert.equal(trie.set('a/+', 'k', 2), false);
    assert.equal(trie.set('a/+', 'j', 3), true);
    assert.equal(trie.get('a/+', 'k'), 2);
    assert.equal(trie.get('a/+', 'nope'), undefined);
    assert.equal(trie.get('a/b', 'k'), undefined);
    assert.equal(trie.size, 2);
  });

  it('delete reports existence and prunes empty nodes back to the root', () => {
    const trie = new TopicTrie<number>();
    assert.equal(trie.nodeCount(), 1);
    trie.set('a/b/c', 'k', 1);
    trie.set('a/+/#', 'k', 1);
    trie.set('a', 'k', 1);
    // root, a, b, c, +, #
    assert.equal(trie.nodeCount(), 6);
    assert.equal(trie.delete('a/b/c', 'other'), false);
    assert.equal(trie.delete('a/b/x', 'k'), false);
    assert.equal(trie.delete('a/b/c', 'k'), true);
    assert.equal(trie.delete('a/b/c', 'k'), false);
    assert.equal(trie.nodeCount(), 4);
    assert.equal(trie.delete('a', 'k'), true);
    assert.equal(trie.nodeCount(), 4, 'a still has children');
    assert.equal(trie.delete('a/+/#', 'k'), true);
    assert.equal(trie.nodeCount(), 1);
    assert.equal(trie.size, 0);
  });

  it('keeps entries of an inner node when a deeper filter is removed', () => {
    const trie = new TopicTrie<number>();
    trie.set('a', 'k', 1);
    trie.set('a/b', 'k', 2);
    trie.delete('a/b', 'k');
    assert.equal(trie.nodeCount(), 2);
    assert.equal(matches2(trie, 'a'), 'a|k');
  });

  it('swap-removal keeps the remaining entries of a node intact', () => {
    const trie = new TopicTrie<number>();
    for (let i = 0; i < 5; i++) trie.set('t', `k${i}`, i);
    trie.delete('t', 'k1');
    trie.delete('t', 'k4');
    assert.deepEqual(sorted([...trie.entries()]), [['t', 'k0', 0], ['t', 'k2', 2], ['t', 'k3', 3]]);
    assert.equal(trie.get('t', 'k3'), 3);
    trie.set('t', 'k3', 33);
    assert.equal(trie.get('t', 'k3'), 33);
  });

  it('entries lists every (filter, key, value)', () => {
    const trie = new TopicTrie<number>();
    trie.set('#', 'a', 1);
    trie.set('+/x', 'b', 2);
    trie.set('/', 'c', 3);
    trie.set('', 'd', 4);
    assert.deepEqual(sorted([...trie.entries()]), sorted([['', 'd', 4], ['#', 'a', 1], ['+/x', 'b', 2], ['/', 'c', 3]]));
  });

  it('refuses to be changed or re-entered from inside a visitor', () => {
    const trie = new TopicTrie<number>();
    trie.set('a', 'k', 1);
    assert.throws(() => trie.match('a', { visit: () => trie.delete('a', 'k') }), ReentrantMatchError);
    assert.throws(() => trie.match('a', { visit: () => trie.match('a', new Collect()) }), ReentrantMatchError);
    // ... and is usable afterwards.
    assert.equal(matches2(trie, 'a'), 'a|k');
  });

  it('reuses its level scratch correctly between topics of different depth', () => {
    const trie = new TopicTrie<number>();
    trie.set('a/b/c/d', 'deep', 1);
    trie.set('a/b', 'short', 1);
    assert.equal(matches2(trie, 'a/b/c/d'), 'a/b/c/d|deep');
    assert.equal(matches2(trie, 'a/b'), 'a/b|short');
  });
});

function matches2(trie: TopicTrie<number>, topic: string): string {
  const c = new Collect<number>();
  trie.match(topic, c);
  return c.hits.sort().join(',');
}

function sorted<T>(rows: T[]): T[] {
  return rows.map((r) => JSON.stringify(r)).sort().map((r) => JSON.parse(r) as T);
}
