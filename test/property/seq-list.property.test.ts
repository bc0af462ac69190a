// SeqList (the fan-out index's per-client copy list) against a Map as the model: after any
// sequence of adds (mostly in seq order, some out of order or reusing a finished seq), removes
// (mostly oldest first, some anywhere), replacements and lookups (some of seqs not in the list),
// both hold the same items and numbers. Sequences run to hundreds of items so the compaction paths are taken.
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
  | { k: 'replace'; pick: number }
  | { k: 'stranger'; seq: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('next' as const), gap: fc.integer({ min: 1, max: 3 }) }), weight: 8 },
  { arbitrary: fc.record({ k: fc.constant('any' as const), seq: fc.nat({ max: 400 }) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('oldest' as const), n: fc.integer({ min: 1, max: 40 }) }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('pick' as const), pick: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ k: fc.constant('replace' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('stranger' as const), seq: fc.nat({ max: 400 }) }), weight: 1 },
);

/** The model's entry per seq: the item and its number. */
type Model = Map<number, { item: Item; aux: number }>;

function check(list: SeqList<Item>, model: Model, probes: number[]): void {
  const seqs = [...model.keys()].sort((a, b) => a - b);
  assert.deepEqual(list.liveSeqs(), seqs);
  assert.equal(list.size, model.size);
  for (const seq of probes) {
    const i = list.find(seq);
    const want = model.get(seq);
    if (want === undefined) assert.equal(i, -1, `find(${seq}) of no live item`);
    else assert.deepEqual([list.seq(i), list.item(i), list.aux(i)], [seq, want.item, want.aux], `find(${seq})`);
  }
}

test('SeqList holds what a Map keyed by seq holds, in seq order, through adds, removes, replacements and compaction', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 600, size: 'max' }), (steps) => {
      const list = new SeqList<Item>();
      const model: Model = new Map();
      let top = 0;
      let tag = 0;
      const remove = (seq: number): void => {
        list.removeAt(list.find(seq));
        model.delete(seq);
      };
      const add = (seq: number): void => {
        // The caller's duty, as the fan-out index does before a re-put.
        if (model.has(seq)) remove(seq);
        const item = { seq, tag: tag++ };
        list.add(seq, item, item.tag * 2);
        model.set(seq, { item, aux: item.tag * 2 });
        top = Math.max(top, seq);
      };
      const picked = (pick: number): number | undefined => {
        const seqs = [...model.keys()];
        return seqs.length === 0 ? undefined : seqs[pick % seqs.length];
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
            for (const seq of [...model.keys()].sort((a, b) => a - b).slice(0, s.n)) remove(seq);
            break;
          case 'pick': {
            const seq = picked(s.pick);
            if (seq !== undefined) remove(seq);
            break;
          }
          case 'replace': {
            const seq = picked(s.pick);
            if (seq === undefined) break;
            const item = { seq, tag: tag++ };
            list.replace(list.find(seq), item, -item.tag);
            model.set(seq, { item, aux: -item.tag });
            break;
          }
          case 'stranger':
            // A seq that may not be live: find() says so, and nothing changes.
            if (!model.has(s.seq)) assert.equal(list.find(s.seq), -1);
            break;
        }
        check(list, model, [s.k === 'any' || s.k === 'stranger' ? s.seq : top, top + 1, 0]);
      }
      check(list, model, Array.from({ length: top + 2 }, (_, i) => i));
    }),
    params,
  );
});
