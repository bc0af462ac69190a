// MessageQueue (a session's queue, src/actors/message-queue.ts) against a plain array as the
// model: after any sequence of pushes (in seq order, some with a message expiry), shifts, evictions
// of the oldest QoS 0 message, expiry purges and export → import round trips (toArray, a structured
// clone as takeover would ship it, MessageQueue.from), both hold the same messages in the same
// order, and every removal returns what the array says it should. Bursts of pushes and removals
// take the queue to hundreds of messages, so the head skipping, the compactions and the heap
// pruning all run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MessageQueue } from '../../src/actors/message-queue.js';
import type { QoS } from '../../src/protocol/message.js';
import type { StoredMessage } from '../../src/storage/types.js';
import { propertyParams } from './harness.js';

const params = propertyParams();

type Step =
  | { k: 'push'; n: number; qos: QoS; expiry: number | null }
  | { k: 'shift'; n: number }
  | { k: 'evict'; n: number }
  | { k: 'purge'; now: number }
  | { k: 'roundTrip' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      k: fc.constant('push' as const),
      n: fc.integer({ min: 1, max: 80 }),
      qos: fc.constantFrom<QoS>(0, 1, 2),
      expiry: fc.option(fc.integer({ min: 0, max: 1000 })),
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ k: fc.constant('shift' as const), n: fc.integer({ min: 1, max: 80 }) }), weight: 4 },
  { arbitrary: fc.record({ k: fc.constant('evict' as const), n: fc.integer({ min: 1, max: 40 }) }), weight: 3 },
  { arbitrary: fc.record({ k: fc.constant('purge' as const), now: fc.integer({ min: 0, max: 1000 }) }), weight: 2 },
  { arbitrary: fc.constant({ k: 'roundTrip' as const }), weight: 1 },
);

function message(seq: number, qos: QoS, expiresAt: number | null): StoredMessage {
  const m: StoredMessage['message'] = { topic: `t/${seq}`, payload: new Uint8Array([seq & 0xff]), qos, retain: false, publisherId: 'p' };
  if (expiresAt !== null) m.expiresAt = expiresAt;
  return { seq, state: 'queued', packetId: null, qos, retain: false, subscriptionIds: [], message: m };
}

const expired = (m: StoredMessage, now: number): boolean => m.message.expiresAt !== undefined && m.message.expiresAt <= now;

function check(q: MessageQueue, model: StoredMessage[]): void {
  assert.equal(q.length, model.length);
  const items = q.toArray();
  assert.equal(items.length, model.length);
  for (let i = 0; i < items.length; i++) assert.equal(items[i], model[i], `message ${i} is the model's`);
  assert.deepEqual([...q].map((m) => m.seq), model.map((m) => m.seq), 'iteration gives toArray');
  assert.equal(q.peek(), items[0]);
}

test('MessageQueue holds what an array holds, in order, through pushes, shifts, QoS 0 evictions, expiry purges and export/import', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 120 }), fc.integer({ min: 1, max: 5 }), (steps, firstSeq) => {
      let q = new MessageQueue();
      let model: StoredMessage[] = [];
      let seq = firstSeq;
      for (const step of steps) {
        switch (step.k) {
          case 'push':
            for (let i = 0; i < step.n; i++) {
              const m = message(seq, step.qos, step.expiry === null ? null : step.expiry + i);
              seq += 1 + (i % 3); // seqs increase, with gaps (other sessions' shared copies)
              q.push(m);
              model.push(m);
            }
            break;
          case 'shift':
            for (let i = 0; i < step.n; i++) {
              assert.equal(q.shift(), model.shift());
            }
            break;
          case 'evict':
            for (let i = 0; i < step.n; i++) {
              const at = model.findIndex((m) => m.qos === 0);
              const want = at < 0 ? undefined : model.splice(at, 1)[0];
              assert.equal(q.removeOldestQos0(), want, 'the oldest QoS 0 message');
            }
            break;
          case 'purge': {
            const want = model.filter((m) => expired(m, step.now));
            model = model.filter((m) => !expired(m, step.now));
            const got = q.removeExpired(step.now);
            assert.equal(got.length, want.length, 'the expired messages');
            got.forEach((m, i) => assert.equal(m, want[i], 'the expired messages, in queue order'));
            break;
          }
          case 'roundTrip': {
            const exported = structuredClone(q.toArray());
            assert.deepEqual(exported, model, 'the export is the messages in order');
            // A structured clone, as takeover ships it: both continue with the clones.
            q = MessageQueue.from(exported);
            model = exported;
            break;
          }
        }
        check(q, model);
      }
      // Drained to the end, in order, whatever happened before.
      const rest: StoredMessage[] = [];
      for (let m = q.shift(); m !== undefined; m = q.shift()) rest.push(m);
      assert.deepEqual(rest.map((m) => m.seq), model.map((m) => m.seq));
      assert.equal(q.length, 0);
      assert.equal(q.peek(), undefined);
    }),
    params,
  );
});

test('MessageQueue: a purge after many messages with an expiry left by other ways finds exactly the expired ones', () => {
  // The heap keeps messages that left by a shift or an eviction until it prunes them: a deep
  // queue whose expiring messages mostly drained must still purge exactly the live expired ones.
  const q = new MessageQueue();
  const model: StoredMessage[] = [];
  for (let seq = 1; seq <= 5000; seq++) {
    const m = message(seq, seq % 2 === 0 ? 0 : 1, seq % 5 === 0 ? seq : null);
    q.push(m);
    model.push(m);
    if (seq % 3 === 0) assert.equal(q.shift(), model.shift());
    if (seq % 7 === 0) {
      const at = model.findIndex((x) => x.qos === 0);
      assert.equal(q.removeOldestQos0(), model.splice(at, 1)[0]);
    }
  }
  const want = model.filter((m) => expired(m, 4000)).map((m) => m.seq);
  assert.ok(want.length > 0);
  assert.deepEqual(q.removeExpired(4000).map((m) => m.seq), want);
  assert.deepEqual(q.toArray(), model.filter((m) => !expired(m, 4000)));
});
