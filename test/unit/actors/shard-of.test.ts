// The client id → shard hash: stable, in range, and spread; the one-shard shortcut agrees with it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shardOf } from '../../../src/actors/supervisor.js';

test('shardOf is FNV-1a of the client id modulo the shard count (the cluster relies on the same value)', () => {
  // FNV-1a (32 bit) of "a" is the published test vector 0xe40c292c; other ids against a reference loop.
  assert.equal(shardOf('a', 7), 0xe40c292c % 7);
  const fnv = (s: string): number => {
    let h = 0x811c9dc5;
    for (const ch of s) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
    return h >>> 0;
  };
  for (const id of ['client-1', 'sensor/42', '', 'ünïcode']) for (const n of [2, 3, 8]) assert.equal(shardOf(id, n), fnv(id) % n, `${id} over ${n}`);
});

test('shardOf with one shard is always 0, and with several spreads ids over all of them', () => {
  for (const id of ['', 'a', 'client-1', 'x'.repeat(100)]) assert.equal(shardOf(id, 1), 0);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[shardOf(`client-${i}`, 4)]!++;
  for (const c of counts) assert.ok(c > 800 && c < 1200, `uneven spread: ${counts.join(', ')}`);
});
