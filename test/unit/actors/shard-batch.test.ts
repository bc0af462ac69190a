import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendDelivery, deliveryAt } from '../../../src/actors/shard-batch.js';
import type { ToShard } from '../../../src/actors/shard-protocol.js';
import { message } from '../../helpers/session-driver.js';

describe('appendDelivery', () => {
  it('coalesces consecutive deliveries of one message object into one entry, keeping each copy\'s QoS, retain and ids', () => {
    const m = message('t', 'x');
    const batch: ToShard[] = [];
    appendDelivery(batch, 'a', m, 1, false, [7]);
    appendDelivery(batch, 'b', m, 2, true, []);
    appendDelivery(batch, 'c', m, 0, true, [1, 2]);
    assert.equal(batch.length, 1);
    const entry = batch[0]!;
    assert.ok(entry.t === 'deliver');
    assert.deepEqual(entry.clientIds, ['a', 'b', 'c']);
    assert.deepEqual([0, 1, 2].map((i) => deliveryAt(entry, i)), [
      { qos: 1, retain: false, subscriptionIds: [7] },
      { qos: 2, retain: true, subscriptionIds: [] },
      { qos: 0, retain: true, subscriptionIds: [1, 2] },
    ]);
  });

  it('starts a new entry for another message, and never grows an entry that an event follows (order per shard)', () => {
    const m1 = message('t', 'one');
    const m2 = message('t', 'one'); // equal content, another publish: not the same copy set
    const batch: ToShard[] = [];
    appendDelivery(batch, 'a', m1, 1, false, []);
    appendDelivery(batch, 'a', m2, 1, false, []);
    batch.push({ t: 'event', clientId: 'a', event: { type: 'puback', connId: 1, packetId: 1 } });
    appendDelivery(batch, 'b', m2, 1, false, []);
    assert.deepEqual(batch.map((e) => (e.t === 'deliver' ? `${e.t}:${e.clientIds.join(',')}` : e.t)), ['deliver:a', 'deliver:a', 'event', 'deliver:b']);
    assert.equal((batch[0] as Extract<ToShard, { t: 'deliver' }>).message, m1);
    assert.equal((batch[3] as Extract<ToShard, { t: 'deliver' }>).message, m2);
  });
});
