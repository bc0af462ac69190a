// Route sync between this node and its peers, over the pure route modules. This node's own
// filter-level transitions (first local subscriber of a filter, last one gone: the router tells
// LocalRoutes) become deltas in the RouteOutbox, flushed once per event-loop turn: applied to this
// node's own slice of the table and sent to every peer on lane 0 (one origin's deltas stay in
// sequence order). Incoming deltas are applied in order; a gap, or a digest showing a slice behind
// the sender's, fetches that origin's full slice (FullSync). Digests go to every peer on a timer
// and whenever membership changes; slices of nodes that are down, or alive as a newer incarnation,
// are purged.
import type { Logger } from '../log.js';
import type { RouteObserver } from '../routing/router.js';
import { planPurge, planResync, sliceStillWanted, type LiveView } from './anti-entropy.js';
import { LocalRoutes } from './local-routes.js';
import type { DigestSet, RouteDelta } from './peer-messages.js';
import type { PeerTransport } from './peer-transport.js';
import { RouteOutbox } from './route-outbox.js';
import { RouteTable } from './route-table.js';
import type { MembershipSource } from './types.js';

/** Deadline of one FullSync call; a miss is retried by the next digest round. */
export const FULL_SYNC_DEADLINE_MS = 3_000;

export class RouteSync implements RouteObserver {
  readonly table = new RouteTable();
  private readonly local = new LocalRoutes();
  private readonly outbox: RouteOutbox;
  private scheduled = false;
  /** Origins whose full slice is being fetched (one call at a time per origin). */
  private readonly fetching = new Set<string>();
  private closed = false;

  constructor(
    private readonly membership: MembershipSource,
    private readonly transport: PeerTransport,
    /** The peers whose streams are up: deltas and digests go to these. */
    private readonly peers: () => Iterable<string>,
    private readonly log: Logger,
  ) {
    const self = membership.self;
    this.outbox = new RouteOutbox(self.name, self.incarnation);
  }

  // RouteObserver: the local router's (session, filter) pairs.
  added(filter: string): void {
    if (this.local.add(filter)) this.change(filter, 'add');
  }

  removed(filter: string): void {
    if (this.local.remove(filter)) this.change(filter, 'remove');
  }

  /** This node's routes in the table (its own slice). */
  get localRouteCount(): number {
    return this.local.size;
  }

  onDelta(from: string, delta: RouteDelta): void {
    const result = this.table.apply(delta);
    if (result === 'gap') this.fetch(delta.origin, from);
    else if (result === 'applied') this.log.debug({ event: 'cluster.routes.applied', origin: delta.origin, incarnation: delta.incarnation, seq: delta.seq, adds: delta.adds, removes: delta.removes }, `route delta ${delta.seq} of ${delta.origin} applied`);
  }

  onDigests(set: DigestSet): void {
    for (const req of planResync(this.membership.self.name, (origin) => this.table.digest(origin), set, this.live())) {
      this.fetch(req.origin, req.from);
    }
  }

  /** Sends this node's digests to `peer`, or to every peer. */
  sendDigests(peer?: string): void {
    const set: DigestSet = { from: this.membership.self.name, digests: this.table.digests() };
    for (const p of peer === undefined ? this.peers() : [peer]) this.transport.send(p, { kind: 'digests', set }, 0);
  }

  /** Purges the slices of nodes not alive, or alive as a newer incarnation. */
  purge(): void {
    const self = this.membership.self.name;
    for (const p of planPurge(self, this.table.digests(), this.live())) {
      if (this.table.removeOrigin(p.origin, p.incarnation)) {
        this.log.info({ event: 'cluster.routes.purged', origin: p.origin, incarnation: p.incarnation }, `routes of ${p.origin} (incarnation ${p.incarnation}) purged`);
      }
    }
  }

  /** Membership saw `name` alive at `incarnation`: accept its routes again if they were purged. */
  readmit(name: string, incarnation: number): void {
    this.table.readmit(name, incarnation);
  }

  close(): void {
    this.closed = true;
  }

  /** Node name → incarnation of every member alive or suspect, this node included. */
  live(): LiveView {
    const view = new Map<string, number>();
    view.set(this.membership.self.name, this.membership.self.incarnation);
    for (const { info, state } of this.membership.members()) if (state !== 'down') view.set(info.name, info.incarnation);
    return view;
  }

  private change(filter: string, op: 'add' | 'remove'): void {
    if (op === 'add') this.outbox.add(filter);
    else this.outbox.remove(filter);
    if (this.scheduled) return;
    this.scheduled = true;
    // Once per turn: every SUBSCRIBE read in this turn goes in one delta.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.closed) return;
    const peers = [...this.peers()];
    for (let delta = this.outbox.take(); delta !== null; delta = this.outbox.take()) {
      this.table.apply(delta);
      for (const peer of peers) this.transport.send(peer, { kind: 'route-delta', delta }, 0);
    }
  }

  private fetch(origin: string, from: string): void {
    if (this.fetching.has(origin) || this.closed) return;
    this.fetching.add(origin);
    this.transport.fetchSlice(from, origin, FULL_SYNC_DEADLINE_MS).then(
      (slice) => {
        this.fetching.delete(origin);
        if (slice === null || this.closed) return;
        if (!sliceStillWanted(this.membership.self.name, slice.origin, slice.incarnation, this.live())) return;
        if (this.table.replaceOrigin(slice)) {
          this.log.debug({ event: 'cluster.routes.resynced', origin, incarnation: slice.incarnation, from, filters: slice.filters, seq: slice.lastSeq }, `routes of ${origin} resynced from ${from}`);
        }
      },
      (err: unknown) => {
        this.fetching.delete(origin);
        this.log.warn({ event: 'cluster.routes.resync_failed', origin, from, err }, `could not fetch the routes of ${origin} from ${from}; the next digest round retries`);
      },
    );
  }
}
