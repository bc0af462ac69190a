// Cross-node publish, the receiving side: a message a peer forwarded enters this node's dispatcher
// and reaches local sessions only (the publishing node already covered every other node). Its
// non-shared subscriptions match if the sender said so; of the shared groups only those the
// sender gave to this node, one local member each. When the sender asked for an ack, it goes back
// once the copies for persistent sessions are committed: 'stored', or 'no-member' when a named
// group has no member here any more (the sender then gives that group to another node).
import type { MatchScope } from '../routing/router.js';
import type { LocalDelivery } from './forwarder.js';
import type { ForwardedPublish, ForwardStatus } from './peer-messages.js';

/** The groups a forwarded message names, and which of them found a local member. */
class ForwardScope implements MatchScope {
  readonly found = new Set<string>();
  constructor(
    readonly direct: boolean,
    private readonly groups: readonly string[],
  ) {}

  sharedAllowed(share: string): boolean {
    if (!this.groups.includes(share)) return false;
    this.found.add(share);
    return true;
  }
}

/** A forward without shared groups: every local non-shared subscription, no group. */
const DIRECT_ONLY: MatchScope = { direct: true, sharedAllowed: () => false };

export class ForwardIntake {
  /** Forwarded messages delivered here. */
  received = 0;

  constructor(
    private readonly local: LocalDelivery,
    /** Sends a ForwardAck back to the node that forwarded the message. */
    private readonly ack: (to: string, ackId: number, status: ForwardStatus) => void,
  ) {}

  deliver(from: string, publishes: readonly ForwardedPublish[]): void {
    for (const p of publishes) {
      this.received++;
      const scope = p.deliverDirect && p.sharedGroups.length === 0 ? null : new ForwardScope(p.deliverDirect, p.sharedGroups);
      const result = this.local.deliverLocal(p.message, scope ?? DIRECT_ONLY);
      if (p.ackId === 0) continue;
      if (result === null) {
        // Shutting down: the sender counts it and, for a shared group, picks another node.
        this.ack(from, p.ackId, 'refused');
        continue;
      }
      const { stored } = result;
      const status: ForwardStatus = scope !== null && scope.found.size < p.sharedGroups.length ? 'no-member' : 'stored';
      if (stored === null) this.ack(from, p.ackId, status);
      else void stored.then(() => this.ack(from, p.ackId, status));
    }
  }
}
