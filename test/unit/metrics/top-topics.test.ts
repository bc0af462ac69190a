import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TopTopics } from '../../../src/metrics/top-topics.js';

test('with every message sampled, counts are exact while the topics fit', () => {
  const t = new TopTopics(10, 1);
  for (let i = 0; i < 30; i++) t.offer('a');
  for (let i = 0; i < 20; i++) t.offer('b');
  t.offer('c');
  assert.deepEqual(t.top(2), [
    { topic: 'a', messages: 30, error: 0 },
    { topic: 'b', messages: 20, error: 0 },
  ]);
});

test('Misra-Gries: memory stays at capacity, counts are at most error below the truth, and a topic with more than total/(capacity+1) messages is always reported', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 800 }), fc.integer({ min: 2, max: 12 }), (stream, capacity) => {
      const t = new TopTopics(capacity, 1);
      const truth = new Map<string, number>();
      for (const n of stream) {
        const topic = `t/${n}`;
        t.offer(topic);
        truth.set(topic, (truth.get(topic) ?? 0) + 1);
      }
      const all = t.top(Number.MAX_SAFE_INTEGER);
      assert.ok(all.length <= capacity);
      for (const e of all) {
        const real = truth.get(e.topic)!;
        assert.ok(e.messages <= real && real - e.messages <= e.error, `${e.topic}: estimate ${e.messages} (error ${e.error}), real ${real}`);
      }
      for (const [topic, real] of truth) {
        if (real > stream.length / (capacity + 1)) assert.ok(all.some((e) => e.topic === topic), `${topic} with ${real} of ${stream.length} is reported`);
      }
    }),
  );
});

test('sampled: topics published round-robin are all seen, each estimated near its share', () => {
  const t = new TopTopics(100, 16);
  for (let i = 0; i < 160_000; i++) t.offer(`rr/${i % 16}`);
  const top = t.top(16);
  assert.equal(top.length, 16);
  for (const e of top) assert.ok(Math.abs(e.messages - 10_000) < 1_500, `${e.topic}: ${e.messages}`);
  assert.throws(() => new TopTopics(10, 3), /power of two/);
});
