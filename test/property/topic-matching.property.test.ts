// Property tests of the routing layer against a reference written straight from MQTT 5.0 §4.7
// and §4.8.2: which filters match a topic, which sessions receive a PUBLISH and how, that the
// tables shrink back to nothing, and that shared groups rotate fairly.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Delivery, QoS, SubscriptionOptions } from '../../src/protocol/message.js';
import { Router, type Presence } from '../../src/routing/router.js';
import { TopicTrie } from '../../src/routing/topic-trie.js';
import { parseSharedFilter, validateTopicFilter, validateTopicName } from '../../src/routing/topic.js';
import { propertyParams } from './harness.js';
import { refMatches } from '../helpers/topic-reference.js';

// ---------------------------------------------------------------------------------------------
// Reference model (topic matching: test/helpers/topic-reference.ts).

interface Sub {
  client: string;
  filter: string;
  options: SubscriptionOptions;
}

/** clientId → filter as subscribed → options; the surviving subscription set. */
type Model = Map<string, Map<string, SubscriptionOptions>>;

function modelSubs(model: Model): Sub[] {
  const subs: Sub[] = [];
  for (const [client, filters] of model) for (const [filter, options] of filters) subs.push({ client, filter, options });
  return subs;
}

interface ExpectedGroup {
  name: string;
  /** member clientId → the Delivery it would get if picked. */
  candidates: Map<string, Delivery>;
}

/** What the spec says a PUBLISH yields: exact non-shared Deliveries and, per matching shared
 * group, the Delivery each member would get. */
function expectedDeliveries(
  subs: Sub[],
  topic: string,
  publisher: string,
  qos: QoS,
  retain: boolean,
): { direct: Delivery[]; groups: ExpectedGroup[] } {
  const perClient = new Map<string, SubscriptionOptions[]>();
  const groups = new Map<string, ExpectedGroup>();
  for (const { client, filter, options } of subs) {
    const share = parseSharedFilter(filter);
    if (share === null) {
      if (!refMatches(filter, topic)) continue;
      if (options.noLocal && client === publisher) continue; // [MQTT-3.8.3-3]
      perClient.set(client, [...(perClient.get(client) ?? []), options]);
    } else if (refMatches(share.filter, topic)) {
      const key = `${share.group}\u0000${share.filter}`;
      const group = groups.get(key) ?? { name: key, candidates: new Map() };
      groups.set(key, group);
      group.candidates.set(client, {
        clientId: client,
        qos: Math.min(qos, options.qos) as QoS,
        retain: retain && options.retainAsPublished,
        subscriptionIds: options.subscriptionId === undefined ? [] : [options.subscriptionId],
      });
    }
  }
  const direct: Delivery[] = [];
  for (const [client, list] of perClient) {
    const ids = [...new Set(list.flatMap((o) => (o.subscriptionId === undefined ? [] : [o.subscriptionId])))];
    direct.push({
      clientId: client,
      qos: Math.min(qos, Math.max(...list.map((o) => o.qos))) as QoS,
      retain: retain && list.some((o) => o.retainAsPublished),
      subscriptionIds: ids.sort((a, b) => a - b),
    });
  }
  return { direct, groups: [...groups.values()] };
}

/**
 * Fails unless `actual` is exactly the expected non-shared Deliveries plus one Delivery per
 * matching shared group, each to a member of that group (an online one when the group has one)
 * with that member's QoS, retain flag and identifier.
 */
function assertDeliveries(
  actual: Delivery[],
  expected: { direct: Delivery[]; groups: ExpectedGroup[] },
  online: (clientId: string) => boolean,
): void {
  const rest = [...actual];
  for (const d of expected.direct) {
    const i = rest.findIndex((a) => isDeepStrictEqual(a, d));
    assert.ok(i >= 0, `missing ${JSON.stringify(d)} in ${JSON.stringify(actual)}`);
    rest.splice(i, 1);
  }
  assert.equal(rest.length, expected.groups.length, `shared deliveries ${JSON.stringify(rest)} for ${expected.groups.length} groups`);
  // Assign the remaining Deliveries to groups one-to-one (backtracking; the inputs are tiny).
  const fits = (d: Delivery, g: ExpectedGroup): boolean => {
    const c = g.candidates.get(d.clientId);
    if (c === undefined || !isDeepStrictEqual(c, d)) return false;
    const anyOnline = [...g.candidates.keys()].some(online);
    return !anyOnline || online(d.clientId);
  };
  const used = new Array<boolean>(rest.length).fill(false);
  const assign = (gi: number): boolean => {
    if (gi === expected.groups.length) return true;
    for (let i = 0; i < rest.length; i++) {
      if (used[i] || !fits(rest[i]!, expected.groups[gi]!)) continue;
      used[i] = true;
      if (assign(gi + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  assert.ok(
    assign(0),
    `shared deliveries ${JSON.stringify(rest)} do not give one fitting member per group ` +
      JSON.stringify(expected.groups.map((g) => [g.name, [...g.candidates.values()]])),
  );
}

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Generators: a small alphabet so that matches, overlaps and `$` topics are frequent.

const topicLevel = fc.constantFrom('a', 'b', '');
const topicArb = fc
  .tuple(fc.oneof(topicLevel, fc.constantFrom('$SYS', '$x')), fc.array(topicLevel, { maxLength: 3 }))
  .map(([first, rest]) => [first, ...rest].join('/'))
  .filter((t) => validateTopicName(t) === null);

const filterLevel = fc.constantFrom('a', 'b', '', '+');
/** A valid non-shared filter: levels from the alphabet, `$` levels first, optionally `#` last. */
const plainFilterArb = fc
  .tuple(
    fc.oneof({ weight: 4, arbitrary: filterLevel }, { weight: 1, arbitrary: fc.constantFrom('$SYS', '$x') }),
    fc.array(filterLevel, { maxLength: 3 }),
    fc.boolean(),
  )
  .map(([first, rest, hash]) => {
    const levels: string[] = [first, ...rest];
    if (hash) levels[levels.length - 1] = '#';
    return levels.join('/');
  })
  .filter((f) => validateTopicFilter(f) === null); // drops only the empty filter
/** Non-shared filters, or `$share/{g1|g2}/filter`. */
const filterArb = fc.oneof(
  { weight: 3, arbitrary: plainFilterArb },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('g1', 'g2'), plainFilterArb).map(([g, f]) => `$share/${g}/${f}`) },
);

const qosArb = fc.constantFrom<QoS>(0, 1, 2);
const clientArb = fc.constantFrom('c0', 'c1', 'c2', 'c3', 'c4');

function optionsArb(filter: string): fc.Arbitrary<SubscriptionOptions> {
  const shared = parseSharedFilter(filter) !== null;
  return fc.record({
    qos: qosArb,
    // No Local on a shared subscription is a Protocol Error the caller rejects [MQTT-3.8.3-4].
    noLocal: shared ? fc.constant(false) : fc.boolean(),
    retainAsPublished: fc.boolean(),
    retainHandling: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
    subscriptionId: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  }, { noNullPrototype: true });
}

function subFrom(filters: fc.Arbitrary<string>): fc.Arbitrary<Sub> {
  return fc
    .tuple(clientArb, filters)
    .chain(([client, filter]) => optionsArb(filter).map((options) => ({ client, filter, options })));
}

/** Filters for one scenario: mostly from a small pool so that several sessions share filters
 * and shared groups get several members, plus some independent ones. */
const filterPoolArb = fc
  .uniqueArray(filterArb, { minLength: 1, maxLength: 6 })
  .map((pool) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: filterArb }));

function subsArb(maxLength: number): fc.Arbitrary<Sub[]> {
  return filterPoolArb.chain((filters) => fc.array(subFrom(filters), { maxLength }));
}

function buildModel(subs: Sub[]): Model {
  const model: Model = new Map();
  for (const { client, filter, options } of subs) {
    if (!model.has(client)) model.set(client, new Map());
    model.get(client)!.set(filter, options); // a re-subscription replaces the options
  }
  return model;
}

function buildRouter(model: Model): Router {
  const router = new Router();
  for (const { client, filter, options } of modelSubs(model)) router.subscribe(client, filter, options);
  return router;
}

const everyone: Presence = { isOnline: () => true };

function canonical(deliveries: Delivery[]): string[] {
  return deliveries.map((d) => JSON.stringify(d)).sort();
}

// ---------------------------------------------------------------------------------------------

describe('topic matching properties', () => {
  it('(a) the trie matches exactly the (filter, key) pairs the reference matcher matches', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(plainFilterArb, fc.constantFrom('k1', 'k2')), {
          maxLength: 12,
          selector: ([f, k]) => `${f}\u0000${k}`,
        }),
        fc.array(topicArb, { minLength: 1, maxLength: 6 }),
        (entries, topics) => {
          const trie = new TopicTrie<string>();
          for (const [filter, key] of entries) trie.set(filter, key, `${filter}|${key}`);
          for (const topic of topics) {
            const seen: string[] = [];
            trie.match(topic, {
              visit(key, value, filter) {
                assert.equal(value, `${filter}|${key}`, 'visitor gets the value stored for (filter, key)');
                seen.push(value);
              },
            });
            const expected = entries.filter(([f]) => refMatches(f, topic)).map(([f, k]) => `${f}|${k}`);
            assert.deepEqual(seen.sort(), expected.sort(), `topic ${JSON.stringify(topic)}`);
          }
        },
      ),
      propertyParams(),
    );
  });

  it('(a) the router delivers exactly to the sessions whose filters the reference matcher matches', () => {
    fc.assert(
      fc.property(subsArb(12), fc.array(topicArb, { minLength: 1, maxLength: 6 }), (subs, topics) => {
        const model = buildModel(subs);
        const router = buildRouter(model);
        for (const topic of topics) {
          const out: Delivery[] = [];
          router.match(topic, 'nobody', 2, false, everyone, out);
          assertDeliveries(out, expectedDeliveries(modelSubs(model), topic, 'nobody', 2, false), () => true);
        }
      }),
      propertyParams(),
    );
  });

  type Op =
    | { kind: 'subscribe'; sub: Sub }
    /** `pick` chooses an earlier subscription to undo (most of the time), so unsubscribes hit. */
    | { kind: 'unsubscribe'; client: string; filter: string; pick: number }
    | { kind: 'removeSession'; client: string }
    /** Publishing between changes moves shared-group rotations, which removals must respect. */
    | { kind: 'publish'; topic: string };

  const opsArb: fc.Arbitrary<Op[]> = filterPoolArb.chain((filters) =>
    fc.array(
      fc.oneof(
        { weight: 5, arbitrary: subFrom(filters).map((sub): Op => ({ kind: 'subscribe', sub })) },
        {
          weight: 3,
          arbitrary: fc
            .tuple(clientArb, filters, fc.nat())
            .map(([client, filter, pick]): Op => ({ kind: 'unsubscribe', client, filter, pick })),
        },
        { weight: 1, arbitrary: clientArb.map((client): Op => ({ kind: 'removeSession', client })) },
        { weight: 2, arbitrary: topicArb.map((topic): Op => ({ kind: 'publish', topic })) },
      ),
      { maxLength: 30 },
    ),
  );

  it('(b) after any subscribe/unsubscribe/removeSession sequence the router equals one built from the survivors, and empties without leaks', () => {
    // Over lcm(1..5) = 60 publishes of one topic every matching shared group of <= 5 members
    // completes whole rotations, so the delivery multiset does not depend on where each
    // group's rotation started: the two routers must then agree exactly.
    const FULL_ROTATIONS = 60;
    const stats = { runs: 0, withUnsubscribeHits: 0 };
    fc.assert(
      fc.property(
        opsArb,
        fc.array(topicArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        (ops, topics, removeBySession) => {
          const router = new Router();
          const model: Model = new Map();
          const subscribed: Array<[client: string, filter: string]> = [];
          let unsubscribeHits = 0;
          for (const op of ops) {
            if (op.kind === 'subscribe') {
              subscribed.push([op.sub.client, op.sub.filter]);
              const { client, filter, options } = op.sub;
              const existed = model.get(client)?.has(filter) ?? false;
              assert.equal(router.subscribe(client, filter, options), !existed);
              if (!model.has(client)) model.set(client, new Map());
              model.get(client)!.set(filter, options);
            } else if (op.kind === 'unsubscribe') {
              const [client, filter] =
                subscribed.length > 0 && op.pick % 4 !== 0 ? subscribed[op.pick % subscribed.length]! : [op.client, op.filter];
              const existed = model.get(client)?.delete(filter) ?? false;
              if (model.get(client)?.size === 0) model.delete(client);
              assert.equal(router.unsubscribe(client, filter), existed);
              if (existed) unsubscribeHits++;
            } else if (op.kind === 'publish') {
              const out: Delivery[] = [];
              router.match(op.topic, 'c1', 2, false, everyone, out);
              assertDeliveries(out, expectedDeliveries(modelSubs(model), op.topic, 'c1', 2, false), () => true);
            } else {
              const count = model.get(op.client)?.size ?? 0;
              model.delete(op.client);
              assert.equal(router.removeSession(op.client), count);
            }
          }

          stats.runs++;
          if (unsubscribeHits > 0) stats.withUnsubscribeHits++;
          const rebuilt = buildRouter(model);
          assert.equal(router.subscriptionCount, modelSubs(model).length);
          assert.equal(router.nodeCount(), rebuilt.nodeCount(), 'no nodes left over from removed filters');
          for (const client of ['c0', 'c1', 'c2', 'c3', 'c4']) {
            // The router keeps a copy without an absent identifier's key.
            const expected = [...(model.get(client) ?? new Map<string, SubscriptionOptions>())].map(
              ([f, o]): [string, SubscriptionOptions] => [f, JSON.parse(JSON.stringify(o)) as SubscriptionOptions],
            );
            assert.deepEqual(new Map(router.subscriptionsOf(client)), new Map(expected));
          }
          for (const topic of topics) {
            const fromOps: Delivery[] = [];
            const fromSurvivors: Delivery[] = [];
            for (let i = 0; i < FULL_ROTATIONS; i++) {
              router.match(topic, 'c0', 1, true, everyone, fromOps);
              rebuilt.match(topic, 'c0', 1, true, everyone, fromSurvivors);
            }
            assert.deepEqual(canonical(fromOps), canonical(fromSurvivors), `topic ${JSON.stringify(topic)}`);
          }

          // Remove what is left, some clients filter by filter, others all at once.
          for (const [i, client] of ['c0', 'c1', 'c2', 'c3', 'c4'].entries()) {
            if (removeBySession[i]) router.removeSession(client);
            else for (const filter of [...router.subscriptionsOf(client).keys()]) router.unsubscribe(client, filter);
          }
          assert.equal(router.subscriptionCount, 0);
          assert.equal(router.nodeCount(), 2, 'both tries are back to their root');
          assert.ok(router.isEmpty());
        },
      ),
      propertyParams(),
    );
    // Guard against a generator that stops exercising removal (the property would pass vacuously).
    assert.ok(stats.withUnsubscribeHits * 4 >= stats.runs, `only ${stats.withUnsubscribeHits}/${stats.runs} runs removed anything`);
  });

  it('(b) a trie after any set/delete sequence has the same entries and node count as one built from the survivors', () => {
    const trieOp = fc.tuple(fc.boolean(), plainFilterArb, fc.constantFrom('k1', 'k2'), fc.nat(9));
    fc.assert(
      fc.property(fc.array(trieOp, { maxLength: 40 }), (ops) => {
        const trie = new TopicTrie<number>();
        const model = new Map<string, [string, string, number]>();
        for (const [isSet, filter, key, value] of ops) {
          const id = `${filter}\u0000${key}`;
          if (isSet) {
            assert.equal(trie.set(filter, key, value), !model.has(id));
            model.set(id, [filter, key, value]);
          } else {
            assert.equal(trie.delete(filter, key), model.delete(id));
          }
        }
        const rebuilt = new TopicTrie<number>();
        for (const [filter, key, value] of model.values()) rebuilt.set(filter, key, value);
        assert.equal(trie.size, model.size);
        assert.equal(trie.nodeCount(), rebuilt.nodeCount());
        const rows = (t: TopicTrie<number>): string[] => [...t.entries()].map((e) => JSON.stringify(e)).sort();
        assert.deepEqual(rows(trie), rows(rebuilt));
        for (const [filter, key] of model.values()) trie.delete(filter, key);
        assert.equal(trie.size, 0);
        assert.equal(trie.nodeCount(), 1);
      }),
      propertyParams(),
    );
  });

  it('(c) each publish reaches exactly the matching sessions with the spec QoS, ids and retain flag, and one member per shared group', () => {
    fc.assert(
      fc.property(
        subsArb(14),
        fc.array(
          fc.record({
            topic: topicArb,
            publisher: fc.constantFrom('c0', 'c1', 'c2', 'c3', 'c4', 'outsider'),
            qos: qosArb,
            retain: fc.boolean(),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.subarray(['c0', 'c1', 'c2', 'c3', 'c4']),
        (subs, publishes, onlineList) => {
          const model = buildModel(subs);
          const router = buildRouter(model);
          const online = new Set(onlineList);
          const presence: Presence = { isOnline: (c) => online.has(c) };
          for (const { topic, publisher, qos, retain } of publishes) {
            const out: Delivery[] = [];
            const n = router.match(topic, publisher, qos, retain, presence, out);
            assert.equal(n, out.length);
            assertDeliveries(out, expectedDeliveries(modelSubs(model), topic, publisher, qos, retain), (c) => online.has(c));
          }
        },
      ),
      propertyParams(),
    );
  });

  it('(c) over k publishes each shared group spreads its messages round-robin over its online members', () => {
    const groupArb = fc.record({
      filter: plainFilterArb,
      /** Online flag per member; members are named after their group so Deliveries are attributable. */
      members: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
    });
    fc.assert(
      fc.property(
        fc.array(groupArb, { minLength: 1, maxLength: 3 }),
        subsArb(6), // unrelated non-shared and shared noise
        fc.array(topicArb, { minLength: 1, maxLength: 40 }),
        (groups, noise, topics) => {
          const router = buildRouter(buildModel(noise));
          const online = new Set<string>();
          groups.forEach((g, gi) =>
            g.members.forEach((isOnline, mi) => {
              const client = `rr${gi}m${mi}`;
              router.subscribe(client, `$share/rr${gi}/${g.filter}`, { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 });
              if (isOnline) online.add(client);
            }),
          );
          const counts = new Map<string, number>();
          const presence: Presence = { isOnline: (c) => online.has(c) };
          for (const topic of topics) {
            const out: Delivery[] = [];
            router.match(topic, 'publisher', 1, false, presence, out);
            for (const d of out) counts.set(d.clientId, (counts.get(d.clientId) ?? 0) + 1);
          }
          groups.forEach((g, gi) => {
            const k = topics.filter((t) => refMatches(g.filter, t)).length;
            const names = g.members.map((_, mi) => `rr${gi}m${mi}`);
            const got = names.map((n) => counts.get(n) ?? 0);
            assert.equal(got.reduce((a, b) => a + b, 0), k, `group ${gi} delivers each of its ${k} messages once`);
            const eligible = names.some((n) => online.has(n)) ? names.filter((n) => online.has(n)) : names;
            const eligibleCounts = eligible.map((n) => counts.get(n) ?? 0);
            assert.equal(
              eligibleCounts.reduce((a, b) => a + b, 0),
              k,
              `group ${gi}: offline members get nothing while one is online (${JSON.stringify(got)})`,
            );
            assert.ok(
              Math.max(...eligibleCounts) - Math.min(...eligibleCounts) <= 1,
              `group ${gi}: counts ${JSON.stringify(got)} online ${JSON.stringify(g.members)}`,
            );
          });
        },
      ),
      propertyParams(),
    );
  });
});
