// The router's two cluster seams: the observer told of every (session, filter) pair that appears
// or goes away, and the match scope that narrows a match to what the cluster left to this node.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Delivery, SubscriptionOptions } from '../../../src/protocol/message.js';
import { Router, type MatchScope, type Presence } from '../../../src/routing/router.js';

const o: SubscriptionOptions = { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 };
const everyone: Presence = { isOnline: () => true };

describe('Router cluster seams', () => {
  it('tells the observer of each new and each gone (session, filter) pair, not of option changes', () => {
    const r = new Router();
    const seen: string[] = [];
    r.observer = { added: (f) => seen.push(`+${f}`), removed: (f) => seen.push(`-${f}`) };
    r.subscribe('c1', 'a/+', o);
    r.subscribe('c1', 'a/+', { ...o, qos: 2 });
    r.subscribe('c2', 'a/+', o);
    r.subscribe('c2', '$share/g/a/#', o);
    r.unsubscribe('c1', 'a/+');
    r.unsubscribe('c1', 'a/+');
    r.removeSession('c2');
    assert.deepEqual(seen, ['+a/+', '+a/+', '+$share/g/a/#', '-a/+', '-a/+', '-$share/g/a/#']);
  });

  it('matches within a scope: non-shared only if direct, shared groups only if allowed', () => {
    const r = new Router();
    r.subscribe('d', 'a/#', o);
    r.subscribe('m1', '$share/g1/a/+', o);
    r.subscribe('m2', '$share/g2/a/+', o);
    const asked: string[] = [];
    const scope: MatchScope = {
      direct: false,
      sharedAllowed: (share) => {
        asked.push(share);
        return share === '$share/g2/a/+';
      },
    };
    const out: Delivery[] = [];
    assert.equal(r.match('a/b', 'p', 1, false, everyone, out, scope), 1);
    assert.deepEqual(out.map((d) => d.clientId), ['m2']);
    assert.deepEqual(asked.sort(), ['$share/g1/a/+', '$share/g2/a/+']);
    out.length = 0;
    assert.equal(r.match('a/b', 'p', 1, false, everyone, out), 3);
  });
});
