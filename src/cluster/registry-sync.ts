// Keeping the owners' registries (ClaimRegistry, src/cluster/takeover.ts) told where sessions
// live, without a stop-the-world when ownership moves. Each node knows the sessions living on it
// (`local`, with when each arrived). After every membership change it sends every live member
// (itself included) the whole list of its sessions that member owns under the new view, in
// batches, the last one marked complete; between changes it sends the sessions that ended here.
// An owner trusts "no session known" for a client id only once every live member's complete list
// for its own view has arrived; until then (or a grace period) a claim for an unknown id waits
// (see TakeoverService). Pure bookkeeping: no timers, no I/O.
import { hashA } from './route-digest.js';
import type { Registration } from './peer-messages.js';
import type { OwnerCandidate } from './client-owner.js';

/** Views ahead of this node's whose complete lists are kept (bounded: one per membership change
 * in flight). */
const EARLY_VIEWS = 8;

/** Registrations per message at most. */
export const REGISTRATION_BATCH = 1000;

/** A name for a member view: the same set of (name, incarnation) gives the same key on every node. */
export function viewKey(members: readonly OwnerCandidate[]): string {
  const names = members.map((m) => `${m.name}\u0000${m.incarnation}`).sort();
  return `${members.length}:${hashA(names.join('\u0001')).toString(16)}`;
}

export class RegistrySync {
  /** Sessions living on this node: client id → when it arrived (epoch ms; 0: restored). */
  readonly local = new Map<string, number>();
  /** Sessions that ended here since the last flush. */
  private readonly gone = new Set<string>();
  private viewNow = '';
  /** The live members of the current view, this node included: its own list (sent to itself
   * once the burst of changes is over) counts like the others', or an owner that restarted would
   * answer "none known" for the sessions it restored itself. */
  private expected: string[] = [];
  private readonly completeFrom = new Set<string>();
  /** Complete lists for a view this node has not reached yet (a peer saw the change first), so
   * they count once it does: members that reach it later send nothing more for it. */
  private readonly early = new Map<string, Set<string>>();
  private forced = false;

  get view(): string {
    return this.viewNow;
  }

  /** A session arrived here (a CONNECT, or a takeover's accept) at `since`. */
  here(clientId: string, since: number): void {
    this.local.set(clientId, since);
    this.gone.delete(clientId);
  }

  /** A session restored from storage (or installed, before its CONNECT attaches). */
  restored(clientId: string): void {
    if (!this.local.has(clientId)) this.local.set(clientId, 0);
  }

  /** A session ended here, or moved away. */
  ended(clientId: string): void {
    if (this.local.delete(clientId)) this.gone.add(clientId);
  }

  /** The members changed (`members`: this node included). */
  viewChanged(members: readonly OwnerCandidate[]): void {
    this.viewNow = viewKey(members);
    this.expected = members.map((m) => m.name);
    this.completeFrom.clear();
    for (const from of this.early.get(this.viewNow) ?? []) this.completeFrom.add(from);
    this.early.clear();
    this.forced = false;
  }

  /** `from` sent its complete list for `view`; returns whether the registry is complete now. */
  markComplete(from: string, view: string): boolean {
    if (view === this.viewNow) this.completeFrom.add(from);
    else {
      // Views only move forward, but which one comes next is unknown: keep a few.
      if (!this.early.has(view) && this.early.size >= EARLY_VIEWS) this.early.delete(this.early.keys().next().value!);
      let senders = this.early.get(view);
      if (senders === undefined) this.early.set(view, (senders = new Set()));
      senders.add(from);
    }
    return this.complete();
  }

  /** Every live member sent its complete list for the current view (or the wait was given up). */
  complete(): boolean {
    return this.forced || this.expected.every((n) => this.completeFrom.has(n));
  }

  /** Members whose complete list for this view has not arrived. */
  missing(): string[] {
    return this.expected.filter((n) => !this.completeFrom.has(n));
  }

  /** Stops waiting for the missing lists (they did not come within the grace period). */
  giveUp(): void {
    this.forced = true;
  }

  /** Every local session, grouped by owner: one list per member of `members` (empty ones too). */
  fullLists(members: readonly string[], owner: (clientId: string) => string): Map<string, Registration[]> {
    const lists = new Map<string, Registration[]>(members.map((m) => [m, []]));
    for (const [clientId, since] of this.local) lists.get(owner(clientId))?.push({ clientId, present: true, since });
    return lists;
  }

  /** The sessions that ended since the last call (and did not come back), grouped by owner. */
  takeGone(owner: (clientId: string) => string): Map<string, Registration[]> {
    const lists = new Map<string, Registration[]>();
    for (const clientId of this.gone) {
      if (this.local.has(clientId)) continue;
      const o = owner(clientId);
      let list = lists.get(o);
      if (list === undefined) lists.set(o, (list = []));
      list.push({ clientId, present: false, since: 0 });
    }
    this.gone.clear();
    return lists;
  }
}

/** `list` in batches of at most REGISTRATION_BATCH, at least one (possibly empty). */
export function batches<T>(list: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += REGISTRATION_BATCH) out.push(list.slice(i, i + REGISTRATION_BATCH));
  if (out.length === 0) out.push([]);
  return out;
}
