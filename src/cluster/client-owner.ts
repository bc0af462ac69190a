// Which node owns a client id: the one that decides races between CONNECTs with that id on
// different nodes (issue 17, CLUSTER-ANCHORS.md lesson 7). Rendezvous (highest random weight)
// hashing over the live members: every node scores each member against the client id and the
// highest score wins, so nodes with the same member view agree without talking, and a membership
// change moves only what it must: a member leaving moves only the ids it owned, a member joining
// takes about 1/n of them. Pure: no membership, no clock; the caller passes its current view.
import { hashA } from './route-digest.js';

/** What identifies a member for ownership: a restarted node (new incarnation) scores anew. */
export interface OwnerCandidate {
  readonly name: string;
  readonly incarnation: number;
}

/** The score of `member` for `clientId`: a stable 32-bit hash (the same on every node and run). */
export function ownerScore(member: OwnerCandidate, clientId: string): number {
  // NUL separators: names and client ids cannot run into each other ("a"+"b1" vs "ab"+"1").
  return hashA(`${member.name}\u0000${member.incarnation}\u0000${clientId}`);
}

/**
 * The owner of `clientId` among `members` (the live members, self included), or null when there
 * are none. Independent of the order of `members`; equal scores (rare with 32 bits) go to the
 * smaller name, then the smaller incarnation, so every node breaks them the same way.
 */
export function clientOwner<M extends OwnerCandidate>(members: Iterable<M>, clientId: string): M | null {
  let best: M | null = null;
  let bestScore = -1;
  for (const m of members) {
    const score = ownerScore(m, clientId);
    if (best === null || score > bestScore || (score === bestScore && precedes(m, best))) {
      best = m;
      bestScore = score;
    }
  }
  return best;
}

function precedes(a: OwnerCandidate, b: OwnerCandidate): boolean {
  if (a.name !== b.name) return a.name < b.name;
  return a.incarnation < b.incarnation;
}
