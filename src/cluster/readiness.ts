// When a clustered node is ready for traffic (/ready; a load balancer or a rolling restart waits
// for it): it has joined, and it holds the routes of every alive peer, so a PUBLISH it accepts
// reaches subscribers on every node. Pure: the caller passes what membership, the transport and
// route sync know now.
import type { OriginDigest } from './peer-messages.js';

export interface ReadinessMember {
  readonly name: string;
  readonly incarnation: number;
  readonly state: 'alive' | 'suspect' | 'down';
}

export interface ReadinessInput {
  /** The seed list names no node but this one: a cluster of one is joined by definition. */
  readonly soleSeed: boolean;
  /** This node has seen another member alive since it started. Latched: a node whose peers all
   * leave keeps serving, and stays ready (else a 2-node cluster restarting one node would have
   * no ready node at all). */
  readonly joinedBefore: boolean;
  /** The other members as membership knows them. */
  readonly members: readonly ReadinessMember[];
  /** Peers whose gRPC streams are up. */
  readonly streamsUp: ReadonlySet<string>;
  /** The digests each peer last sent (its view of every origin), since its current incarnation came up. */
  readonly digestsFrom: ReadonlyMap<string, readonly OriginDigest[]>;
  /** This node's copy of `origin`'s routes, or null when it holds none. */
  held(origin: string): { incarnation: number; lastSeq: number } | null;
}

export interface ClusterReadiness {
  joined: boolean;
  routesSynced: boolean;
  /** What is still awaited, one phrase each, for the operator reading /ready. */
  waitingFor: string[];
}

export function clusterReadiness(input: ReadinessInput): ClusterReadiness {
  const waitingFor: string[] = [];
  const alive = input.members.filter((m) => m.state === 'alive');
  const joined = input.soleSeed || input.joinedBefore || alive.length > 0;
  if (!joined) waitingFor.push('another cluster member: no seed has answered yet');
  let routesSynced = true;
  for (const m of alive) {
    if (!input.streamsUp.has(m.name)) {
      routesSynced = false;
      waitingFor.push(`gRPC streams to ${m.name}`);
      continue;
    }
    const digests = input.digestsFrom.get(m.name);
    if (digests === undefined) {
      routesSynced = false;
      waitingFor.push(`route digests from ${m.name}`);
      continue;
    }
    // A peer lists its own slice once it has one; none means it has no routes to copy.
    const own = digests.find((d) => d.origin === m.name && d.incarnation === m.incarnation);
    if (own === undefined) continue;
    const held = input.held(m.name);
    if (held === null || held.incarnation !== own.incarnation || held.lastSeq < own.lastSeq) {
      routesSynced = false;
      waitingFor.push(`routes of ${m.name} (have seq ${held?.incarnation === own.incarnation ? held.lastSeq : 'none'}, it has ${own.lastSeq})`);
    }
  }
  return { joined, routesSynced: joined && routesSynced, waitingFor };
}
