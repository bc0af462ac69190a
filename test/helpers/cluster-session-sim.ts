// A seeded multi-node simulator for sessions moving between nodes (issue 17). Each node runs the
// REAL Shard with its session actors (over an in-memory store that outlives the node, as its
// SQLite file would) and the REAL TakeoverService (claim registry, old-node holder, new-node
// takeovers); the network and lagging membership views are sim-network.ts's, so takeover
// messages are dropped, duplicated, delayed, reordered and cut by partitions, and each node's
// idea of the live members (hence of a client id's owner) lags the truth. Time is rounds of
// ROUND_MS on one virtual clock; a node's timers die with it.
//
// What stands in for the rest of a node (src/node.ts), and so is NOT under test here:
// - connections: a simulated client per client id (auto-acknowledging, with the spec's QoS 2
//   receiver state), whose packets reach the shard as the node would hand them over;
// - publishing and routing: a publish on node P goes to every node that P believes alive and whose
//   shard holds a session with a matching subscription at that moment (an exact route table, no
//   RouteSync lag), as one forward per node that is never duplicated (a gRPC stream) but may be
//   lost or cut off; the publisher counts as acknowledged once every such node answered that its
//   shard committed the copies (the forwarder's ForwardAck 'stored', without its timeout that
//   acknowledges anyway). Publishers have no sessions of their own.
import { Shard, type Clock } from '../../src/actors/shard.js';
import type { FromShard, ToShard } from '../../src/actors/shard-protocol.js';
import { SESSION_NEVER_EXPIRES, type SessionEffect, type SessionEvent, type SessionLimits } from '../../src/actors/session-types.js';
import { clientOwner, type OwnerCandidate } from '../../src/cluster/client-owner.js';
import type { PeerMessage } from '../../src/cluster/peer-messages.js';
import type { SessionTakeoverMessage } from '../../src/cluster/takeover-codec.js';
import { TakeoverService } from '../../src/cluster/takeover-service.js';
import type { TakeoverTimings } from '../../src/cluster/takeover.js';
import { createLogger } from '../../src/log.js';
import type { AppMessage, QoS } from '../../src/protocol/message.js';
import { MemorySessionStore } from '../../src/storage/memory-session-store.js';
import type { SessionStore, StoredSession, StoreOp } from '../../src/storage/types.js';
import { FakeClock } from './shard-fakes.js';
import { prng, SimNetwork, type Delivery, type Faults, type SimMember } from './sim-network.js';
import { refMatches } from './topic-reference.js';

/** Virtual ms per round. */
export const ROUND_MS = 10;
/** Short timings, so that timeouts, retries and the in-doubt path happen within a run. */
export const SIM_TIMINGS: TakeoverTimings = { stepMs: 100, retryMs: 20, holdMs: 200, decisionTtlMs: 5_000, leaseMs: 400 };
export const SIM_LIMITS: SessionLimits = { maxInflight: 8, maxQueuedMessages: 0, maxQueuedBytes: 0, maxSubscriptions: 0 };
export const FILTER = 't/#';
export const TOPIC = 't/x';

/** The disk of one node: outlives its crashes (a restart loads what was committed). */
class Disk implements SessionStore {
  readonly inner = new MemorySessionStore();
  loadAll(): Promise<StoredSession[]> {
    return this.inner.loadAll();
  }
  apply(ops: readonly StoreOp[]): Promise<void> {
    return this.inner.apply(ops);
  }
  async close(): Promise<void> {}
}

export interface SessionNode extends SimMember {
  readonly disk: Disk;
  shard: Shard;
  service: TakeoverService;
  /** Connection ids stay unique across restarts (a stale id must never match a new connection). */
  nextConnId: number;
  /** Open connections (as the node sees them), by connection id. */
  readonly conns: Map<number, { clientId: string; cleanStart: boolean }>;
  /** Forwards whose copies the shard is committing: ticket → publish number and its sender. */
  readonly forwards: Map<number, { no: number; from: number }>;
  /** Forwards taken in by this incarnation (a stream delivers each once). */
  readonly seenForwards: Set<number>;
  nextTicket: number;
  /** Graceful leave under way: no new connections; sessions pushed and not yet answered. */
  leaving: boolean;
  readonly pushes: Set<string>;
}

export interface SimConnection {
  readonly node: number;
  readonly incarnation: number;
  readonly connId: number;
  readonly cleanStart: boolean;
  /** CONNACK received. */
  attached: boolean;
}

export interface SimClient {
  readonly id: string;
  /** Persistent: Clean Start 0 and a session that never expires; otherwise Clean Start 1, expiry 0. */
  readonly persistent: boolean;
  /** The connection the client uses (its older ones are abandoned: it reads nothing from them). */
  conn: SimConnection | null;
  /** Application deliveries per publish number, and the QoS they came with. */
  readonly received: Map<number, { count: number; qos: QoS }>;
  /** QoS 2 packet ids answered with PUBREC and not yet released: a resend of one is no new message. */
  readonly awaitingRel: Set<number>;
  /** The event number of the last Clean Start CONNECT sent: from then on its old session may be
   * discarded, even if that CONNECT is refused (the old node ends it as soon as it is asked). */
  cleanAt: number;
}

export interface Publication {
  readonly no: number;
  readonly qos: QoS;
  readonly node: number;
  readonly incarnation: number;
  /** The event number of the publish. */
  readonly at: number;
  /** Clients with a session subscribed on a node the copy went to, and the QoS of their copy. */
  readonly interested: Map<string, QoS>;
  /** Clients whose session held the copy when their node's shard took it in (it may have moved
   * away between the node's routing and its shard's turn). */
  readonly stored: Map<string, Set<number>>;
  /** Nodes whose 'stored' answer is still awaited. */
  readonly waiting: Set<number>;
  acked: boolean;
}

type Payload =
  | { kind: 'takeover'; message: SessionTakeoverMessage }
  /** Registrations and evictions (the peer stream's lane 0). */
  | { kind: 'peer'; message: PeerMessage }
  | { kind: 'forward'; no: number }
  | { kind: 'stored'; no: number }
  /** Graceful leave: the leaving node asks a peer to take a session over (the Adopt call). */
  | { kind: 'adopt'; clientId: string }
  | { kind: 'adopted'; clientId: string; moved: boolean };

const silent = createLogger('silent');

/** Lets every promise chain of the in-memory stores and shards run to its end. */
async function drain(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}

export class SessionSim {
  readonly nodes: SessionNode[] = [];
  readonly clients = new Map<string, SimClient>();
  readonly publications: Publication[] = [];
  /** Shard failures and lost copies the shards reported (each a bug). */
  readonly anomalies: string[] = [];
  /** Sessions ended by the owner's eviction (after a partition healed): node, client, when. */
  readonly evictions: { node: number; clientId: string; at: number }[] = [];
  /** Sessions that ended (not moved): node, client, when. */
  readonly ends: { node: number; clientId: string; at: number }[] = [];
  /** What happened, one line per step of interest (printed with a failure). */
  readonly trace: string[] = [];
  readonly clock = new FakeClock();
  readonly net: SimNetwork<Payload, SessionNode>;
  round = 0;
  /** Counts publishes, Clean Starts and evictions, to order them. */
  private events = 0;
  private nextIncarnation = 1;
  private nextPublication = 1;

  constructor(
    nodes: number,
    clients: readonly { id: string; persistent: boolean }[],
    seed: number,
    faults: Faults,
    /** How takeover messages travel: `lossy` loses some (a failed call), `retried` none. */
    private readonly takeoverDelivery: Delivery = 'lossy',
  ) {
    this.net = new SimNetwork(prng(seed), faults, this.nodes);
    for (let i = 0; i < nodes; i++) {
      const node = {
        index: i,
        name: `n${i}`,
        up: true,
        incarnation: this.nextIncarnation++,
        view: new Map<string, number>(),
        purged: new Set<string>(),
        disk: new Disk(),
        nextConnId: 1,
        conns: new Map(),
        forwards: new Map(),
        seenForwards: new Set(),
        nextTicket: 1,
        leaving: false,
        pushes: new Set<string>(),
      } as Omit<SessionNode, 'shard' | 'service'> as SessionNode;
      this.nodes.push(node);
    }
    for (const a of this.nodes) for (const b of this.nodes) if (a !== b) a.view.set(b.name, b.incarnation);
    for (const c of clients) this.clients.set(c.id, { ...c, conn: null, received: new Map(), awaitingRel: new Set(), cleanAt: 0 });
  }

  /** Starts every node's shard (empty disks). */
  async start(): Promise<void> {
    for (const n of this.nodes) await this.boot(n);
    for (const n of this.nodes) n.service.membersChanged(this.members(n));
    await drain();
  }

  // ---- the world's steps -----------------------------------------------------------------

  /** One round: membership moves, messages due arrive, time passes ROUND_MS. */
  async step(): Promise<void> {
    const changed = (observer: SessionNode): void => observer.service.membersChanged(this.members(observer));
    this.net.membershipStep({ down: changed, up: changed });
    for (const m of this.net.due(this.round)) this.receive(this.nodes[m.to]!, m.from, m.payload);
    await drain();
    this.clock.advance(ROUND_MS);
    await drain();
    this.round++;
  }

  async rounds(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.step();
  }

  /**
   * `n` rounds with nothing sent meanwhile skipped in one move of the clock (timers fire in
   * order): waits out long timeouts (the registry's grace) without a round each.
   */
  async idle(n: number): Promise<void> {
    const end = this.round + n;
    while (this.round < end) {
      if (this.net.pending > 0 || !this.viewsAgree()) {
        await this.step();
        continue;
      }
      const due = this.clock.dueTimes()[0];
      const jump = Math.max(1, Math.min(end - this.round, due === undefined ? Infinity : Math.floor((due - this.clock.now()) / ROUND_MS)));
      this.clock.advance(jump * ROUND_MS - ROUND_MS);
      this.round += jump - 1;
      await this.step();
    }
  }

  private viewsAgree(): boolean {
    return this.nodes.every((o) => !o.up || this.nodes.every((x) => x === o || (x.up ? o.view.get(x.name) === x.incarnation : !o.view.has(x.name))));
  }

  /** The client connects to `node` (abandoning any connection it had: it stays half-open there). */
  connect(clientId: string, nodeIndex: number, cleanStart: boolean): void {
    const client = this.client(clientId);
    const node = this.nodes[nodeIndex]!;
    client.conn = null;
    if (!node.up || node.leaving) return;
    const connId = node.nextConnId++;
    const conn: SimConnection = { node: node.index, incarnation: node.incarnation, connId, cleanStart, attached: false };
    client.conn = conn;
    if (cleanStart) client.cleanAt = ++this.events;
    node.conns.set(connId, { clientId, cleanStart });
    this.note(`${clientId} connects to ${node.name} (conn ${connId}${cleanStart ? ', clean start' : ''})`);
    const incarnation = node.incarnation;
    node.service.connect(clientId, cleanStart, {
      proceed: () => {
        // As src/node.ts: a connection closed while its CONNECT waited connects nothing.
        if (!this.alive(node, incarnation) || !node.conns.has(connId)) return;
        const event: SessionEvent = {
          type: 'connect',
          connId,
          clientId,
          protocolVersion: 5,
          cleanStart,
          expiryIntervalSec: client.persistent ? SESSION_NEVER_EXPIRES : 0,
          receiveMaximum: 65535,
          will: null,
          username: null,
          ownerCheck: true,
        };
        this.toShard(node, [{ t: 'event', clientId, event }]);
      },
      refuse: (_code, detail) => {
        this.note(`${node.name} refuses ${clientId} conn ${connId}: ${detail}`);
        node.conns.delete(connId);
        if (client.conn === conn) client.conn = null;
      },
    });
  }

  /** DISCONNECT (normal) on the client's connection, if it has one. */
  disconnect(clientId: string): void {
    const client = this.client(clientId);
    const conn = client.conn;
    client.conn = null;
    if (conn === null) return;
    const node = this.nodes[conn.node]!;
    if (!this.alive(node, conn.incarnation) || !node.conns.delete(conn.connId)) return;
    this.toShard(node, [{ t: 'event', clientId, event: { type: 'disconnect', connId: conn.connId, kind: 'normal' } }]);
  }

  /** SUBSCRIBE to FILTER at `qos` on the client's connection once CONNACKed. */
  subscribe(clientId: string, qos: QoS): void {
    const conn = this.client(clientId).conn;
    if (conn === null || !conn.attached) return;
    const node = this.nodes[conn.node]!;
    if (!this.alive(node, conn.incarnation)) return;
    const requests = [{ filter: FILTER, options: { qos, noLocal: false, retainAsPublished: false, retainHandling: 0 as const } }];
    this.toShard(node, [{ t: 'event', clientId, event: { type: 'subscribe', connId: conn.connId, packetId: 1, requests } }]);
  }

  /** A publisher on `node` publishes one message to TOPIC. */
  publish(nodeIndex: number, qos: QoS): void {
    const p = this.nodes[nodeIndex]!;
    if (!p.up) return;
    const targets = this.nodes.filter((n) => (n === p || p.view.get(n.name) === n.incarnation) && this.matching(n).length > 0);
    const interested = new Map<string, QoS>();
    for (const n of targets) {
      if (!this.net.reachable(p.index, n.index)) continue;
      for (const [clientId, subQos] of this.matching(n)) if (this.client(clientId).persistent) interested.set(clientId, Math.min(qos, subQos) as QoS);
    }
    const pub: Publication = { no: this.nextPublication++, qos, node: p.index, incarnation: p.incarnation, at: ++this.events, interested, stored: new Map(), waiting: new Set(targets.map((n) => n.index)), acked: targets.length === 0 };
    this.publications.push(pub);
    this.note(`publish #${pub.no} qos ${qos} on ${p.name} to [${targets.map((n) => n.name).join(',')}], interested [${[...interested.keys()].join(',')}]`);
    for (const n of targets) {
      if (n === p) this.takeForward(p, p.index, pub.no);
      else this.net.send(p.index, n.index, { kind: 'forward', no: pub.no }, this.round, 'stream');
    }
  }

  /** Crash (what is committed stays on its disk), `down` rounds later start a new incarnation. */
  async restart(nodeIndex: number, down: number): Promise<void> {
    const node = this.nodes[nodeIndex]!;
    if (!node.up) return;
    node.up = false;
    this.note(`${node.name} crashes`);
    node.service.close();
    node.conns.clear();
    for (const c of this.clients.values()) if (c.conn?.node === node.index) c.conn = null;
    await this.rounds(down);
    node.up = true;
    node.incarnation = this.nextIncarnation++;
    node.view.clear();
    node.purged.clear();
    node.forwards.clear();
    node.seenForwards.clear();
    await this.boot(node);
    this.note(`${node.name} restarted`);
  }

  /**
   * Graceful leave and return (one step of a rolling restart): the node stops taking connections,
   * pushes every session living here to its owner among the other live members it sees (the
   * Adopt call; the adopter takes it over as a CONNECT would, closing its connection with 0x8E),
   * waits for the answers (at most `wait` rounds), leaves, and comes back `down` rounds later.
   */
  async leave(nodeIndex: number, wait: number, down: number): Promise<void> {
    const node = this.nodes[nodeIndex]!;
    if (!node.up) return;
    const others = this.members(node).slice(1);
    if (others.length === 0) return;
    node.leaving = true;
    for (const clientId of node.service.sessions.local.keys()) {
      const to = clientOwner(others, clientId)!.name;
      node.pushes.add(clientId);
      this.note(`${node.name} pushes ${clientId} to ${to}`);
      this.net.send(node.index, this.indexOf(to), { kind: 'adopt', clientId }, this.round, 'once');
    }
    for (let r = 0; r < wait && node.pushes.size > 0 && node.up; r++) await this.step();
    if (!node.up) return;
    this.note(`${node.name} leaves (${node.pushes.size} pushes unanswered)`);
    node.pushes.clear();
    node.leaving = false;
    await this.restart(nodeIndex, down);
  }

  /** Faults stop, and every node that is down comes back. */
  calm(): void {
    this.net.calm();
  }

  // ---- what the checks read --------------------------------------------------------------

  /** Nodes holding a session of `clientId` that has a connection. */
  liveSessions(clientId: string): string[] {
    return this.nodes.filter((n) => n.up && (n.shard.session(clientId)?.connId ?? null) !== null).map((n) => n.name);
  }

  /** Nodes holding a session of `clientId` at all. */
  sessionsOf(clientId: string): string[] {
    return this.nodes.filter((n) => n.up && n.shard.session(clientId) !== undefined).map((n) => n.name);
  }

  /**
   * Publications a persistent subscriber must get: acknowledged to the publisher, no Clean Start
   * of the client accepted since, and either a copy went into its session (`routed` false: what
   * the node holding the session took in must reach it wherever the session moves) or (`routed`
   * true) a node the publisher forwarded to held its subscribed session when it published.
   * Not owed: a copy published before the client's session ended by its request (a Clean Start
   * CONNECT sent before that end, refused or not: the old node discards the session when asked)
   * or by an eviction (the client was live on both sides of a partition; the side that lost ends
   * its session, queue included, as documented).
   */
  owed(clientId: string, routed: boolean): Publication[] {
    const client = this.client(clientId);
    const endedAfter = (at: number): boolean =>
      this.ends.some((e) => e.clientId === clientId && e.at > at && (client.cleanAt < e.at || this.evictions.some((v) => v.node === e.node && v.clientId === clientId && v.at > at && v.at < e.at)));
    return this.publications.filter((p) => {
      if (!p.acked || client.cleanAt >= p.at || endedAfter(p.at)) return false;
      return routed ? p.interested.has(clientId) : p.stored.has(clientId);
    });
  }

  client(id: string): SimClient {
    const c = this.clients.get(id);
    if (c === undefined) throw new Error(`no simulated client ${id}`);
    return c;
  }

  /** The trace's last `n` lines and each node's registry state, for a failure message. */
  tail(n = 80): string {
    const nodes = this.nodes.map((x) => `${x.name}@${x.incarnation}${x.up ? '' : ' down'}: view [${[...x.view.keys()].join(',')}] registry ${x.service.sessions.complete() ? 'complete' : `waiting for ${x.service.sessions.missing().join(',')}`}`);
    return [...this.trace.slice(-n), ...nodes].join('\n');
  }

  private note(line: string): void {
    this.trace.push(`r${this.round} ${line}`);
  }

  // ---- a node's insides ------------------------------------------------------------------

  private alive(node: SessionNode, incarnation: number): boolean {
    return node.up && node.incarnation === incarnation;
  }

  /** Sessions on `node` subscribed to FILTER, with the subscription's QoS. */
  private matching(node: SessionNode): [string, QoS][] {
    if (!node.up) return [];
    const out: [string, QoS][] = [];
    for (const id of this.clients.keys()) {
      const s = node.shard.session(id);
      if (s === undefined) continue;
      for (const [filter, options] of Object.entries(s.subscriptions)) if (refMatches(filter, TOPIC)) out.push([id, options.qos]);
    }
    return out;
  }

  private async boot(node: SessionNode): Promise<void> {
    const incarnation = node.incarnation;
    const clock: Clock = {
      now: () => this.clock.now(),
      setTimer: (ms, fn) => this.clock.setTimer(ms, () => (this.alive(node, incarnation) ? fn() : undefined)),
      clearTimer: (h) => this.clock.clearTimer(h),
    };
    const port = { post: (m: FromShard) => (this.alive(node, incarnation) ? this.fromShard(node, m) : undefined) };
    node.shard = new Shard(port, node.disk, SIM_LIMITS, clock);
    node.service = new TakeoverService({
      self: node.name,
      incarnation,
      timings: SIM_TIMINGS,
      wire: (to, message) => {
        this.note(`${node.name} -> ${to}: ${describe(message)}`);
        this.net.send(node.index, this.indexOf(to), { kind: 'takeover', message: structuredClone(message) }, this.round, this.takeoverDelivery);
      },
      peer: (to, message) => this.net.send(node.index, this.indexOf(to), { kind: 'peer', message: structuredClone(message) }, this.round, 'stream'),
      shards: {
        takeover: (clientId, request) => {
          this.note(`${node.name} shard: ${request.op} ${clientId} (${request.id})`);
          if (request.op === 'export' && request.id.startsWith('evict/')) this.evictions.push({ node: node.index, clientId, at: ++this.events });
          this.toShard(node, [{ t: 'takeover', clientId, request }]);
        },
      },
      owner: (clientId) => clientOwner(this.members(node), clientId)!.name,
      live: (name) => name === node.name || node.view.has(name),
      clock,
      log: silent,
    });
    await node.shard.start();
    await drain();
    // Alone so far (the cluster node's start): registers what storage restored with itself.
    node.service.membersChanged(this.members(node));
    await drain();
  }

  private members(node: SessionNode): OwnerCandidate[] {
    return [{ name: node.name, incarnation: node.incarnation }, ...[...node.view].map(([name, incarnation]) => ({ name, incarnation }))];
  }

  private indexOf(name: string): number {
    return Number(name.slice(1));
  }

  /** Work for the shard goes in a microtask, in order, as the node's supervisor would queue it:
   * never re-entering the shard from within its own output. */
  private toShard(node: SessionNode, batch: ToShard[]): void {
    const incarnation = node.incarnation;
    queueMicrotask(() => {
      if (this.alive(node, incarnation)) node.shard.handleBatch(batch);
    });
  }

  private receive(node: SessionNode, from: number, payload: Payload): void {
    switch (payload.kind) {
      case 'takeover':
        this.note(`${node.name} <- ${this.nodes[from]!.name}: ${describe(payload.message)}`);
        node.service.receive(this.nodes[from]!.name, payload.message);
        return;
      case 'peer':
        if (payload.message.kind === 'registrations') node.service.registrations(this.nodes[from]!.name, payload.message.view, payload.message.entries, payload.message.complete);
        else if (payload.message.kind === 'evict') {
          this.note(`${node.name} <- ${this.nodes[from]!.name}: evict ${payload.message.clientId} (winner ${payload.message.winner})`);
          node.service.evicted(payload.message.clientId, payload.message.since, payload.message.winner);
        }
        return;
      case 'adopt': {
        const { clientId } = payload;
        const incarnation = node.incarnation;
        void node.service.adopt(clientId).then(({ moved, detail }) => {
          this.note(`${node.name} adopted ${clientId}: moved ${moved} ${detail}`);
          if (this.alive(node, incarnation)) this.net.send(node.index, from, { kind: 'adopted', clientId, moved }, this.round, 'once');
        });
        return;
      }
      case 'adopted':
        node.pushes.delete(payload.clientId);
        return;
      case 'forward':
        this.takeForward(node, from, payload.no);
        return;
      case 'stored': {
        const pub = this.publications[payload.no - 1]!;
        if (pub.incarnation !== node.incarnation) return;
        pub.waiting.delete(from);
        if (pub.waiting.size === 0 && !pub.acked) {
          pub.acked = true;
          this.note(`#${pub.no} acknowledged to its publisher`);
        }
        return;
      }
    }
  }

  /** A published copy reaches `node`: each matching session there gets it; 'stored' once committed. */
  private takeForward(node: SessionNode, from: number, no: number): void {
    if (node.seenForwards.has(no)) return;
    node.seenForwards.add(no);
    const pub = this.publications[no - 1]!;
    const message: AppMessage = { topic: TOPIC, payload: new TextEncoder().encode(String(no)), qos: pub.qos, retain: false, publisherId: 'publisher' };
    const batch: ToShard[] = [];
    for (const [clientId, subQos] of this.matching(node)) {
      batch.push({ t: 'event', clientId, event: { type: 'deliver', message, qos: Math.min(pub.qos, subQos) as QoS, retain: false, subscriptionIds: [] } });
    }
    this.note(`${node.name} takes #${no} for [${batch.map((b) => (b.t === 'event' ? b.clientId : '')).join(',')}]`);
    const ticket = node.nextTicket++;
    node.forwards.set(ticket, { no, from });
    batch.push({ t: 'ticket', id: ticket });
    const incarnation = node.incarnation;
    queueMicrotask(() => {
      if (!this.alive(node, incarnation)) return;
      for (const b of batch) {
        if (b.t !== 'event' || node.shard.session(b.clientId) === undefined) continue;
        let on = pub.stored.get(b.clientId);
        if (on === undefined) pub.stored.set(b.clientId, (on = new Set()));
        on.add(node.index);
      }
      node.shard.handleBatch(batch);
    });
  }

  private fromShard(node: SessionNode, m: FromShard): void {
    if (m.t === 'fatal') {
      this.anomalies.push(`${node.name}: shard failed: ${m.message}`);
      return;
    }
    if (m.t !== 'ready' && m.t !== 'effects') return;
    for (const e of m.effects) this.effect(node, e);
    if (m.t === 'effects') {
      for (const t of m.tickets) {
        const f = node.forwards.get(t);
        if (f === undefined) continue;
        node.forwards.delete(t);
        if (f.from === node.index) this.receive(node, node.index, { kind: 'stored', no: f.no });
        else this.net.send(node.index, f.from, { kind: 'stored', no: f.no }, this.round, 'stream');
      }
    }
  }

  /** The client using connection `connId` of `node` now, if any. */
  private clientOn(node: SessionNode, connId: number): SimClient | null {
    const id = node.conns.get(connId)?.clientId;
    if (id === undefined) return null;
    const c = this.client(id);
    const conn = c.conn;
    return conn !== null && conn.node === node.index && conn.incarnation === node.incarnation && conn.connId === connId ? c : null;
  }

  private effect(node: SessionNode, e: SessionEffect): void {
    switch (e.type) {
      case 'connack': {
        const conn = node.conns.get(e.connId);
        if (conn === undefined) return;
        this.note(`${node.name} CONNACK ${conn.clientId} conn ${e.connId} present ${e.sessionPresent}`);
        // As src/node.ts: a same-node CONNECT that ended the old session (Clean Start, expiry 0)
        // reported it gone in this same batch; the new one lives here.
        node.service.sessionHere(conn.clientId);
        const c = this.clientOn(node, e.connId);
        if (c === null) return;
        c.conn!.attached = true;
        if (conn.cleanStart) c.awaitingRel.clear();
        return;
      }
      case 'publish': {
        const c = this.clientOn(node, e.connId);
        const { qos, packetId } = e.publish;
        const no = Number(new TextDecoder().decode(e.publish.message.payload));
        this.note(`${node.name} conn ${e.connId} PUBLISH #${no} qos ${qos} id ${packetId}${e.publish.dup ? ' dup' : ''}${c === null ? ' (abandoned connection)' : ` to ${c.id}`}`);
        if (c === null) return; // an abandoned connection: nobody reads it
        const record = (): void => {
          const r = c.received.get(no);
          if (r === undefined) c.received.set(no, { count: 1, qos });
          else r.count++;
        };
        if (qos === 0) record();
        else if (qos === 1) {
          record();
          this.toShard(node, [{ t: 'event', clientId: c.id, event: { type: 'puback', connId: e.connId, packetId: packetId! } }]);
        } else {
          // The receiver's side of QoS 2 (Method B, MQTT 4.3.3): a PUBLISH whose id waits for
          // PUBREL is the same message again.
          if (!c.awaitingRel.has(packetId!)) {
            record();
            c.awaitingRel.add(packetId!);
          }
          this.toShard(node, [{ t: 'event', clientId: c.id, event: { type: 'pubrec', connId: e.connId, packetId: packetId!, reasonCode: 0 } }]);
        }
        return;
      }
      case 'packet': {
        if (e.packet.cmd !== 'pubrel') return;
        const c = this.clientOn(node, e.connId);
        if (c === null) return;
        const packetId = e.packet.messageId!;
        c.awaitingRel.delete(packetId);
        this.toShard(node, [{ t: 'event', clientId: c.id, event: { type: 'pubcomp', connId: e.connId, packetId } }]);
        return;
      }
      case 'close': {
        const c = this.clientOn(node, e.connId);
        const clientId = node.conns.get(e.connId)?.clientId;
        if (c !== null) c.conn = null;
        this.note(`${node.name} closes conn ${e.connId} (${clientId ?? '?'}) 0x${e.reasonCode.toString(16)}`);
        if (clientId === undefined) return;
        node.conns.delete(e.connId);
        // The node's onClose: the session learns the connection is gone (stale if it knows already).
        const kind = e.reasonCode === 0x8e ? 'takeover' : 'server';
        this.toShard(node, [{ t: 'event', clientId, event: { type: 'disconnect', connId: e.connId, kind } }]);
        return;
      }
      case 'takeover':
        this.note(`${node.name} shard replied ${e.reply.op} ${e.clientId} (${e.reply.id})${'ok' in e.reply ? ` ok ${e.reply.ok}` : ''}${e.reply.op === 'exported' ? ` session ${e.reply.session !== null}` : ''}${e.reply.op === 'dropped' ? ` arrived ${e.reply.arrived.length}` : ''}`);
        node.service.shardReply(e.clientId, e.reply);
        return;
      case 'routes':
        // The node's bookkeeping of the sessions living here (src/node.ts).
        if (e.removeAll) node.service.sessionGone(e.clientId);
        else node.service.sessionHere(e.clientId);
        return;
      case 'event':
        if (e.name === 'session.ended') this.ends.push({ node: node.index, clientId: e.clientId, at: ++this.events });
        if (e.name === 'session.takeover.arrivals_lost') this.anomalies.push(`${node.name}: ${e.clientId}: ${e.detail}`);
        return;
      default:
        return;
    }
  }
}

function describe(m: SessionTakeoverMessage): string {
  const extra =
    m.kind === 'claimed' ? ` granted ${m.granted} holder ${m.holder}` : m.kind === 'release' ? ` location ${m.location}` : m.kind === 'ended' ? ` ${m.outcome} buffered ${m.buffered.length}` : m.kind === 'exported' ? ` session ${m.session !== null} busy ${m.busy}` : '';
  return `${m.kind} ${m.clientId} (${m.id})${extra}`;
}
