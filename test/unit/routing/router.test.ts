import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Delivery, QoS, SubscriptionOptions } from '../../../src/protocol/message.js';
import { Router, type Presence } from '../../../src/routing/router.js';
import { InvalidTopicFilterError, ReentrantMatchError } from '../../../src/routing/errors.js';

function opts(qos: QoS, extra: Partial<SubscriptionOptions> = {}): SubscriptionOptions {
  return { qos, noLocal: false, retainAsPublished: false, retainHandling: 0, ...extra };
}

class OnlineSet implements Presence {
  constructor(readonly online: Set<string>) {}
  isOnline(clientId: string): boolean {
    return this.online.has(clientId);
  }
}
const everyone: Presence = { isOnline: () => true };

function publish(
  router: Router,
  topic: string,
  { from = 'publisher', qos = 2 as QoS, retain = false, presence = everyone } = {},
): Delivery[] {
  const out: Delivery[] = [];
  const n = router.match(topic, from, qos, retain, presence, out);
  assert.equal(n, out.length);
  return out;
}

function byClient(deliveries: Delivery[]): Record<string, Delivery> {
  const result: Record<string, Delivery> = {};
  for (const d of deliveries) {
    assert.equal(result[d.clientId], undefined, `two deliveries for ${d.clientId}`);
    result[d.clientId] = d;
  }
  return result;
}

describe('Router subscriptions', () => {
  it('subscribe reports new vs replaced, and replacing changes the options', () => {
    const r = new Router();
    assert.equal(r.subscribe('c1', 'a/b', opts(0)), true);
    assert.equal(r.subscribe('c1', 'a/b', opts(2)), false);
    assert.equal(r.subscriptionCount, 1);
    assert.equal(r.subscriptionsOf('c1').get('a/b')?.qos, 2);
    assert.deepEqual(publish(r, 'a/b'), [{ clientId: 'c1', qos: 2, retain: false, subscriptionIds: [] }]);
  });

  it('refuses invalid filters with a named error', () => {
    const r = new Router();
    assert.throws(() => r.subscribe('c1', 'a/#/b', opts(0)), InvalidTopicFilterError);
    assert.throws(() => r.subscribe('c1', '$share/g', opts(0)), InvalidTopicFilterError);
    assert.equal(r.isEmpty(), true);
  });

  it('unsubscribe removes one subscription and reports whether it existed', () => {
    const r = new Router();
    r.subscribe('c1', 'a/+', opts(1));
    r.subscribe('c1', '$share/g/a/+', opts(1));
    assert.equal(r.unsubscribe('c1', 'a/b'), false);
    assert.equal(r.unsubscribe('c2', 'a/+'), false);
    assert.equal(r.unsubscribe('c1', 'a/+'), true);
    assert.equal(r.unsubscribe('c1', 'a/+'), false);
    assert.deepEqual([...r.subscriptionsOf('c1').keys()], ['$share/g/a/+']);
    assert.equal(r.unsubscribe('c1', '$share/g/a/+'), true);
    assert.equal(r.subscriptionsOf('c1').size, 0);
    assert.equal(r.isEmpty(), true);
  });

  it('removeSession removes every subscription of that client only', () => {
    const r = new Router();
    r.subscribe('c1', 'a/#', opts(1));
    r.subscribe('c1', 'b', opts(1));
    r.subscribe('c1', '$share/g/a/#', opts(1));
    r.subscribe('c2', 'a/#', opts(0));
    r.subscribe('c2', '$share/g/a/#', opts(0));
    assert.equal(r.removeSession('c1'), 3);
    assert.equal(r.removeSession('c1'), 0);
    assert.equal(r.subscriptionCount, 2);
    assert.equal(r.subscriptionsOf('c1').size, 0);
    const out = publish(r, 'a/x');
    assert.deepEqual(out.map((d) => d.clientId), ['c2', 'c2']);
    assert.equal(r.removeSession('c2'), 2);
    assert.equal(r.isEmpty(), true);
    assert.equal(r.nodeCount(), 2);
  });
});

describe('Router.match non-shared', () => {
  it('delivers to every matching session once, including spec examples', () => {
    const r = new Router();
    r.subscribe('tennis', 'sport/tennis/#', opts(1));
    r.subscribe('pluses', '+/+', opts(1));
    r.subscribe('all', '#', opts(1));
    r.subscribe('sys', '$SYS/#', opts(1));
    assert.deepEqual(Object.keys(byClient(publish(r, 'sport/tennis'))).sort(), ['all', 'pluses', 'tennis']);
    assert.deepEqual(Object.keys(byClient(publish(r, '/finance'))).sort(), ['all', 'pluses']);
    assert.deepEqual(Object.keys(byClient(publish(r, '$SYS/x'))).sort(), ['sys']);
    assert.deepEqual(publish(r, 'nothing/matches/this/x').map((d) => d.clientId), ['all']);
  });

  it('returns 0 and appends nothing when nothing matches, keeping earlier items in out', () => {
    const r = new Router();
    r.subscribe('c', 'a', opts(0));
    const earlier: Delivery = { clientId: 'x', qos: 0, retain: false, subscriptionIds: [] };
    const out = [earlier];
    assert.equal(r.match('b', 'p', 1, false, everyone, out), 0);
    assert.equal(r.match('a', 'p', 1, false, everyone, out), 1);
    assert.equal(out[0], earlier);
    assert.equal(out.length, 2);
  });

  it('overlapping subscriptions: one delivery, highest granted QoS capped by the message, all ids sorted', () => {
    const r = new Router();
    r.subscribe('c', 'a/+', opts(0, { subscriptionId: 7 }));
    r.subscribe('c', 'a/#', opts(1, { subscriptionId: 3 }));
    r.subscribe('c', '#', opts(2));
    r.subscribe('c', 'a/b', opts(1, { subscriptionId: 5 }));
    r.subscribe('d', 'a/b', opts(1, { subscriptionId: 3 }));
    assert.deepEqual(byClient(publish(r, 'a/b', { qos: 1 })), {
      c: { clientId: 'c', qos: 1, retain: false, subscriptionIds: [3, 5, 7] },
      d: { clientId: 'd', qos: 1, retain: false, subscriptionIds: [3] },
    });
    assert.equal(byClient(publish(r, 'a/b', { qos: 2 })).c?.qos, 2);
    assert.equal(byClient(publish(r, 'a/b', { qos: 0 })).c?.qos, 0);
    assert.deepEqual(byClient(publish(r, 'a/x', { qos: 2 })).c, {
      clientId: 'c',
      qos: 2,
      retain: false,
      subscriptionIds: [3, 7],
    });
  });

  it('deduplicates a subscription id used by two matching subscriptions', () => {
    const r = new Router();
    r.subscribe('c', 'a/+', opts(0, { subscriptionId: 4 }));
    r.subscribe('c', 'a/#', opts(0, { subscriptionId: 4 }));
    r.subscribe('c', '+/b', opts(0, { subscriptionId: 2 }));
    assert.deepEqual(publish(r, 'a/b')[0]?.subscriptionIds, [2, 4]);
  });

  it('No Local skips the publisher only [MQTT-3.8.3-3]', () => {
    const r = new Router();
    r.subscribe('me', 'a', opts(1, { noLocal: true }));
    r.subscribe('other', 'a', opts(1, { noLocal: true }));
    assert.deepEqual(publish(r, 'a', { from: 'me' }).map((d) => d.clientId), ['other']);
    assert.deepEqual(publish(r, 'a', { from: 'other' }).map((d) => d.clientId), ['me']);
  });

  it('No Local on one of several matching subscriptions leaves the others delivering', () => {
    const r = new Router();
    r.subscribe('me', 'a/+', opts(2, { noLocal: true, subscriptionId: 1 }));
    r.subscribe('me', 'a/#', opts(1, { subscriptionId: 2 }));
    // Only the local-allowed subscription counts, for QoS and ids.
    assert.deepEqual(publish(r, 'a/b', { from: 'me', qos: 2 }), [
      { clientId: 'me', qos: 1, retain: false, subscriptionIds: [2] },
    ]);
  });

  it('retain flag: kept only if a matching subscription has Retain As Published', () => {
    const r = new Router();
    r.subscribe('rap', 'a', opts(1, { retainAsPublished: true }));
    r.subscribe('norap', 'a', opts(1));
    r.subscribe('mixed', 'a', opts(1));
    r.subscribe('mixed', '#', opts(0, { retainAsPublished: true }));
    const retained = byClient(publish(r, 'a', { retain: true }));
    assert.equal(retained.rap?.retain, true);
    assert.equal(retained.norap?.retain, false);
    assert.equal(retained.mixed?.retain, true);
    assert.equal(retained.mixed?.qos, 1);
    const plain = byClient(publish(r, 'a', { retain: false }));
    assert.equal(plain.rap?.retain, false);
    assert.equal(plain.mixed?.retain, false);
  });

  it('does not keep state between matches', () => {
    const r = new Router();
    r.subscribe('c', 'a', opts(1, { subscriptionId: 1 }));
    r.subscribe('c', 'b', opts(1, { subscriptionId: 2 }));
    assert.deepEqual(publish(r, 'a')[0]?.subscriptionIds, [1]);
    assert.deepEqual(publish(r, 'b')[0]?.subscriptionIds, [2]);
  });
});

describe('Router.match shared subscriptions', () => {
  it('delivers each matching group to one member, round-robin', () => {
    const r = new Router();
    for (const c of ['m1', 'm2', 'm3']) r.subscribe(c, '$share/g/a/+', opts(1));
    const picks = [];
    for (let i = 0; i < 6; i++) {
      const out = publish(r, 'a/x');
      assert.equal(out.length, 1);
      picks.push(out[0]!.clientId);
    }
    assert.deepEqual(picks, ['m1', 'm2', 'm3', 'm1', 'm2', 'm3']);
  });

  it('skips offline members', () => {
    const r = new Router();
    for (const c of ['m1', 'm2', 'm3', 'm4']) r.subscribe(c, '$share/g/a', opts(1));
    const presence = new OnlineSet(new Set(['m2', 'm4']));
    const picks = [];
    for (let i = 0; i < 4; i++) picks.push(publish(r, 'a', { presence })[0]!.clientId);
    assert.deepEqual(picks, ['m2', 'm4', 'm2', 'm4']);
  });

  it('still picks round-robin when no member is online (its session queues the message)', () => {
    const r = new Router();
    for (const c of ['m1', 'm2']) r.subscribe(c, '$share/g/a', opts(1));
    const presence = new OnlineSet(new Set());
    const picks = [];
    for (let i = 0; i < 4; i++) picks.push(publish(r, 'a', { presence })[0]!.clientId);
    assert.deepEqual(picks, ['m1', 'm2', 'm1', 'm2']);
  });

  it('keeps the rotation when members leave and join', () => {
    const r = new Router();
    for (const c of ['m1', 'm2', 'm3']) r.subscribe(c, '$share/g/a', opts(1));
    assert.equal(publish(r, 'a')[0]!.clientId, 'm1');
    r.unsubscribe('m2', '$share/g/a'); // it was next: continue with the one after it
    assert.equal(publish(r, 'a')[0]!.clientId, 'm3');
    r.subscribe('m4', '$share/g/a', opts(1)); // joins at the end
    r.subscribe('m1', '$share/g/a', opts(2)); // re-subscribing keeps its place
    // m3 was picked last, so the turn wrapped to m1; m4 comes after m3 in join order.
    assert.deepEqual([0, 1, 2].map(() => publish(r, 'a')[0]!.clientId), ['m1', 'm3', 'm4']);
    assert.equal(publish(r, 'a', { qos: 2 })[0]!.qos, 2, 'm1 has QoS 2 now');
  });

  it('groups are per (name, filter); a session gets shared and non-shared copies separately', () => {
    const r = new Router();
    r.subscribe('m1', '$share/g/a/+', opts(1, { subscriptionId: 10 }));
    r.subscribe('m1', '$share/g/a/#', opts(2, { subscriptionId: 11 }));
    r.subscribe('m1', '$share/h/a/+', opts(0));
    r.subscribe('m1', 'a/b', opts(1, { subscriptionId: 12 }));
    const out = publish(r, 'a/b', { qos: 2 });
    const sorted = out.map((d) => JSON.stringify(d)).sort();
    assert.deepEqual(sorted, [
      JSON.stringify({ clientId: 'm1', qos: 0, retain: false, subscriptionIds: [] }),
      JSON.stringify({ clientId: 'm1', qos: 1, retain: false, subscriptionIds: [10] }),
      JSON.stringify({ clientId: 'm1', qos: 1, retain: false, subscriptionIds: [12] }),
      JSON.stringify({ clientId: 'm1', qos: 2, retain: false, subscriptionIds: [11] }),
    ].sort());
    // Only the a/# group matches a/b/c.
    assert.deepEqual(publish(r, 'a/b/c', { qos: 2 }), [{ clientId: 'm1', qos: 2, retain: false, subscriptionIds: [11] }]);
  });

  it('each group rotates independently of the others', () => {
    const r = new Router();
    for (const c of ['x1', 'x2']) r.subscribe(c, '$share/x/t', opts(1));
    for (const c of ['y1', 'y2', 'y3']) r.subscribe(c, '$share/y/t', opts(1));
    const rounds = [0, 1, 2].map(() => publish(r, 't').map((d) => d.clientId).sort().join(','));
    assert.deepEqual(rounds, ['x1,y1', 'x2,y2', 'x1,y3']);
  });

  it('the publisher can be picked, and retain follows Retain As Published', () => {
    const r = new Router();
    r.subscribe('pub', '$share/g/a', opts(1, { retainAsPublished: true }));
    assert.deepEqual(publish(r, 'a', { from: 'pub', retain: true }), [
      { clientId: 'pub', qos: 1, retain: true, subscriptionIds: [] },
    ]);
    r.subscribe('pub', '$share/g/a', opts(1));
    assert.equal(publish(r, 'a', { retain: true })[0]?.retain, false);
  });

  it('refuses to be re-entered from a Presence callback, and recovers', () => {
    const r = new Router();
    r.subscribe('m', '$share/g/a', opts(1));
    const nested: Presence = { isOnline: () => publish(r, 'a').length > 0 };
    assert.throws(() => publish(r, 'a', { presence: nested }), ReentrantMatchError);
    assert.deepEqual(publish(r, 'a').map((d) => d.clientId), ['m']);
  });

  it('$-topics are not matched by shared leading wildcards', () => {
    const r = new Router();
    r.subscribe('m', '$share/g/#', opts(1));
    r.subscribe('n', '$share/g/$SYS/#', opts(1));
    assert.deepEqual(publish(r, '$SYS/x').map((d) => d.clientId), ['n']);
  });
});
