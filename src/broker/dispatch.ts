// Dispatch of one PUBLISH: the router decides which local sessions get it; a QoS 0 delivery to a
// client with an open connection is written directly (the fast path, no thread hop); every other
// local delivery goes to the subscriber's session actor, which owns packet ids, the inflight window
// and the offline queue. In a cluster a second target, the remote one, takes the copies for other
// nodes first (src/cluster/forwarder.ts), and may narrow what the local match delivers (the shared
// groups it gave to another node). Pure: the targets supply the I/O, so property tests drive this
// exact code.
import type { AppMessage, Delivery } from '../protocol/message.js';
import type { MatchScope, Presence, Router } from '../routing/router.js';

export interface DispatchTarget extends Presence {
  /** QoS 0 fast path: writes to the client's open connection; false when it has none. */
  sendDirect(clientId: string, message: AppMessage, delivery: Delivery): boolean;
  /**
   * Hands the delivery to the client's session actor. Returns the shard whose commit an
   * acknowledgement of this message must wait for, or null when the copy is not stored.
   */
  toSession(clientId: string, message: AppMessage, delivery: Delivery): number | null;
}

/** What the remote target did with one message published on this node. */
export interface RemotePlan {
  /** Nodes the message was forwarded to (they count as matches for a v5 PUBACK's reason code). */
  readonly nodes: number;
  /** What the local match may still deliver; null: every local subscription. */
  readonly scope: MatchScope | null;
  /** Resolves once every node that took a copy for a persistent session has stored it (or is
   * gone); null when nothing is waited for. */
  readonly stored: Promise<void> | null;
}

/** Copies of a message for other nodes (the cluster's forwarder). */
export interface RemoteTarget {
  route(message: AppMessage): RemotePlan;
}

export class Dispatcher {
  private readonly deliveries: Delivery[] = [];
  /** Shards that store a copy of the last dispatched message (reused between calls). */
  readonly touched = new Set<number>();
  /** The remote part of the last dispatch() to wait for before acknowledging it; null if none. */
  remoteStored: Promise<void> | null = null;
  /** Set when the node runs in a cluster. */
  remote: RemoteTarget | null = null;
  /**
   * Set when an ACL is in force: whether a client may receive a message on a topic. A delivery it
   * refuses is skipped and not counted as a match — whichever way the message came (published
   * here, forwarded by a peer), a client never gets what it may not read.
   */
  readFilter: ((clientId: string, topic: string) => boolean) | null = null;

  constructor(
    private readonly router: Router,
    private readonly target: DispatchTarget,
  ) {}

  /** Routes a message published on this node, to other nodes and local sessions; returns how many
   * deliveries matched (0: nobody subscribes), counting each remote node once. */
  dispatch(message: AppMessage): number {
    this.remoteStored = null;
    if (this.remote === null) return this.deliverLocal(message, null);
    const plan = this.remote.route(message);
    this.remoteStored = plan.stored;
    return plan.nodes + this.deliverLocal(message, plan.scope);
  }

  /** Delivers to local sessions only, within `scope` (a message a peer forwarded, or the local
   * part of one published here); returns how many deliveries matched. */
  deliverLocal(message: AppMessage, scope: MatchScope | null): number {
    const out = this.deliveries;
    out.length = 0;
    this.touched.clear();
    const matched = this.router.match(message.topic, message.publisherId, message.qos, message.retain, this.target, out, scope);
    const readFilter = this.readFilter;
    let refused = 0;
    for (let i = 0; i < matched; i++) {
      const d = out[i]!;
      if (readFilter !== null && !readFilter(d.clientId, message.topic)) {
        refused++;
        continue;
      }
      // Only QoS 0 may skip the actor: it needs no packet id or window. Order holds per QoS
      // level (MQTT 4.6); a QoS 0 message still queued behind a full QoS 1/2 window from the
      // client's offline time can be overtaken by a new direct one.
      if (d.qos === 0 && this.target.sendDirect(d.clientId, message, d)) continue;
      const shard = this.target.toSession(d.clientId, message, d);
      if (shard !== null) this.touched.add(shard);
    }
    return matched - refused;
  }
}
