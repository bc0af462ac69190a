// One node's side of route replication, composed from the pure parts: LocalRoutes (which filters
// this node has), RouteOutbox (their changes, batched and numbered), RouteTable (every node's
// slice, this node's own included, built from the same deltas peers get) and the anti-entropy
// decisions. It does no I/O: each call returns the effects to carry out (send a message, fetch a
// slice), and time enters only as calls to flush() and tick(). The gRPC wiring and the simulator
// in test/property/ drive this same class.

import { planPurge, planResync, sliceStillWanted, type LiveView } from './anti-entropy.js';
import { LocalRoutes } from './local-routes.js';
import type { DigestSet, PeerMessage, RouteSlice } from './peer-messages.js';
import { RouteOutbox } from './route-outbox.js';
import { RouteTable, type RouteMatch } from './route-table.js';

export type SyncEffect =
  /** Send to every live peer (not this node). */
  | { readonly kind: 'broadcast'; readonly message: PeerMessage }
  | { readonly kind: 'send'; readonly to: string; readonly message: PeerMessage }
  /** Ask `from` for `origin`'s full slice and pass the answer to receiveSlice(). */
  | { readonly kind: 'fetch'; readonly from: string; readonly origin: string };

export interface SyncSelf {
  readonly name: string;
  readonly incarnation: number;
}

export class RouteSync {
  readonly table = new RouteTable();
  private readonly local = new LocalRoutes();
  private readonly outbox: RouteOutbox;
  /** Live members (alive or suspect) as membership reported them, this node included. */
  private readonly live = new Map<string, number>();
  /** Origins with a fetch on its way, and the newest point of each that a delta or a digest
   * showed meanwhile: one fetch per origin until its answer or the next tick, however many
   * peers' digests show this node behind (else every tick would fetch once per peer). */
  private readonly fetching = new Map<string, { incarnation: number; seq: number }>();

  constructor(
    readonly self: SyncSelf,
    maxBatch?: number,
  ) {
    this.outbox = new RouteOutbox(self.name, self.incarnation, maxBatch);
    this.live.set(self.name, self.incarnation);
  }

  /** A local session subscribed to `filter` (as subscribed; once per new (session, filter)). */
  subscribe(filter: string): void {
    if (this.local.add(filter)) this.outbox.add(filter);
  }

  /** A local session's subscription to `filter` ended (unsubscribe, or the session ended). */
  unsubscribe(filter: string): void {
    if (this.local.remove(filter)) this.outbox.remove(filter);
  }

  /** Cuts the pending changes into deltas, applies them to this node's own slice, and returns
   * them for every peer. Call once per batching window (an event-loop turn, or a few ms). */
  flush(): SyncEffect[] {
    const effects: SyncEffect[] = [];
    for (let delta = this.outbox.take(); delta !== null; delta = this.outbox.take()) {
      this.table.apply(delta);
      effects.push({ kind: 'broadcast', message: { kind: 'route-delta', delta } });
    }
    return effects;
  }

  /** A route message from peer `from` (admitted by the transport). */
  receive(from: string, message: PeerMessage): SyncEffect[] {
    if (message.kind === 'route-delta') {
      const { delta } = message;
      if (delta.origin === this.self.name) return []; // only this node writes its own slice
      // On a gap the origin itself answers: it holds its slice at its latest sequence.
      if (this.table.apply(delta) !== 'gap') return [];
      return this.fetch(delta.origin, delta.origin, delta.incarnation, delta.seq);
    }
    if (message.kind === 'digests') {
      const effects: SyncEffect[] = [];
      for (const r of planResync(this.self.name, (o) => this.table.digest(o), message.set, this.live)) {
        const d = message.set.digests.find((x) => x.origin === r.origin)!;
        effects.push(...this.fetch(r.from, r.origin, d.incarnation, d.lastSeq));
      }
      return effects;
    }
    return [];
  }

  /**
   * The answer to a fetch of `origin` (null: the peer holds nothing of it); applied if the origin
   * is still alive at that incarnation. If a delta or digest seen while the fetch was on its way
   * is newer than the answer, the origin itself is asked (it always holds its latest slice).
   */
  receiveSlice(origin: string, slice: RouteSlice | null): SyncEffect[] {
    const wanted = this.fetching.get(origin);
    this.fetching.delete(origin);
    if (slice !== null && slice.origin === origin && sliceStillWanted(this.self.name, origin, slice.incarnation, this.live)) {
      this.table.replaceOrigin(slice);
    }
    if (wanted === undefined || this.live.get(origin) !== wanted.incarnation) return [];
    const held = this.table.digest(origin);
    const behind = held === null || held.incarnation < wanted.incarnation || held.lastSeq < wanted.seq;
    return behind ? this.fetch(origin, origin, wanted.incarnation, wanted.seq) : [];
  }

  /** Membership: `name` is alive (or suspect) as `incarnation` (up, or updated). */
  memberUp(name: string, incarnation: number): SyncEffect[] {
    if (name === this.self.name) return [];
    const before = this.live.get(name);
    if (before !== undefined && before > incarnation) return [];
    if (before !== undefined && before < incarnation) this.table.removeOrigin(name, before);
    this.table.readmit(name, incarnation);
    this.live.set(name, incarnation);
    // Anti-entropy on every membership change: the newcomer learns what this node holds (and
    // answers with its own digests when it sees this node up).
    return before === incarnation ? [] : [{ kind: 'send', to: name, message: { kind: 'digests', set: this.digestSet() } }];
  }

  /** Membership: `name` as `incarnation` is down; its routes go at once. */
  memberDown(name: string, incarnation: number): void {
    if (name === this.self.name) return;
    if (this.live.get(name) === incarnation) this.live.delete(name);
    this.table.removeOrigin(name, incarnation);
  }

  /** The anti-entropy timer: purge slices of nodes no longer live, and send digests to peers. */
  tick(): SyncEffect[] {
    // A fetch still unanswered was lost (or its peer died): allow a new one.
    this.fetching.clear();
    for (const p of planPurge(this.self.name, this.table.digests(), this.live)) this.table.removeOrigin(p.origin, p.incarnation);
    return [{ kind: 'broadcast', message: { kind: 'digests', set: this.digestSet() } }];
  }

  private fetch(from: string, origin: string, incarnation: number, seq: number): SyncEffect[] {
    const pending = this.fetching.get(origin);
    if (pending === undefined) {
      this.fetching.set(origin, { incarnation, seq });
      return [{ kind: 'fetch', from, origin }];
    }
    if (incarnation > pending.incarnation || (incarnation === pending.incarnation && seq > pending.seq)) {
      pending.incarnation = incarnation;
      pending.seq = seq;
    }
    return [];
  }

  match(topic: string): RouteMatch {
    return this.table.match(topic);
  }

  /** What this node answers to a FullSync for `origin`. */
  sliceOf(origin: string): RouteSlice | null {
    return this.table.sliceOf(origin);
  }

  digestSet(): DigestSet {
    return { from: this.self.name, digests: this.table.digests() };
  }

  /** Live peers, this node excluded: where a broadcast goes. */
  peers(): string[] {
    return [...this.live.keys()].filter((n) => n !== this.self.name);
  }

  liveView(): LiveView {
    return this.live;
  }

  /** This node's own filters (at least one local subscriber each). */
  localFilters(): string[] {
    return [...this.local.filters()];
  }
}
