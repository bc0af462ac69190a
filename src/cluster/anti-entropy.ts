// Anti-entropy decisions, as pure functions of digests and the membership view. Every node sends
// its digests (one per origin slice it holds, its own included) to its peers on a timer and on
// every membership change; a receiver compares them with its own and fetches the full slice of
// each origin it is behind on. What repairs what:
// - a lost or reordered delta: the origin's digest shows a later sequence (or, at the same
//   sequence, another hash), so the receiver fetches the slice;
// - a restart: the new incarnation's digest is newer than the slice held;
// - a dead node: its slice is purged once membership no longer lists it (planPurge), and digests
//   about it are ignored, so no peer can bring it back.

import type { DigestSet, OriginDigest } from './peer-messages.js';

/** Node name → incarnation of every member the deciding node's membership counts as alive
 * (suspect included: routes stay until a member is declared down), the deciding node too. */
export type LiveView = ReadonlyMap<string, number>;

export interface ResyncRequest {
  /** Whose slice to fetch. */
  readonly origin: string;
  /** Which peer to fetch it from (the one that advertised the newer slice). */
  readonly from: string;
}

export interface PurgeRequest {
  readonly origin: string;
  /** Purge this incarnation and older ones. */
  readonly incarnation: number;
}

/**
 * The origins to fetch after `theirs` arrived from a peer. `mine` looks up the deciding node's
 * digest of an origin. The deciding node's own slice is never fetched (it is the only writer), and
 * nothing is fetched about an origin that is not alive at the digest's incarnation.
 */
export function planResync(
  self: string,
  mine: (origin: string) => OriginDigest | null,
  theirs: DigestSet,
  live: LiveView,
): ResyncRequest[] {
  const plan: ResyncRequest[] = [];
  for (const digest of theirs.digests) {
    if (digest.origin === self) continue;
    if (live.get(digest.origin) !== digest.incarnation) continue;
    if (live.get(theirs.from) === undefined) continue;
    const held = mine(digest.origin);
    if (isBehind(held, digest, theirs.from === digest.origin)) plan.push({ origin: digest.origin, from: theirs.from });
  }
  return plan;
}

/**
 * True when `held` must be replaced by the slice `theirs` describes. From the origin itself any
 * difference counts (it is authoritative); from a third party only a later point of the sequence,
 * since two copies at the same point hold the same slice unless one was corrupted, which the
 * origin's own digest repairs.
 */
export function isBehind(held: OriginDigest | null, theirs: OriginDigest, authoritative: boolean): boolean {
  if (held === null) return theirs.lastSeq > 0 || theirs.count > 0;
  if (held.incarnation !== theirs.incarnation) return held.incarnation < theirs.incarnation;
  if (theirs.lastSeq > held.lastSeq) return true;
  if (!authoritative) return false;
  return theirs.lastSeq !== held.lastSeq || theirs.count !== held.count || theirs.hash !== held.hash;
}

/**
 * Slices to purge: every origin held whose node is not alive, or alive as a newer incarnation.
 * The deciding node's own slice stays (it is alive by definition).
 */
export function planPurge(self: string, held: readonly OriginDigest[], live: LiveView): PurgeRequest[] {
  const plan: PurgeRequest[] = [];
  for (const digest of held) {
    if (digest.origin === self) continue;
    const incarnation = live.get(digest.origin);
    if (incarnation === undefined || incarnation > digest.incarnation) {
      plan.push({ origin: digest.origin, incarnation: digest.incarnation });
    }
  }
  return plan;
}

/** Whether a slice answered by a FullSync may still be applied: its origin is alive at that
 * incarnation now (membership may have changed while the call was in flight). */
export function sliceStillWanted(self: string, origin: string, incarnation: number, live: LiveView): boolean {
  return origin !== self && live.get(origin) === incarnation;
}
