// Route sync between this node and its peers: drives the pure RouteSync (route-sync.ts) over the
// transport. This node's own filter-level transitions (first local subscriber of a filter, last
// one gone: the router tells this observer) are flushed once per event-loop turn as deltas to
// every peer on lane 0 (one origin's deltas stay in sequence order). Incoming deltas and digests
// go to RouteSync; the fetches it asks for are FullSync calls. Membership changes and a timer
// drive anti-entropy and the purge of dead or superseded incarnations.
import type { Logger } from '../log.js';
import type { RouteObserver } from '../routing/router.js';
import type { PeerMessage, RouteDelta, RouteSlice } from './peer-messages.js';
import type { PeerTransport } from './peer-transport.js';
import { RouteSync, type SyncEffect } from './route-sync.js';
import type { RouteTable } from './route-table.js';
import type { MemberInfo } from './types.js';

/** Deadline of one FullSync call; a miss is retried by the next digest round. */
export const FULL_SYNC_DEADLINE_MS = 3_000;

export class RouteLink implements RouteObserver {
  private readonly sync: RouteSync;
  private scheduled = false;
  private closed = false;
  /** Bumped by every call that may change the table: the forwarder's match cache keys on it. */
  version = 0;

  constructor(
    self: MemberInfo,
    private readonly transport: PeerTransport,
    /** The peers whose streams are up: deltas and digests go to these. */
    private readonly up: ReadonlySet<string>,
    private readonly log: Logger,
  ) {
    this.sync = new RouteSync({ name: self.name, incarnation: self.incarnation });
  }

  get table(): RouteTable {
    return this.sync.table;
  }

  // RouteObserver: the local router's (session, filter) pairs.
  added(filter: string): void {
    this.sync.subscribe(filter);
    this.schedule();
  }

  removed(filter: string): void {
    this.sync.unsubscribe(filter);
    this.schedule();
  }

  sliceOf(origin: string): RouteSlice | null {
    return this.sync.sliceOf(origin);
  }

  /** A route-delta or digests message from `from`. */
  receive(from: string, message: PeerMessage): void {
    this.version++;
    const delta = message.kind === 'route-delta' ? message.delta : null;
    const before = delta === null ? 0 : (this.table.digest(delta.origin)?.lastSeq ?? 0);
    this.run(this.sync.receive(from, message));
    if (delta !== null && this.appliedNow(delta, before)) {
      this.log.debug({ event: 'cluster.routes.applied', origin: delta.origin, incarnation: delta.incarnation, seq: delta.seq, adds: delta.adds, removes: delta.removes }, `route delta ${delta.seq} of ${delta.origin} applied`);
    }
  }

  /** The streams to `peer` are up: it learns what this node holds. */
  peerUp(peer: string): void {
    this.transport.send(peer, { kind: 'digests', set: this.sync.digestSet() }, 0);
  }

  memberUp(info: MemberInfo): void {
    this.version++;
    this.purging(() => this.run(this.sync.memberUp(info.name, info.incarnation)));
  }

  memberDown(info: MemberInfo): void {
    this.version++;
    this.purging(() => this.sync.memberDown(info.name, info.incarnation));
  }

  /** The anti-entropy timer. */
  tick(): void {
    this.version++;
    this.purging(() => this.run(this.sync.tick()));
  }

  close(): void {
    this.closed = true;
  }

  private appliedNow(delta: RouteDelta, before: number): boolean {
    const held = this.table.digest(delta.origin);
    return held !== null && held.incarnation === delta.incarnation && held.lastSeq === delta.seq && before !== delta.seq;
  }

  /** Runs `change` and logs each origin whose routes it purged. */
  private purging(change: () => void): void {
    const before = this.table.digests();
    change();
    for (const d of before) {
      const now = this.table.digest(d.origin);
      if (now === null || now.incarnation !== d.incarnation) {
        this.log.info({ event: 'cluster.routes.purged', origin: d.origin, incarnation: d.incarnation, routes: d.count }, `routes of ${d.origin} (incarnation ${d.incarnation}) purged`);
      }
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Once per turn: every SUBSCRIBE read in this turn goes in one delta.
    setImmediate(() => {
      this.scheduled = false;
      this.version++;
      if (!this.closed) this.run(this.sync.flush());
    });
  }

  private run(effects: readonly SyncEffect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'broadcast':
          for (const peer of this.up) this.transport.send(peer, e.message, 0);
          break;
        case 'send':
          // A peer whose streams are not up yet gets the same message from peerUp().
          if (this.up.has(e.to)) this.transport.send(e.to, e.message, 0);
          break;
        case 'fetch':
          this.fetch(e.origin, e.from);
          break;
      }
    }
  }

  /** One FullSync call; RouteSync keeps one per origin on its way (cleared on tick). */
  private fetch(origin: string, from: string): void {
    if (this.closed) return;
    this.transport.fetchSlice(from, origin, FULL_SYNC_DEADLINE_MS).then(
      (slice) => {
        if (this.closed) return;
        this.version++;
        this.run(this.sync.receiveSlice(origin, slice));
        const held = this.table.digest(origin);
        if (slice !== null && held !== null && held.incarnation === slice.incarnation && held.lastSeq === slice.lastSeq) {
          this.log.debug({ event: 'cluster.routes.resynced', origin, incarnation: slice.incarnation, from, filters: slice.filters, seq: slice.lastSeq }, `routes of ${origin} resynced from ${from}`);
        }
      },
      (err: unknown) => {
        // Not passed to RouteSync: the next tick allows a new fetch (no retry loop on a dead peer).
        this.log.warn({ event: 'cluster.routes.resync_failed', origin, from, err }, `could not fetch the routes of ${origin} from ${from}; the next digest round retries`);
      },
    );
  }
}
