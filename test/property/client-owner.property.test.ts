// Client-id ownership by rendezvous hashing (src/cluster/client-owner.ts): nodes with the same
// member view agree whatever order they list it in; removing a member moves only the ids it
// owned; adding one moves only ids to the new member, about 1/n of them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clientOwner, ownerScore, type OwnerCandidate } from '../../src/cluster/client-owner.js';
import { propertyParams } from './harness.js';

const memberArb: fc.Arbitrary<OwnerCandidate> = fc.record({
  name: fc.string({ minLength: 1, maxLength: 12 }),
  incarnation: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
});
/** 1-8 members with distinct names (a name is unique in the cluster). */
const viewArb = fc.uniqueArray(memberArb, { minLength: 1, maxLength: 8, selector: (m) => m.name });
const clientIdsArb = fc.uniqueArray(fc.string({ maxLength: 23 }), { minLength: 1, maxLength: 200 });

function owners(view: readonly OwnerCandidate[], ids: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const id of ids) m.set(id, clientOwner(view, id)!.name);
  return m;
}

describe('client-id owner (rendezvous hashing)', () => {
  it('nodes with the same member view pick the same owner, in any order of the view', () => {
    fc.assert(
      fc.property(viewArb, clientIdsArb, fc.integer(), (view, ids, seed) => {
        // Another node's view: the same members, listed in another order, as other objects.
        const shuffled = view.map((m) => ({ ...m })).sort((a, b) => ((ownerScore(a, String(seed)) - ownerScore(b, String(seed))) || (a.name < b.name ? -1 : 1)));
        const here = owners(view, ids);
        const there = owners(shuffled, ids);
        assert.deepEqual(there, here);
        for (const [, owner] of here) assert.ok(view.some((m) => m.name === owner), 'the owner is a member');
      }),
      propertyParams(),
    );
  });

  it('removing a member moves only the client ids it owned', () => {
    fc.assert(
      fc.property(viewArb.filter((v) => v.length >= 2), clientIdsArb, fc.nat(), (view, ids, pick) => {
        const gone = view[pick % view.length]!;
        const after = view.filter((m) => m !== gone);
        const before = owners(view, ids);
        const now = owners(after, ids);
        for (const id of ids) {
          if (before.get(id) !== gone.name) assert.equal(now.get(id), before.get(id), `${JSON.stringify(id)} moved though its owner stayed`);
          else assert.notEqual(now.get(id), gone.name);
        }
      }),
      propertyParams(),
    );
  });

  it('adding a member moves ids only to it, about 1/n of them', () => {
    fc.assert(
      fc.property(viewArb.filter((v) => v.length < 8), memberArb, (view, joining) => {
        fc.pre(!view.some((m) => m.name === joining.name));
        const ids = Array.from({ length: 2000 }, (_, i) => `client-${i}`);
        const before = owners(view, ids);
        const now = owners([...view, joining], ids);
        let moved = 0;
        for (const id of ids) {
          if (now.get(id) === before.get(id)) continue;
          assert.equal(now.get(id), joining.name, 'an id moved to a member other than the new one');
          moved++;
        }
        // Expected 2000/n; a binomial with p = 1/n over 2000 ids stays well within half to double
        // of that (the 32-bit score behaves as a uniform draw; a biased hash fails here).
        const expected = ids.length / (view.length + 1);
        assert.ok(moved > expected / 2 && moved < expected * 2, `${moved} of ${ids.length} moved to member ${view.length + 1}, expected ~${Math.round(expected)}`);
      }),
      { ...propertyParams(), numRuns: Math.min(propertyParams().numRuns, 50) },
    );
  });

  it('a restarted member (new incarnation) gets a fresh draw, and an empty view owns nothing', () => {
    assert.equal(clientOwner([], 'c'), null);
    const ids = Array.from({ length: 1000 }, (_, i) => `c${i}`);
    const a1 = { name: 'a', incarnation: 1 };
    const a2 = { name: 'a', incarnation: 2 };
    const b = { name: 'b', incarnation: 1 };
    const first = owners([a1, b], ids);
    const second = owners([a2, b], ids);
    let changed = 0;
    for (const id of ids) if (first.get(id) !== second.get(id)) changed++;
    assert.ok(changed > 100, `only ${changed} of 1000 ids changed owner with a's new incarnation`);
  });
});
