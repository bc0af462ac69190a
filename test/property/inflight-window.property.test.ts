// InflightWindow (a session's sent, unfinished messages, src/actors/inflight-window.ts) against a
// plain array in send order as the model: after any sequence of adds under free packet ids,
// deletes (the oldest, any, or an id not inflight), lookups and export → import round trips
// (toArray, a structured clone, InflightWindow.from), both hold the same messages in the same
// order, and a second message under an inflight packet id is refused [MQTT-2.2.1-3].
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DuplicatePacketIdError, InflightWindow } from '../../src/actors/inflight-window.js';
import type { StoredMessage } from '../../src/storage/types.js';
import { propertyParams } from './harness.js';

const params = propertyParams();

type Step =
  | { k: 'add'; n: number }
  | { k: 'oldest' }
  | { k: 'pick'; pick: number }
  | { k: 'stranger'; id: number }
  | { k: 'reuse'; pick: number }
  | { k: 'roundTrip' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('add' as const), n: fc.integer({ min: 1, max: 40 }) }), weight: 5 },
  { arbitrary: fc.constant({ k: 'oldest' as const }), weight: 4 },
  { arbitrary: fc.record({ k: fc.constant('pick' as const), pick: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ k: fc.constant('stranger' as const), id: fc.integer({ min: 1, max: 65535 }) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('reuse' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.constant({ k: 'roundTrip' as const }), weight: 1 },
);

function sent(seq: number, packetId: number): StoredMessage {
  return { seq, state: seq % 4 === 0 ? 'released' : 'inflight', packetId, qos: seq % 4 === 0 ? 2 : 1, retain: false, subscriptionIds: [], message: { topic: `t/${seq}`, payload: new Uint8Array([1]), qos: 1, retain: false, publisherId: 'p' } };
}

function check(w: InflightWindow, model: StoredMessage[]): void {
  assert.equal(w.length, model.length);
  const items = w.toArray();
  assert.equal(items.length, model.length);
  for (let i = 0; i < items.length; i++) assert.equal(items[i], model[i], `message ${i} in send order`);
  assert.deepEqual([...w], items, 'iteration gives toArray');
  for (const m of model) {
    assert.equal(w.get(m.packetId!), m);
    assert.ok(w.has(m.packetId!));
  }
}

test('InflightWindow holds what an array in send order holds, through adds, deletes in any order, lookups and export/import', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 150 }), (steps) => {
      let w = new InflightWindow();
      let model: StoredMessage[] = [];
      let seq = 1;
      let nextId = 65500; // wraps past 65535 within a run, as a session's ids do
      for (const step of steps) {
        switch (step.k) {
          case 'add':
            for (let i = 0; i < step.n; i++) {
              let id = nextId;
              while (model.some((m) => m.packetId === id)) id = id >= 65535 ? 1 : id + 1;
              nextId = id >= 65535 ? 1 : id + 1;
              assert.equal(w.has(id), false);
              const m = sent(seq++, id);
              w.add(m);
              model.push(m);
            }
            break;
          case 'oldest': {
            const m = model.shift();
            if (m !== undefined) assert.equal(w.delete(m.packetId!), m);
            break;
          }
          case 'pick': {
            if (model.length === 0) break;
            const [m] = model.splice(step.pick % model.length, 1);
            assert.equal(w.delete(m!.packetId!), m);
            assert.equal(w.get(m!.packetId!), undefined);
            break;
          }
          case 'stranger':
            if (model.some((m) => m.packetId === step.id)) break;
            assert.equal(w.get(step.id), undefined);
            assert.equal(w.delete(step.id), undefined);
            break;
          case 'reuse': {
            if (model.length === 0) break;
            const taken = model[step.pick % model.length]!.packetId!;
            assert.throws(() => w.add(sent(seq, taken)), DuplicatePacketIdError);
            break;
          }
          case 'roundTrip': {
            const exported = structuredClone(w.toArray());
            assert.deepEqual(exported, model, 'the export is the messages in send order');
            w = InflightWindow.from(exported);
            model = exported;
            break;
          }
        }
        check(w, model);
      }
    }),
    params,
  );
});
