// Route replication over a faulty network: the seeded simulator (test/helpers/cluster-sim.ts)
// runs the real RouteSync, RouteTable, LocalRoutes, RouteOutbox and anti-entropy decisions on 2-5
// nodes through generated subscribes, unsubscribes, crashes, restarts (new incarnation) and
// partitions, over a network that drops, duplicates, delays and reorders. Properties:
// 1. after the faults stop, every live node's table equals the union of every live node's local
//    subscriptions within CONVERGENCE_BOUND rounds, and stays so; and at every round, every slice a
//    node holds is exactly what its origin held at the sequence number the slice claims;
// 2. no route of a dead incarnation survives: a node never again holds a slice of an incarnation
//    its membership told it is dead (unless told it is alive again), and at the end holds none;
// 3. a message forwarded under the final table reaches exactly the nodes with a matching local
//    subscription, and each matching shared group's chosen node holds a member of that group;
// and, without anti-entropy on a network that loses nothing, deltas and gap fetches alone converge.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ClusterSim, TICK_EVERY, type SimEvent } from '../helpers/cluster-sim.js';
import { parseSharedFilter } from '../../src/routing/topic.js';
import { propertyParams } from './harness.js';
import { refMatches } from '../helpers/topic-reference.js';

const FILTERS = ['a', 'a/b', 'a/+', 'a/#', '#', '+/b', '+', '$SYS/#', '$SYS/+', '$share/g/a/+', '$share/g/#', '$share/h/a/b'];
const TOPICS = ['a', 'a/b', 'x/b', 'a/b/c', 'b', '$SYS/x', '$SYS/x/y'];
const MAX_DELAY = 3;
/**
 * Rounds after the faults stop within which every table must be right: messages still in flight
 * land (MAX_DELAY), then up to two repair cycles, each a tick (TICK_EVERY) plus digest, fetch and
 * answer in flight (3 × (MAX_DELAY + 1)). A second cycle covers a slice first fetched from a peer
 * that was itself still behind.
 */
const CONVERGENCE_BOUND = 1 + MAX_DELAY + 2 * (TICK_EVERY + 3 * (MAX_DELAY + 1));

const node = fc.nat(4);
const client = fc.nat(3);
const filter = fc.constantFrom(...FILTERS);
const subEvents: fc.Arbitrary<SimEvent>[] = [
  fc.record({ kind: fc.constant('sub' as const), node, client, filter }),
  fc.record({ kind: fc.constant('unsub' as const), node, client, filter }),
  fc.record({ kind: fc.constant('flap' as const), node, client, filter }),
];
const anyEvent: fc.Arbitrary<SimEvent> = fc.oneof(
  { weight: 6, arbitrary: subEvents[0]! },
  { weight: 4, arbitrary: subEvents[1]! },
  { weight: 2, arbitrary: subEvents[2]! },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), node }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('restart' as const), node }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('partition' as const), sides: fc.array(fc.nat(1), { minLength: 5, maxLength: 5 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'heal' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'idle' as const }) },
);

const scenario = fc.record({
  nodes: fc.integer({ min: 2, max: 5 }),
  seed: fc.integer(),
  drop: fc.double({ min: 0, max: 0.4, noNaN: true }),
  dup: fc.double({ min: 0, max: 0.3, noNaN: true }),
  maxDelay: fc.integer({ min: 0, max: MAX_DELAY }),
  catchUp: fc.double({ min: 0.2, max: 1, noNaN: true }),
  events: fc.array(anyEvent, { maxLength: 80, size: 'max' }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

/** Runs the faulty phase, then calm rounds until converged; returns the sim and the calm rounds
 * it took (Infinity if not within the bound). */
function run(s: Scenario, antiEntropy = true): { sim: ClusterSim; rounds: number } {
  const sim = new ClusterSim({
    nodes: s.nodes,
    seed: s.seed,
    antiEntropy,
    faults: { drop: s.drop, dup: s.dup, maxDelay: s.maxDelay, membershipCatchUp: s.catchUp },
  });
  for (const e of s.events) sim.step(e);
  sim.calm();
  for (let r = 1; r <= CONVERGENCE_BOUND; r++) {
    sim.step({ kind: 'idle' });
    if (sim.divergence().length === 0) {
      // Converged: it must stay so while nothing changes (no late message may undo it).
      for (let extra = 0; extra < 2 * TICK_EVERY; extra++) sim.step({ kind: 'idle' });
      return { sim, rounds: r };
    }
  }
  return { sim, rounds: Infinity };
}

function assertConverged(sim: ClusterSim, rounds: number): void {
  assert.deepEqual(sim.inconsistencies.slice(0, 3), [], 'a replica held what its origin never held at that sequence number');
  assert.ok(rounds <= CONVERGENCE_BOUND, `not converged ${CONVERGENCE_BOUND} rounds after the faults stopped:\n${sim.divergence().join('\n')}`);
  assert.deepEqual(sim.divergence(), [], 'diverged again after converging');
}

describe('cluster route replication (simulated network, real route modules)', () => {
  it('after faults stop, every table equals the union of the live nodes\' local subscriptions within the bound', (t) => {
    let worst = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const { sim, rounds } = run(s);
        assertConverged(sim, rounds);
        worst = Math.max(worst, rounds);
      }),
      propertyParams(),
    );
    assert.ok(worst <= CONVERGENCE_BOUND);
    t.diagnostic(`slowest convergence after the faults stopped: ${worst} rounds (bound ${CONVERGENCE_BOUND})`);
  });

  it('no route of a dead incarnation survives', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { sim } = run(s);
        assert.deepEqual(sim.resurrections, [], 'a purged incarnation came back');
        for (const n of sim.live()) {
          for (const origin of n.sync.table.origins()) {
            const owner = sim.nodes.find((x) => x.name === origin)!;
            const held = n.sync.sliceOf(origin)!.incarnation;
            assert.ok(owner.up && owner.incarnation === held, `${n.name} holds ${origin}@${held}; live: ${owner.up ? owner.incarnation : 'down'}`);
          }
        }
      }),
      propertyParams(),
    );
  });

  it('a message forwarded under the final table reaches exactly the matching nodes', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { sim, rounds } = run(s);
        assertConverged(sim, rounds);
        const live = sim.live();
        for (const topic of TOPICS) {
          const direct = live.filter((x) => x.sync.localFilters().some((f) => parseSharedFilter(f) === null && refMatches(f, topic)));
          const groups = new Map<string, string[]>();
          for (const x of live) {
            for (const f of x.sync.localFilters()) {
              const share = parseSharedFilter(f);
              if (share !== null && refMatches(share.filter, topic)) groups.set(f, [...(groups.get(f) ?? []), x.name]);
            }
          }
          for (const publisher of live) {
            const m = publisher.sync.match(topic);
            // Forward once per destination node; each receiver delivers to its own sessions only.
            const reached = m.nodes.filter((name) => live.find((x) => x.name === name)!.sync.localFilters().some((f) => parseSharedFilter(f) === null && refMatches(f, topic)));
            assert.deepEqual([...m.nodes].sort(), direct.map((x) => x.name).sort(), `${publisher.name} forwards ${topic} to the wrong nodes`);
            assert.equal(reached.length, m.nodes.length);
            const got = new Map(m.groups.map((g) => [g.share, [...g.nodes].sort()]));
            assert.deepEqual(got, new Map([...groups].map(([k, v]) => [k, v.sort()])), `${publisher.name}: shared groups for ${topic}`);
          }
        }
      }),
      propertyParams(),
    );
  });

  it('without anti-entropy, on a network that loses nothing, deltas and gap fetches alone converge', () => {
    const lossless = fc.record({
      nodes: fc.integer({ min: 2, max: 5 }),
      seed: fc.integer(),
      drop: fc.constant(0),
      dup: fc.double({ min: 0, max: 0.5, noNaN: true }),
      maxDelay: fc.integer({ min: 0, max: MAX_DELAY }),
      catchUp: fc.constant(1),
      events: fc.array(fc.oneof(...subEvents, fc.constant({ kind: 'idle' as const })), { maxLength: 80, size: 'max' }),
    });
    fc.assert(
      fc.property(lossless, (s) => {
        const { sim, rounds } = run(s, false);
        assertConverged(sim, rounds);
      }),
      propertyParams(),
    );
  });
});
