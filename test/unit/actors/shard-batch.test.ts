import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendDelivery, deliveryQos, deliveryRetain } from '../../../src/actors/shard-batch.js';
import type { ToShard } from '../../../src/actors/shard-protocol.js';
import { message } from '../../helpers/session-driver.js';

/** Each item of a batch as "kind:clients". */
function shape(batch: ToShard[]): string[] {
  return batch.map((e) => (e.t === 'deliver' ? `entry:${e.clientIds.join(',')}` : e.t === 'event' ? `${e.event.type}:${e.clientId}` : e.t));
}

describe('appendDelivery', () => {
  it('sends a single copy as a plain deliver event', () => {
    const m = message('t', 'x');
    const batch: ToShard[] = [];
    appendDelivery(batch, 'a', m, 1, true, [7]);
    assert.deepEqual(batch, [{ t: 'event', clientId: 'a', event: { type: 'deliver', message: m, qos: 1, retain: true, subscriptionIds: [7] } }]);
  });

  it('turns consecutive copies of one message object into one entry, keeping each copy\'s QoS, retain flag and ids', () => {
    const m = message('t', 'x');
    const batch: ToShard[] = [];
    appendDelivery(batch, 'a', m, 1, false, [7]);
    appendDelivery(batch, 'b', m, 2, true, []);
    appendDelivery(batch, 'c', m, 0, true, [1, 2]);
    assert.deepEqual(shape(batch), ['entry:a,b,c']);
    const entry = batch[0]!;
    assert.ok(entry.t === 'deliver');
    assert.equal(entry.message, m);
    assert.deepEqual([0, 1, 2].map((i) => [deliveryQos(entry.delivery[i]!), deliveryRetain(entry.delivery[i]!), entry.subscriptionIds[i]]), [
      [1, false, [7]],
      [2, true, []],
      [0, true, [1, 2]],
    ]);
  });

  it('never joins copies across another message or an event in between (order per shard)', () => {
    const m1 = message('t', 'one');
    const m2 = message('t', 'one'); // equal content, another publish: not the same copy set
    const batch: ToShard[] = [];
    appendDelivery(batch, 'a', m1, 1, false, []);
    appendDelivery(batch, 'a', m2, 1, false, []);
    batch.push({ t: 'event', clientId: 'a', event: { type: 'puback', connId: 1, packetId: 1 } });
    appendDelivery(batch, 'b', m2, 1, false, []);
    appendDelivery(batch, 'c', m2, 1, false, []);
    batch.push({ t: 'ticket', id: 1 });
    appendDelivery(batch, 'd', m2, 1, false, []);
    assert.deepEqual(shape(batch), ['deliver:a', 'deliver:a', 'puback:a', 'entry:b,c', 'ticket', 'deliver:d']);
    const first = batch[0]!;
    assert.ok(first.t === 'event' && first.event.type === 'deliver');
    assert.equal(first.event.message, m1);
    assert.equal((batch[3] as Extract<ToShard, { t: 'deliver' }>).message, m2);
  });
});
