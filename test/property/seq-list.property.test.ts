// SeqList (the fan-out index's per-client copy list) against a Map as the model: after any
// sequence of adds (mostly in seq order, some out of order or reusing a finished seq), deletes
// (mostly oldest first, some anywhere, some of items not in the list) and lookups, both hold the
// same items. Sequences run to hundreds of items so the compaction paths are taken.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SeqList } from '../../src/storage/seq-list.js';
import { propertyParams } from './harness.js';

const params = propertyParams();

interface Item {
  readonly seq: number;
  readonly tag: number;
}

type Step =
  | { k: 'next'; gap: number }
  | { k: 'any'; seq: number }
  | { k: 'oldest'; n: number }
  | { k: 'pick'; pick: number }
  | { k: 'stranger'; seq: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('next' as const), gap: fc.integer({ min: 1, max: 3 }) }), weight: 8 },
  { arbitrary: fc.record({ k: fc.constant('any' as const), seq: fc.nat({ max: 400 }) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('oldest' as const), n: fc.integer({ min: 1, max: 40 }) }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('pick' as const), pick: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ k: fc.constant('stranger' as const), seq: fc.nat({ max: 400 }) }), weight: 1 },
);

function check(list: SeqList<Item>, model: Map<number, Item>, probes: number[]): void {
  const sorted = [...model.values()].sort((a, b) => a.seq - b.seq);
  assert.deepEqual([...list.values()], sorted);
  assert.equal(list.size, model.size);
  for (const seq of probes) assert.equal(list.get(seq), model.get(seq), `get(${seq})`);
}

test('SeqList holds what a Map keyed by seq holds, in seq order, through adds, deletes and compaction', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 600, size: 'max' }), (steps) => {
      const list = new SeqList<Item>();
      const model = new Map<number, Item>();
      let top = 0;
      let tag = 0;
      const add = (seq: number): void => {
        const earlier = model.get(seq);
        if (earlier !== undefined) {
          list.delete(earlier); // the caller's duty, as the fan-out index does before a re-put
          model.delete(seq);
        }
        const item = { seq, tag: tag++ };
        list.add(item);
        model.set(seq, item);
        top = Math.max(top, seq);
      };
      for (const s of steps) {
        switch (s.k) {
          case 'next':
            add(top + s.gap);
            break;
          case 'any':
            add(s.seq);
            break;
          case 'oldest':
            for (const item of [...model.values()].sort((a, b) => a.seq - b.seq).slice(0, s.n)) {
              list.delete(item);
              model.delete(item.seq);
            }
            break;
          case 'pick': {
            const items = [...model.values()];
            if (items.length === 0) break;
            const item = items[s.pick % items.length]!;
            list.delete(item);
            model.delete(item.seq);
            break;
          }
          case 'stranger':
            // An item that is not the live one for its seq: deleting it changes nothing.
            list.delete({ seq: s.seq, tag: -1 });
            break;
        }
        check(list, model, [s.k === 'any' || s.k === 'stranger' ? s.seq : top, top + 1, 0]);
      }
      check(list, model, Array.from({ length: top + 2 }, (_, i) => i));
    }),
    params,
  );
});

