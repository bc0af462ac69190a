// Where a draining node refers each MQTT 5 client (DISCONNECT 0x9C Use Another Server with a
// Server Reference, MQTT 5 §4.11): to the owner of its client id among the live peers that
// advertise an MQTT address, which is where the drain then pushes its session (the same
// rendezvous hashing, client-owner.ts). So the references spread evenly over the peers and a
// client lands where its session goes. Pure: the caller passes its view.
import { clientOwner } from './client-owner.js';
import type { MemberInfo } from './types.js';

/** The Server Reference for a client id, or null when no live peer advertises an MQTT address. */
export type ReferenceFor = (clientId: string) => string | null;

/** `livePeers`: the other live members (self excluded). A peer that advertises no MQTT address
 * (an older version) is left out, so its clients go to the owner among the others. */
export function serverReferences(livePeers: readonly MemberInfo[]): ReferenceFor {
  const candidates = livePeers.filter((m): m is MemberInfo & { mqttAddress: string } => m.mqttAddress !== undefined);
  return (clientId) => clientOwner(candidates, clientId)?.mqttAddress ?? null;
}
