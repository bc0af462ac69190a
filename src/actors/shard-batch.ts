// Building the batch of messages for one shard: routed deliveries of one message coalesce into
// one 'deliver' entry (see shard-protocol.ts). Pure, so its ordering rule is tested directly.
import type { AppMessage, QoS } from '../protocol/message.js';
import { RETAIN_FLAG, type ToShard } from './shard-protocol.js';

/**
 * Appends a delivery of `message` to `clientId` to `batch`: into the last entry when that is a
 * 'deliver' entry of the same message object, else as a new entry. Only the last entry may grow,
 * so a delivery never moves ahead of an event sent to the shard before it.
 */
export function appendDelivery(batch: ToShard[], clientId: string, message: AppMessage, qos: QoS, retain: boolean, subscriptionIds: number[]): void {
  const last = batch.length > 0 ? batch[batch.length - 1]! : null;
  const code = retain ? qos | RETAIN_FLAG : qos;
  if (last !== null && last.t === 'deliver' && last.message === message) {
    last.clientIds.push(clientId);
    last.delivery.push(code);
    last.subscriptionIds.push(subscriptionIds);
    return;
  }
  batch.push({ t: 'deliver', message, clientIds: [clientId], delivery: [code], subscriptionIds: [subscriptionIds] });
}

/** The copy of entry `i` of a 'deliver' entry, as the session's 'deliver' event. */
export function deliveryAt(entry: Extract<ToShard, { t: 'deliver' }>, i: number): { qos: QoS; retain: boolean; subscriptionIds: number[] } {
  const code = entry.delivery[i]!;
  return { qos: (code & 3) as QoS, retain: (code & RETAIN_FLAG) !== 0, subscriptionIds: entry.subscriptionIds[i]! };
}
