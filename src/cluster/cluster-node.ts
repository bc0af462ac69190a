// One node's part of the cluster, composed: SWIM membership (who is alive), the gRPC transport
// (streams and control calls to each live member), route sync (this node's routes out, the
// others' in, anti-entropy), the forwarder (the dispatcher's remote target) and its intake on the
// receiving side, and retained replication. startNode() starts it only when --seeds is given; it
// hooks into the node through three seams: the router's observer, the dispatcher's remote target
// and the node's local delivery.
import type { TakeoverReply, TakeoverRequest } from '../actors/session-types.js';
import type { Dispatcher } from '../broker/dispatch.js';
import type { RetainedMessages } from '../broker/retained.js';
import type { ClusterView, MemberInfoView, Readiness, RouteInfo } from '../http/admin-source.js';
import type { Logger } from '../log.js';
import type { NodeLoad, NodeMetrics } from '../metrics/node-metrics.js';
import { compactMessage, type AppMessage } from '../protocol/message.js';
import type { Router } from '../routing/router.js';
import { Forwarder, type LocalDelivery } from './forwarder.js';
import { ForwardIntake } from './forward-intake.js';
import { GrpcTransport } from './grpc-transport.js';
import { joinHostPort } from './gossip-socket.js';
import { SwimMembership } from './membership.js';
import type { OriginDigest, PeerMessage } from './peer-messages.js';
import { clusterReadiness } from './readiness.js';
import { laneFor, type AdoptOutcome, type ClusterStatus, type MemberStatusInfo } from './peer-transport.js';
import { RetainedReplica } from './retained-replica.js';
import { RouteLink } from './route-link.js';
import type { ClusterSettings } from './cluster-settings.js';
import type { DrainReport } from './node-drain.js';
import { clientOwner, type OwnerCandidate } from './client-owner.js';
import { TakeoverService, type ConnectWaiter } from './takeover-service.js';
import { takeoverTimings } from './takeover.js';
import { CLUSTER_PROTOCOL_VERSION, type MemberInfo } from './types.js';

/** Digests to every peer, purge of dead slices, and overdue forward acks, this often. Anti-entropy
 * repairs what deltas missed within about one period. */
export const CLUSTER_TICK_MS = 2_000;
/** Deadline of the Status call that asks a peer for its load (admin API, dashboard). */
const PEER_LOAD_DEADLINE_MS = 1_000;
/** Deadline of the retained snapshot a joining node fetches. */
const RETAINED_SNAPSHOT_DEADLINE_MS = 10_000;

/** What the cluster needs of the node it runs in. */
export interface ClusterHost extends LocalDelivery {
  readonly router: Router;
  readonly dispatcher: Dispatcher;
  readonly retained: RetainedMessages;
  /** The shard's part of a session takeover (the node's supervisor). */
  readonly supervisor: { takeover(clientId: string, request: TakeoverRequest): void };
  /** Where the cluster reports what it counts (takeovers). */
  readonly metrics: NodeMetrics;
  /** This node's load, for peers' Status calls. */
  nodeLoad(): NodeLoad;
}

function mqttOf(info: MemberInfo): { mqttAddress?: string } {
  return info.mqttAddress === undefined ? {} : { mqttAddress: info.mqttAddress };
}

export class ClusterNode implements ClusterView {
  /** The node's metrics seam: count takeovers with metrics.observeTakeover(outcome, ms). */
  readonly metrics: NodeMetrics;
  private readonly nodeLoad: () => NodeLoad;
  /** The digests each peer last sent, since its current incarnation came up (readiness). */
  private readonly peerDigests = new Map<string, readonly OriginDigest[]>();
  /** Another member was seen alive since start (readiness: joined, latched). */
  private joinedBefore = false;
  private readonly membership: SwimMembership;
  private readonly transport: GrpcTransport;
  private readonly routes: RouteLink;
  private readonly forwarder: Forwarder;
  private readonly intake: ForwardIntake;
  private readonly replica: RetainedReplica;
  private readonly takeovers: TakeoverService;
  /** Takeover messages whose call is on its way (see the wire in the constructor). */
  private readonly takeoverCalls = new Set<string>();
  /** This node and the live members: who may own a client id (clientOwner). */
  private ownerCandidates: OwnerCandidate[];
  /** Peers whose streams are up. */
  private readonly up = new Set<string>();
  /** Incarnation of each member this node connected to. */
  private readonly connected = new Map<string, number>();
  private retainedFetched = false;
  /** Members declared down (name → that incarnation): seen up again at the same incarnation,
   * the split healed, and each side wrote retained messages the other never got. */
  private readonly downAt = new Map<string, number>();
  /** Healed members whose retained snapshot is to be fetched once their streams are up. */
  private readonly retainedResync = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private leaving: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** Runs the node's graceful leave for `shoal drain` (set by startNode once the node is up). */
  drainHandler: (() => Promise<DrainReport>) | null = null;

  constructor(
    private readonly settings: ClusterSettings,
    host: ClusterHost,
    private readonly log: Logger,
  ) {
    this.metrics = host.metrics;
    this.nodeLoad = () => host.nodeLoad();
    const self: MemberInfo = {
      name: settings.nodeName,
      incarnation: settings.incarnation,
      grpcAddress: joinHostPort(settings.advertiseHost, settings.grpc.port),
      protocolVersion: CLUSTER_PROTOCOL_VERSION,
      ...(settings.mqttAddress === undefined ? {} : { mqttAddress: settings.mqttAddress }),
    };
    this.membership = new SwimMembership({
      nodeName: self.name,
      incarnation: self.incarnation,
      grpcAddress: self.grpcAddress,
      ...(self.mqttAddress === undefined ? {} : { mqttAddress: self.mqttAddress }),
      gossip: settings.gossip,
      advertiseHost: settings.advertiseHost,
      secret: settings.secret,
      logger: log,
      ...(settings.gossipTimings === undefined ? {} : { timings: settings.gossipTimings }),
    });
    this.transport = new GrpcTransport({
      self,
      listen: joinHostPort(settings.grpc.host, settings.grpc.port),
      ...(settings.secret === undefined ? {} : { secret: settings.secret }),
      ...(settings.tls === undefined ? {} : { tls: settings.tls }),
      handlers: {
        routeSlice: (origin) => this.routes.sliceOf(origin),
        retainedSnapshot: () => this.replica.snapshot(),
        status: () => this.status(),
        drain: () => {
          if (this.drainHandler === null) return Promise.reject(new Error('the node is still starting; retry'));
          return this.drainHandler();
        },
        adopt: (_from, clientId) => this.takeovers.adopt(clientId),
      },
      logger: log,
    });
    this.routes = new RouteLink(self, this.transport, this.up, log);
    this.forwarder = new Forwarder(self.name, this.routes, this.transport, host, log, Date.now);
    this.intake = new ForwardIntake(host, (to, ackId, status) => this.transport.send(to, { kind: 'forward-ack', ack: { ackId, status } }, 0));
    this.replica = new RetainedReplica(self.name, host.retained, Date.now);
    this.ownerCandidates = [{ name: self.name, incarnation: self.incarnation }];
    this.takeovers = new TakeoverService({
      self: self.name,
      incarnation: self.incarnation,
      timings: takeoverTimings(settings.takeoverStepMs),
      onEnd: (outcome, ms) => this.metrics.observeTakeover(outcome, ms),
      wire: (to, message) => {
        // The machines resend what gets no answer; over gRPC a message is lost only when its call
        // fails. A resend while the same call is still on its way would only add load (under a
        // storm, calls slower than the resend period multiplied until every step timed out).
        const key = `${to}\u0000${message.id}\u0000${message.kind}`;
        if (this.takeoverCalls.has(key)) return;
        this.takeoverCalls.add(key);
        this.transport
          .takeover(to, message, this.takeovers.timings.stepMs)
          .catch((err: unknown) => {
            // The machines time out on their own; this says why a step went unanswered.
            log.debug({ event: 'cluster.takeover.send_failed', peer: to, kind: message.kind, clientId: message.clientId, err }, `takeover ${message.kind} to ${to} failed`);
          })
          .finally(() => this.takeoverCalls.delete(key));
      },
      peer: (to, message) => this.transport.send(to, message, 0),
      shards: { takeover: (clientId, request) => host.supervisor.takeover(clientId, request) },
      owner: (clientId) => clientOwner(this.ownerCandidates, clientId)!.name,
      live: (node) => node === self.name || this.connected.has(node),
      clock: {
        now: Date.now,
        setTimer: (ms, fn) => setTimeout(fn, ms).unref(),
        clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
      },
      log,
    });
    // Before storage is loaded: restored persistent subscriptions become this node's routes.
    host.router.observer = this.routes;
    host.dispatcher.remote = this.forwarder;
  }

  /** Serves gRPC, joins through the seeds. */
  async start(): Promise<void> {
    this.transport.on('message', (from, message) => this.onMessage(from, message));
    this.transport.on('takeover', (from, message) => this.takeovers.receive(from, message));
    this.transport.on('peer-up', (peer) => this.onPeerUp(peer));
    this.transport.on('peer-down', (name) => this.up.delete(name));
    this.membership.on('up', (info) => this.memberLive(info));
    this.membership.on('updated', (info) => this.memberLive(info));
    this.membership.on('down', (info) => this.memberDown(info));
    await this.transport.start();
    this.membersChanged(); // alone so far: registers what storage restored with itself
    await this.membership.start(this.settings.seeds);
    this.timer = setInterval(() => this.tick(), CLUSTER_TICK_MS);
    this.timer.unref();
    this.log.info({ event: 'cluster.started', node: this.settings.nodeName, incarnation: this.settings.incarnation, members: this.membership.members().length }, 'cluster node started');
  }

  /** A retained PUBLISH on this node (stored locally): replicate it. */
  retainedChanged(message: AppMessage): void {
    // Compacted: the update may wait in a peer's buffer (see Forwarder.route).
    const update = this.replica.localWrite(compactMessage(message));
    const lane = laneFor(message.topic, this.transport.lanes);
    for (const peer of this.connected.keys()) this.transport.send(peer, { kind: 'retained', updates: [update] }, lane);
  }

  /**
   * A CONNECT on this node: the cluster decides first (claim at the id's owner, moving the session
   * here if another node holds it); `waiter` then runs the local connect or refuses.
   */
  connecting(clientId: string, cleanStart: boolean, waiter: ConnectWaiter): void {
    this.takeovers.connect(clientId, cleanStart, waiter);
  }

  /**
   * Push direction: asks `toNode` to take the session of `clientId` (held here) over, as a
   * CONNECT there would, with no connection; the session ends up offline on `toNode`. An online
   * session's connection here gets 0x8E. Rejects when `toNode` cannot be called.
   */
  push(clientId: string, toNode: string): Promise<AdoptOutcome> {
    // The callee's takeover takes at most four steps; a little more for the call itself.
    return this.transport.adopt(toNode, clientId, 5 * this.takeovers.timings.stepMs);
  }

  /**
   * Graceful leave: moves every session held here to its owner among the other live members
   * (rendezvous hash, so a later CONNECT anywhere finds it at once), `concurrency` at a time.
   * `moved`: now on another node; `failed`: still here (each logged with why); `skipped`: ended
   * instead of moving (expiry 0) or gone meanwhile. Call it after refusing new CONNECTs and
   * disconnecting clients, before leaving the gossip.
   */
  async pushSessions(concurrency = 32): Promise<{ moved: number; failed: number; skipped: number }> {
    const others = this.ownerCandidates.slice(1);
    const ids = [...this.takeovers.sessions.local.keys()];
    const counts = { moved: 0, failed: 0, skipped: 0 };
    if (others.length === 0) {
      if (ids.length > 0) this.log.warn({ event: 'cluster.sessions.push_failed', sessions: ids.length }, `no other live member to push ${ids.length} sessions to; they stay in this node's storage`);
      return { ...counts, failed: ids.length };
    }
    this.log.info({ event: 'cluster.sessions.pushing', sessions: ids.length, members: others.length }, `pushing ${ids.length} sessions to ${others.length} members`);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const clientId = ids[next++]!;
        const to = clientOwner(others, clientId)!.name;
        try {
          const o = await this.push(clientId, to);
          if (o.moved) counts.moved++;
          else if (o.detail === '') counts.skipped++;
          else {
            counts.failed++;
            this.log.warn({ event: 'cluster.sessions.push_failed', clientId, to, detail: o.detail }, `session ${clientId} not pushed to ${to}: ${o.detail}`);
          }
        } catch (err) {
          counts.failed++;
          this.log.warn({ event: 'cluster.sessions.push_failed', clientId, to, err }, `session ${clientId} not pushed to ${to}`);
        }
        const done = counts.moved + counts.failed + counts.skipped;
        if (done % 1000 === 0) this.log.info({ event: 'cluster.sessions.push_progress', done, of: ids.length }, `pushed ${done} of ${ids.length} sessions`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
    this.log.info({ event: 'cluster.sessions.pushed', ...counts }, `sessions pushed: ${counts.moved} moved, ${counts.failed} failed, ${counts.skipped} ended instead`);
    return counts;
  }

  /** A shard's answer to a takeover step. */
  takeoverReply(clientId: string, reply: TakeoverReply): void {
    this.takeovers.shardReply(clientId, reply);
  }

  status(): ClusterStatus {
    const table = this.routes.table;
    const self = this.membership.self;
    const members: MemberStatusInfo[] = [
      { node: self.name, incarnation: self.incarnation, state: 'alive', routeCount: table.digest(self.name)?.count ?? 0, routeHash: table.digest(self.name)?.hash ?? '', forwardQueueDepth: 0, grpcAddress: self.grpcAddress, ...mqttOf(self) },
    ];
    for (const { info, state } of this.membership.members()) {
      const digest = table.digest(info.name);
      members.push({
        node: info.name,
        incarnation: info.incarnation,
        state,
        routeCount: digest?.count ?? 0,
        routeHash: digest?.hash ?? '',
        forwardQueueDepth: this.forwarder.awaiting(info.name),
        grpcAddress: info.grpcAddress,
        ...mqttOf(info),
      });
    }
    return { node: self.name, incarnation: self.incarnation, protocolVersion: CLUSTER_PROTOCOL_VERSION, members, load: this.nodeLoad() };
  }

  // ---- ClusterView: what the admin API, /metrics and /ready show --------------------------

  /** Every member with its state and routes; each alive peer is asked for its load (1 s deadline). */
  async members(): Promise<MemberInfoView[]> {
    const status = this.status();
    return await Promise.all(
      status.members.map(async (m): Promise<MemberInfoView> => {
        const self = m.node === status.node;
        let load: NodeLoad | null = self ? status.load : null;
        if (!self && m.state === 'alive' && this.up.has(m.node)) {
          load = await this.transport.status(m.node, PEER_LOAD_DEADLINE_MS).then(
            (s) => s.load,
            () => null, // slow or gone: shown without its load
          );
        }
        return { node: m.node, state: m.state, self, incarnation: m.incarnation, grpcAddress: m.grpcAddress, routes: m.routeCount, forwardQueueDepth: m.forwardQueueDepth, load };
      }),
    );
  }

  routeList(): RouteInfo[] {
    const byFilter = new Map<string, string[]>();
    const table = this.routes.table;
    for (const origin of table.origins()) {
      for (const filter of table.sliceOf(origin)?.filters ?? []) {
        const nodes = byFilter.get(filter);
        if (nodes === undefined) byFilter.set(filter, [origin]);
        else nodes.push(origin);
      }
    }
    return [...byFilter].map(([filter, nodes]) => ({ filter, nodes: nodes.sort() }));
  }

  routeCounts(): Map<string, number> {
    const table = this.routes.table;
    return new Map(table.digests().map((d) => [d.origin, d.count]));
  }

  forwardQueueDepths(): Map<string, number> {
    return new Map(this.membership.members().map(({ info }) => [info.name, this.forwarder.awaiting(info.name)]));
  }

  memberStates(): Map<string, number> {
    const counts = new Map<string, number>([['alive', 0], ['suspect', 0], ['down', 0]]);
    for (const { state } of this.membership.members()) counts.set(state, (counts.get(state) ?? 0) + 1);
    return counts;
  }

  readiness(): Readiness {
    const own = this.membership.gossipAddress;
    const r = clusterReadiness({
      soleSeed: this.settings.seeds.every((seed) => seed === own),
      joinedBefore: this.joinedBefore,
      members: this.membership.members().map(({ info, state }) => ({ name: info.name, incarnation: info.incarnation, state })),
      streamsUp: this.up,
      digestsFrom: this.peerDigests,
      held: (origin) => this.routes.table.digest(origin),
    });
    return { ready: r.joined && r.routesSynced, checks: { joined: r.joined, routesSynced: r.routesSynced }, waitingFor: r.waitingFor };
  }

  /** The other live members (those client ids are owned by, see ownerCandidates): where a
   * draining node pushes sessions (pushSessions) and refers clients (server-reference.ts). */
  livePeers(): MemberInfo[] {
    return this.membership.members().filter(({ info }) => this.connected.get(info.name) === info.incarnation).map(({ info }) => info);
  }

  /** Forwarded messages awaiting their acknowledgement. */
  get forwardsInFlight(): number {
    return this.forwarder.inFlight;
  }

  /** Resolves once no forwarded message awaits its acknowledgement (each ends within FORWARD_ACK_TIMEOUT_MS). */
  forwardsSettled(): Promise<void> {
    return this.forwarder.settled();
  }

  /** Leaves the gossip: the others see this node go at once and drop its routes. Forwards already
   * on their way are still taken until close(). */
  leave(): Promise<void> {
    this.leaving ??= (async () => {
      if (this.timer !== null) clearInterval(this.timer);
      this.takeovers.close();
      this.routes.close();
      await this.membership.leave();
    })();
    return this.leaving;
  }

  /** Leaves the gossip (if not done yet) and closes gRPC. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.leave();
      await this.transport.close();
      this.log.info({ event: 'cluster.stopped' }, 'left the cluster');
    })();
    return this.closing;
  }

  private memberLive(info: MemberInfo): void {
    if (this.downAt.get(info.name) === info.incarnation) this.retainedResync.add(info.name);
    this.downAt.delete(info.name);
    const known = this.connected.get(info.name);
    if (known !== undefined && known !== info.incarnation) {
      // Restarted: what the old process held (routes, unacknowledged copies) is gone.
      this.peerDigests.delete(info.name);
      this.forwarder.nodeGone(info.name);
      this.up.delete(info.name);
    }
    this.connected.set(info.name, info.incarnation);
    this.membersChanged();
    this.joinedBefore = true;
    this.routes.memberUp(info);
    this.transport.connect(info);
  }

  private memberDown(info: MemberInfo): void {
    if (this.connected.get(info.name) !== info.incarnation) return;
    this.downAt.set(info.name, info.incarnation);
    this.retainedResync.delete(info.name);
    this.connected.delete(info.name);
    this.membersChanged();
    this.peerDigests.delete(info.name);
    this.up.delete(info.name);
    this.transport.disconnect(info.name);
    this.forwarder.nodeGone(info.name);
    this.routes.memberDown(info);
  }

  private membersChanged(): void {
    const self = this.ownerCandidates[0]!;
    this.ownerCandidates = [self, ...[...this.connected].map(([name, incarnation]) => ({ name, incarnation }))];
    this.takeovers.membersChanged(this.ownerCandidates);
  }

  /** A session arrived on this node outside a CONNECT (restored from storage, or installed). */
  sessionHere(clientId: string): void {
    this.takeovers.sessionHere(clientId);
  }

  /** A session ended on this node or moved away. */
  sessionGone(clientId: string): void {
    this.takeovers.sessionGone(clientId);
  }

  private onPeerUp(peer: MemberInfo): void {
    if (this.connected.get(peer.name) !== peer.incarnation) return;
    this.up.add(peer.name);
    this.routes.peerUp(peer.name);
    if (!this.retainedFetched) {
      // Joining: every member holds the same set, one snapshot is enough.
      this.retainedFetched = true;
      this.fetchRetained(peer.name, 'join', () => {
        this.retainedFetched = false; // the next peer to come up is asked
      });
    } else if (this.retainedResync.delete(peer.name)) {
      // A healed split: merge the other side's writes (last writer wins, so both sides converge).
      this.fetchRetained(peer.name, 'heal', () => this.retainedResync.add(peer.name));
    }
  }

  private fetchRetained(peer: string, reason: 'join' | 'heal', onFailure: () => void): void {
    this.transport.fetchRetained(peer, RETAINED_SNAPSHOT_DEADLINE_MS).then(
      (updates) => {
        let applied = 0;
        for (const u of updates) if (this.replica.apply(u)) applied++;
        this.log.info({ event: 'cluster.retained.synced', from: peer, reason, received: updates.length, applied }, `retained messages synced from ${peer} (${reason})`);
      },
      (err: unknown) => {
        onFailure();
        this.log.warn({ event: 'cluster.retained.sync_failed', from: peer, reason, err }, `could not fetch retained messages from ${peer}; asking again when a peer's streams come up`);
      },
    );
  }

  private onMessage(from: string, message: PeerMessage): void {
    switch (message.kind) {
      case 'route-delta':
      case 'digests':
        if (message.kind === 'digests') this.peerDigests.set(from, message.set.digests);
        this.routes.receive(from, message);
        return;
      case 'forward':
        this.intake.deliver(from, message.publishes);
        return;
      case 'forward-ack':
        this.forwarder.onAck(from, message.ack);
        return;
      case 'registrations':
        this.takeovers.registrations(from, message.view, message.entries, message.complete);
        return;
      case 'evict':
        this.takeovers.evicted(message.clientId, message.since, message.winner);
        return;
      case 'retained':
        for (const u of message.updates) {
          if (this.replica.apply(u)) this.log.debug({ event: 'cluster.retained.applied', topic: u.topic, from, clear: u.message === null }, `retained ${u.topic} from ${from}`);
        }
        return;
    }
  }

  private tick(): void {
    this.routes.tick();
    this.forwarder.sweep();
    this.replica.prune();
  }
}
