// Cross-node publish, the sending side: the remote delivery target of the dispatcher. For each
// message published on this node it asks the route table which nodes hold matching routes and
// sends one copy per destination node (never one per subscriber) on the peer lane chosen by the
// topic's hash, so per-publisher, per-topic order holds. Each shared group matching the topic gets
// its one delivery from one node holding members of it, picked round-robin across those nodes
// (this node included); a node answering 'no-member' (its members left meanwhile), or going down
// before it answers, makes the forwarder pick another.
//
// QoS 1/2: the publisher's PUBACK/PUBREC waits for a ForwardAck 'stored' from every node a copy
// went to (the receiver answers once its shards committed the copies for persistent sessions, at
// once when there are none), or until that node is declared down or the ack is overdue: then the
// wait ends, counted and logged, so a dead peer never holds a publisher forever.
import type { RemotePlan, RemoteTarget } from '../broker/dispatch.js';
import type { Logger } from '../log.js';
import { compactMessage, type AppMessage } from '../protocol/message.js';
import type { MatchScope } from '../routing/router.js';
import type { ForwardAck, ForwardedPublish } from './peer-messages.js';
import { laneFor, type PeerTransport } from './peer-transport.js';
import type { RouteMatch, RouteTable } from './route-table.js';

/** A ForwardAck not received within this time ends the wait for it (the peer is alive by
 * membership but its stream lost the copy or the ack); long enough for a slow commit. */
export const FORWARD_ACK_TIMEOUT_MS = 10_000;

/** Topics whose route match is cached between table changes (cleared when full). */
const MATCH_CACHE_TOPICS = 10_000;

/** The route table and a counter that changes whenever the table may have. */
export interface RouteSource {
  readonly table: RouteTable;
  readonly version: number;
}

/** Delivers a message to this node's sessions within a scope (the node implements it). */
export interface LocalDelivery {
  /** Returns the deliveries matched and a promise of the copies for persistent sessions being
   * stored (null when none were); null when the node is shutting down and takes nothing. */
  deliverLocal(message: AppMessage, scope: MatchScope): { matched: number; stored: Promise<void> | null } | null;
}

/** The parts of one published message still waited for. */
interface AckWait {
  remaining: number;
  resolve: () => void;
  readonly promise: Promise<void>;
}

function newWait(): AckWait {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { remaining: 0, resolve, promise };
}

/** Shared groups whose round-robin position is kept. */
const MAX_GROUP_TURNS = 10_000;

/** Publishes per forward batch: bounds what one buffered peer message holds (the transport
 * bounds how many it buffers per lane). */
const MAX_FORWARD_BATCH = 64;

const NOTHING: RemotePlan = { nodes: 0, scope: null, stored: null };
const NO_GROUPS: readonly string[] = [];

/** One copy sent to one node with an ack id. */
interface SentCopy {
  readonly node: string;
  readonly message: AppMessage;
  /** Shared groups this copy carries (to re-pick on 'no-member' or when the node goes down). */
  readonly groups: readonly string[];
  /** Nodes already tried for these groups (null: only `node`). */
  readonly tried: Set<string> | null;
  readonly wait: AckWait | null;
  readonly sentAt: number;
}

/** Scope of the local part of a message: everything but the groups given to other nodes. */
class LocalScope implements MatchScope {
  readonly direct = true;
  readonly denied = new Set<string>();
  sharedAllowed(share: string): boolean {
    return !this.denied.has(share);
  }
}

/** Scope of a re-picked delivery: only the named groups. */
class GroupsScope implements MatchScope {
  readonly direct = false;
  constructor(private readonly groups: ReadonlySet<string>) {}
  sharedAllowed(share: string): boolean {
    return this.groups.has(share);
  }
}

export interface ForwarderCounters {
  /** Copies handed to the transport. */
  forwarded: number;
  /** Copies the transport refused (peer unknown, or its bounded buffer full). */
  dropped: number;
  /** Ack waits ended because the node went down or the ack was overdue. */
  ackGivenUp: number;
  /** Shared-group deliveries no node could take. */
  sharedLost: number;
}

export class Forwarder implements RemoteTarget {
  readonly counters: ForwarderCounters = { forwarded: 0, dropped: 0, ackGivenUp: 0, sharedLost: 0 };
  private readonly sent = new Map<number, SentCopy>();
  private nextAckId = 1;
  /** Per shared group (`$share/{group}/{filter}`), the round-robin position over its nodes. */
  private readonly turns = new Map<string, number>();
  /** Route matches by topic, valid while routes.version is cacheVersion: the table changes
   * rarely next to publishes, and a match walks two tries and allocates. */
  private readonly cache = new Map<string, RouteMatch>();
  private cacheVersion = -1;
  /** Forward batches handed to the transport this callback and still growing, by lane and node. */
  private readonly open = new Map<string, ForwardedPublish[]>();
  /** Callers of settled(), resolved when no copy awaits its ack. */
  private settledWaiters: (() => void)[] = [];

  constructor(
    private readonly self: string,
    private readonly routes: RouteSource,
    private readonly transport: PeerTransport,
    private readonly local: LocalDelivery,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  route(message: AppMessage): RemotePlan {
    // $SYS topics are this node's own statistics (MQTT 4.7.2): never forwarded.
    if (message.topic.startsWith('$SYS/')) return NOTHING;
    const { nodes, groups } = this.match(message.topic);
    if (groups.length === 0 && (nodes.length === 0 || (nodes.length === 1 && nodes[0] === this.self))) return NOTHING;
    let scope: LocalScope | null = null;
    let groupsFor: Map<string, string[]> | null = null;
    for (const { share, nodes: holders } of groups) {
      const chosen = this.pick(share, holders, null);
      if (chosen === null || chosen === this.self) continue;
      (scope ??= new LocalScope()).denied.add(share);
      groupsFor ??= new Map();
      let list = groupsFor.get(chosen);
      if (list === undefined) groupsFor.set(chosen, (list = []));
      list.push(share);
    }
    // Copies wait in the transport's buffer while a peer is unreachable: a parsed PUBLISH is a
    // view into its socket read (64 KiB), which each buffered copy would keep alive.
    message = compactMessage(message);
    const wait = message.qos > 0 ? newWait() : null;
    let count = 0;
    for (const node of nodes) {
      if (node !== this.self && this.send(node, message, true, groupsFor?.get(node) ?? NO_GROUPS, null, wait)) count++;
    }
    if (groupsFor !== null) {
      for (const [node, shares] of groupsFor) {
        if (!nodes.includes(node) && this.send(node, message, false, shares, null, wait)) count++;
      }
    }
    return { nodes: count, scope, stored: wait !== null && wait.remaining > 0 ? wait.promise : null };
  }

  /** A ForwardAck from `from`. */
  onAck(from: string, ack: ForwardAck): void {
    const copy = this.sent.get(ack.ackId);
    if (copy === undefined || copy.node !== from) return;
    this.sent.delete(ack.ackId);
    // No member left there, or the node is shutting down: the group's delivery goes elsewhere.
    if (ack.status !== 'stored' && copy.groups.length > 0) this.repick(copy);
    if (ack.status === 'refused') {
      this.log.warn({ event: 'cluster.forward.refused', peer: from, topic: copy.message.topic }, `peer ${from} refused a forwarded message; the publisher is acknowledged without it`);
    }
    this.partDone(copy.wait);
    this.notifySettled(); // after a re-pick, which may send a new copy
  }

  /** `node` went down (or restarted): its outstanding copies are given up, shared groups re-picked. */
  nodeGone(node: string): void {
    let given = 0;
    for (const [id, copy] of this.sent) {
      if (copy.node !== node) continue;
      this.sent.delete(id);
      given++;
      if (copy.groups.length > 0) this.repick(copy);
      this.partDone(copy.wait);
    }
    this.notifySettled();
    if (given > 0) {
      this.counters.ackGivenUp += given;
      this.log.warn({ event: 'cluster.forward.peer_gone', peer: node, copies: given }, `peer ${node} went down before acknowledging ${given} forwarded messages; their publishers are acknowledged without it`);
    }
  }

  /** Ends waits for acks older than FORWARD_ACK_TIMEOUT_MS (called on a timer). */
  sweep(): void {
    const limit = this.now() - FORWARD_ACK_TIMEOUT_MS;
    let overdue = 0;
    for (const [id, copy] of this.sent) {
      if (copy.sentAt > limit) break; // Map order is send order
      this.sent.delete(id);
      overdue++;
      this.partDone(copy.wait);
    }
    this.notifySettled();
    if (overdue > 0) {
      this.counters.ackGivenUp += overdue;
      this.log.warn({ event: 'cluster.forward.ack_overdue', copies: overdue, timeoutMs: FORWARD_ACK_TIMEOUT_MS }, `${overdue} forwarded messages got no acknowledgement in time; their publishers are acknowledged without it`);
    }
  }

  /** Copies sent to any node and not yet acknowledged (or given up). */
  get inFlight(): number {
    return this.sent.size;
  }

  /** Resolves once no copy awaits its ack: each is acknowledged, or given up (its node went down,
   * or FORWARD_ACK_TIMEOUT_MS passed). A draining node waits for this before it leaves. */
  settled(): Promise<void> {
    if (this.sent.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** Copies sent to `node` and not yet acknowledged. */
  awaiting(node: string): number {
    let n = 0;
    for (const copy of this.sent.values()) if (copy.node === node) n++;
    return n;
  }

  private send(node: string, message: AppMessage, direct: boolean, groups: readonly string[], tried: Set<string> | null, wait: AckWait | null): boolean {
    // An ack is asked for when the publisher waits, or a shared group must be re-picked if the
    // node has no member left (QoS 0 too: "exactly one member" does not depend on QoS).
    const wantsAck = wait !== null || groups.length > 0;
    const ackId = wantsAck ? this.nextAckId++ : 0;
    const publish: ForwardedPublish = { message, deliverDirect: direct, sharedGroups: groups, ackId };
    if (!this.enqueue(node, publish)) {
      if (this.counters.dropped++ % 1000 === 0) {
        this.log.warn({ event: 'cluster.forward.dropped', peer: node, dropped: this.counters.dropped }, `forwarded message to ${node} dropped: peer not connected or its buffer is full`);
      }
      if (groups.length > 0) this.repick({ node, message, groups, tried, wait, sentAt: 0 });
      return false;
    }
    this.counters.forwarded++;
    if (wantsAck) {
      if (wait !== null) wait.remaining++;
      this.sent.set(ackId, { node, message, groups, tried, wait, sentAt: this.now() });
    }
    return true;
  }

  /**
   * Adds `publish` to the open batch for its node and lane, or hands the transport a new one. A
   * batch stays open until the current callback's microtasks run (what one socket read of a
   * publisher produced), so several publishes share one peer message and its encoding; the
   * transport then sends one frame per lane per turn.
   */
  private enqueue(node: string, publish: ForwardedPublish): boolean {
    const lane = laneFor(publish.message.topic, this.transport.lanes);
    const key = `${lane}:${node}`;
    const open = this.open.get(key);
    if (open !== undefined && open.length < MAX_FORWARD_BATCH) {
      open.push(publish);
      return true;
    }
    const publishes = [publish];
    if (!this.transport.send(node, { kind: 'forward', publishes }, lane)) return false;
    if (this.open.size === 0) queueMicrotask(() => this.open.clear());
    this.open.set(key, publishes);
    return true;
  }

  /** Gives the groups of a copy that could not be delivered to another node holding them. */
  private repick(copy: SentCopy): void {
    const tried = copy.tried ?? new Set([copy.node]);
    for (const share of copy.groups) {
      const nodes = this.match(copy.message.topic).groups.find((g) => g.share === share)?.nodes ?? [];
      const chosen = this.pick(share, nodes, tried);
      if (chosen === null) {
        this.counters.sharedLost++;
        this.log.warn({ event: 'cluster.shared.lost', share, topic: copy.message.topic }, `no node has a member of ${share} left; the message is not delivered to that group`);
        continue;
      }
      tried.add(chosen);
      if (chosen === this.self) {
        const stored = this.local.deliverLocal(copy.message, new GroupsScope(new Set([share])))?.stored ?? null;
        if (stored !== null && copy.wait !== null) {
          copy.wait.remaining++;
          void stored.then(() => this.partDone(copy.wait));
        }
        continue;
      }
      this.send(chosen, copy.message, false, [share], tried, copy.wait);
    }
  }

  private match(topic: string): RouteMatch {
    if (this.cacheVersion !== this.routes.version || this.cache.size >= MATCH_CACHE_TOPICS) {
      this.cache.clear();
      this.cacheVersion = this.routes.version;
    }
    let m = this.cache.get(topic);
    if (m === undefined) this.cache.set(topic, (m = this.routes.table.match(topic)));
    return m;
  }

  /** Round-robin over `nodes` for `share`, skipping `tried`; null when none is left. */
  private pick(share: string, nodes: readonly string[], tried: ReadonlySet<string> | null): string | null {
    const candidates = tried === null ? nodes : nodes.filter((n) => !tried.has(n));
    if (candidates.length === 0) return null;
    const turn = this.turns.get(share) ?? 0;
    // Groups come and go: forget every position rather than grow (the rotation restarts).
    if (this.turns.size >= MAX_GROUP_TURNS) this.turns.clear();
    this.turns.set(share, turn + 1);
    return candidates[turn % candidates.length]!;
  }

  private notifySettled(): void {
    if (this.sent.size > 0 || this.settledWaiters.length === 0) return;
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private partDone(wait: AckWait | null): void {
    if (wait !== null && --wait.remaining === 0) wait.resolve();
  }
}
