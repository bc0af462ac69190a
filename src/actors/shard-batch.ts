// Building the batch of messages for one shard: routed copies of one message coalesce into one
// 'deliver' entry (see shard-protocol.ts). Pure, so its ordering rule is tested directly.
import type { AppMessage, QoS } from '../protocol/message.js';
import { RETAIN_FLAG, type ToShard } from './shard-protocol.js';

/**
 * Appends a delivery of `message` to `clientId` to `batch`. A first copy is a plain 'deliver'
 * event (most publishes reach one session: three arrays would cost more than the event); a
 * second consecutive copy of the same message object turns it into a 'deliver' entry, and
 * further ones join that entry. Only the last item may grow, so a delivery never moves ahead of
 * anything sent to the shard before it.
 */
export function appendDelivery(batch: ToShard[], clientId: string, message: AppMessage, qos: QoS, retain: boolean, subscriptionIds: number[]): void {
  const i = batch.length - 1;
  const last = i >= 0 ? batch[i]! : null;
  if (last !== null && last.t === 'deliver' && last.message === message) {
    last.clientIds.push(clientId);
    last.delivery.push(code(qos, retain));
    last.subscriptionIds.push(subscriptionIds);
    return;
  }
  if (last !== null && last.t === 'event' && last.event.type === 'deliver' && last.event.message === message) {
    const e = last.event;
    batch[i] = {
      t: 'deliver',
      message,
      clientIds: [last.clientId, clientId],
      delivery: [code(e.qos, e.retain), code(qos, retain)],
      subscriptionIds: [e.subscriptionIds, subscriptionIds],
    };
    return;
  }
  batch.push({ t: 'event', clientId, event: { type: 'deliver', message, qos, retain, subscriptionIds } });
}

function code(qos: QoS, retain: boolean): number {
  return retain ? qos | RETAIN_FLAG : qos;
}

/** The QoS of a 'deliver' entry's delivery code. */
export function deliveryQos(code: number): QoS {
  return (code & 3) as QoS;
}

/** The retain flag of a 'deliver' entry's delivery code. */
export function deliveryRetain(code: number): boolean {
  return (code & RETAIN_FLAG) !== 0;
}
