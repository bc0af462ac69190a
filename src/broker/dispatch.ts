// Dispatch of one PUBLISH on this node: the router decides who gets it; a QoS 0 delivery to a
// client with an open connection is written directly (the fast path, no thread hop); every other
// delivery goes to the subscriber's session actor, which owns packet ids, the inflight window and
// the offline queue. Pure: the target supplies the I/O, so property tests drive this exact code.
import type { AppMessage, Delivery } from '../protocol/message.js';
import type { Presence, Router } from '../routing/router.js';

export interface DispatchTarget extends Presence {
  /** QoS 0 fast path: writes to the client's open connection; false when it has none. */
  sendDirect(clientId: string, message: AppMessage, delivery: Delivery): boolean;
  /**
   * Hands the delivery to the client's session actor. Returns the shard whose commit an
   * acknowledgement of this message must wait for, or null when the copy is not stored.
   */
  toSession(clientId: string, message: AppMessage, delivery: Delivery): number | null;
}

export class Dispatcher {
  private readonly deliveries: Delivery[] = [];
  /** Shards that store a copy of the last dispatched message (reused between calls). */
  readonly touched = new Set<number>();

  constructor(
    private readonly router: Router,
    private readonly target: DispatchTarget,
  ) {}

  /** Routes `message`; returns how many deliveries matched (0: nobody subscribes). */
  dispatch(message: AppMessage): number {
    const out = this.deliveries;
    out.length = 0;
    this.touched.clear();
    const matched = this.router.match(message.topic, message.publisherId, message.qos, message.retain, this.target, out);
    for (let i = 0; i < matched; i++) {
      const d = out[i]!;
      // Only QoS 0 may skip the actor: it needs no packet id or window. Order holds per QoS
      // level (MQTT 4.6); a QoS 0 message still queued behind a full QoS 1/2 window from the
      // client's offline time can be overtaken by a new direct one.
      if (d.qos === 0 && this.target.sendDirect(d.clientId, message, d)) continue;
      const shard = this.target.toSession(d.clientId, message, d);
      if (shard !== null) this.touched.add(shard);
    }
    return matched;
  }
}
