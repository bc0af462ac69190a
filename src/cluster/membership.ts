// Cluster membership over SWIM gossip (the `swim` package; the only module that imports it).
// swim tracks members by gossip address ("host:port"); this module turns its records into typed
// events about node *names* (up, suspect, down, updated), each carrying the node's MemberInfo
// (name, incarnation = start epoch ms, gRPC address, protocol version), and adds what swim lacks:
//   - its own UDP socket, bound to the configured host (swim binds every interface), with every
//     datagram sealed by the cluster secret and checked before swim parses it (gossip-socket.ts);
//   - joining by a seed list that may include this node, retried while no seed answers, and
//     re-synced with unreached seeds and down members afterwards (with a backoff per address), so
//     a healed partition merges without a restart (swim never probes a member again once it is
//     faulty);
//   - doubt about a "faulty" verdict on a member this node heard from moments ago (a stale one from
//     the far side of a healed partition would otherwise take down members of this side): it is
//     checked as a suspicion instead, which a live member refutes at once;
//   - one live node per name: a joiner that finds its name held by a live node refuses to start;
//   - a graceful leave that tells the others (swim's leave() sends nothing);
//   - timings chosen for a broker (swim's defaults suspect a node after a 4 ms ping timeout).
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import Swim from 'swim';
import type { Logger } from '../log.js';
import { SEAL_OVERHEAD_BYTES } from './gossip-seal.js';
import { GossipSocket, MAX_TRACKED_SOURCES, joinHostPort } from './gossip-socket.js';
import { GOSSIP_DATAGRAM_BYTES, MAX_MEMBER_RECORD_BYTES, fromMeta, memberRecordBytes, toMeta } from './member-record.js';
import { DuplicateNodeNameError, MemberRecordTooLargeError, MembershipStateError } from './membership-errors.js';
import { RejoinSchedule } from './rejoin-schedule.js';
import { CLUSTER_PROTOCOL_VERSION, type MemberInfo, type MemberState, type MembershipEvents, type MembershipSource } from './types.js';

export interface GossipTimings {
  /** One member is pinged per interval (SWIM's protocol period). */
  readonly intervalMs: number;
  /** Wait for a direct ack before asking up to 3 others to ping the member. */
  readonly pingTimeoutMs: number;
  /** Wait for an indirect ack before suspecting the member. */
  readonly pingReqTimeoutMs: number;
  /** A suspect that does not refute the suspicion in this time is declared down. */
  readonly suspectTimeoutMs: number;
  /** After sending our record to the seeds, wait this long for an answer before calling the round failed. */
  readonly joinTimeoutMs: number;
  /** Between join rounds while no other member is known. */
  readonly seedRetryMs: number;
  /** Once joined, an unreached seed or a down member is re-synced with after seedRetryMs, then
   * after twice that, and so on up to this (heals partitions; see rejoin-schedule.ts). */
  readonly rejoinIntervalMs: number;
  /** A live node holding our name for this long after we saw it (at least the detection bound) makes us refuse to start. */
  readonly duplicateConfirmMs: number;
  /** A down member is forgotten (members(), swim's faulty list) after this long. */
  readonly forgetDownAfterMs: number;
}

/** swim's own defaults (lib/failure-detector.js, lib/membership.js), for comparison and measurement. */
export const SWIM_LIBRARY_TIMINGS = Object.freeze({ intervalMs: 20, pingTimeoutMs: 4, pingReqTimeoutMs: 12, suspectTimeoutMs: 10 });

/**
 * Why these values: swim's defaults declare a node down ~0.1 s after it stops answering, but a
 * 4 ms ping timeout is shorter than one GC pause or a busy event-loop turn of a loaded broker, and
 * every false "down" purges that node's routes cluster-wide. Here a node must miss a direct ping
 * (200 ms), an indirect one through up to 3 others (600 ms), and then stay silent for 1.5 s of
 * suspicion, during which one ack or its own refutation clears it: an event loop would have to
 * stall for about 2 s to be declared down. Measured with `node --import tsx bench/gossip-down.ts`
 * (3 processes on loopback, kill -9): see README "Cluster membership" for the figures.
 */
export const DEFAULT_GOSSIP_TIMINGS: GossipTimings = Object.freeze({
  intervalMs: 500,
  pingTimeoutMs: 200,
  pingReqTimeoutMs: 600,
  suspectTimeoutMs: 1500,
  joinTimeoutMs: 1000,
  seedRetryMs: 1000,
  rejoinIntervalMs: 5_000,
  duplicateConfirmMs: 6000,
  forgetDownAfterMs: 15 * 60_000,
});

/**
 * Upper bound on how long after a node dies the others emit 'down', in a cluster of `members`
 * nodes: the dead node is pinged within about 2 × (members - 1) protocol periods (swim walks its
 * member list in shuffled rounds), then ping, indirect ping and suspicion time out, and the
 * verdict reaches the others piggybacked on their next pings (one more period, two for safety).
 */
export function downDetectionBoundMs(t: GossipTimings, members: number): number {
  const periodsToFirstProbe = 2 * Math.max(1, members - 1);
  return (periodsToFirstProbe + 2) * t.intervalMs + t.pingTimeoutMs + t.pingReqTimeoutMs + t.suspectTimeoutMs;
}

/**
 * Upper bound on how long after a partition heals every member lists the other side alive again,
 * in a cluster of `members` nodes: each side re-syncs with the other's addresses at least every
 * rejoinIntervalMs, checked once per join round (joinTimeoutMs + seedRetryMs); one such exchange
 * makes the syncing node see the other alive and both refute the "faulty" verdict about
 * themselves, and the refutations reach the rest piggybacked on pings, each member being pinged
 * within about 2 × (members - 1) protocol periods.
 */
export function healDetectionBoundMs(t: GossipTimings, members: number): number {
  return t.rejoinIntervalMs + t.joinTimeoutMs + t.seedRetryMs + 2 * Math.max(1, members - 1) * t.intervalMs;
}

export interface SwimMembershipOptions {
  readonly nodeName: string;
  /** Start epoch ms of this process; a restart must give a larger one. */
  readonly incarnation: number;
  /** "host:port" peers dial for gRPC. */
  readonly grpcAddress: string;
  /** "host:port" MQTT clients should use for this node; gossiped so a draining peer can refer clients here. */
  readonly mqttAddress?: string;
  /** Where the gossip UDP socket binds; port 0 takes a free port (then advertised as bound). */
  readonly gossip: { readonly host: string; readonly port: number };
  /** The host peers send gossip to (--advertise). */
  readonly advertiseHost: string;
  /** --cluster-secret; undefined only where configuration allowed it (all addresses loopback). */
  readonly secret: string | undefined;
  readonly logger: Logger;
  readonly timings?: Partial<GossipTimings>;
}

/** swim's Member.State codes, and its Update message type (lib/message-type.js). */
const SWIM_STATE: readonly MemberState[] = ['alive', 'suspect', 'down'];
const SWIM_ALIVE = 0;
const SWIM_SUSPECT = 1;
const SWIM_FAULTY = 2;
const SWIM_MESSAGE_UPDATE = 14;
/** Bound on waiting for the leave announcements to be handed to the kernel. */
const LEAVE_FLUSH_MS = 500;

interface HostEntry {
  info: MemberInfo;
  state: MemberState;
  /** When the state was last set (ms epoch); down entries are forgotten after forgetDownAfterMs. */
  since: number;
}

type Phase = 'new' | 'starting' | 'running' | 'closed';

export class SwimMembership extends EventEmitter implements MembershipSource {
  readonly self: MemberInfo;
  private readonly opts: SwimMembershipOptions;
  private readonly timings: GossipTimings;
  private readonly log: Logger;
  private readonly socket: GossipSocket;
  private phase: Phase = 'new';
  private swim: Swim | undefined;
  /** Our gossip identity, "advertise:boundPort". */
  private localHost = '';
  private seeds: string[] = [];
  /** Every gossip address we have a record for, and the one address that holds each name. */
  private readonly hosts = new Map<string, HostEntry>();
  private readonly owners = new Map<string, string>();
  private readonly warned = new Set<string>();
  private readonly rejoin: RejoinSchedule;
  /** When a datagram last came from each known member's address (ms epoch). */
  private readonly lastHeard = new Map<string, number>();
  /** The address of the datagram swim is processing (it does so synchronously), else ''. */
  private sender = '';
  private joinTimer: NodeJS.Timeout | undefined;
  private duplicateTimer: NodeJS.Timeout | undefined;
  private joinAttempt = 0;
  private alone = true;
  private startGate: { firstRoundDone: boolean; resolve: () => void; reject: (err: Error) => void } | undefined;
  private closing: Promise<void> | undefined;

  constructor(opts: SwimMembershipOptions) {
    super();
    this.opts = opts;
    this.timings = Object.freeze({ ...DEFAULT_GOSSIP_TIMINGS, ...opts.timings });
    this.rejoin = new RejoinSchedule(this.timings);
    this.log = opts.logger;
    this.socket = new GossipSocket({
      host: opts.gossip.host,
      port: opts.gossip.port,
      secret: opts.secret,
      logger: opts.logger,
      onPayload: (payload, rinfo) => {
        const from = joinHostPort(rinfo.address, rinfo.port);
        if (this.hosts.has(from)) this.lastHeard.set(from, Date.now());
        this.sender = from;
        try {
          this.swim?.net.onNetMessage(payload, rinfo);
        } finally {
          this.sender = '';
        }
      },
    });
    this.self = Object.freeze({
      name: opts.nodeName,
      incarnation: opts.incarnation,
      grpcAddress: opts.grpcAddress,
      protocolVersion: CLUSTER_PROTOCOL_VERSION,
      ...(opts.mqttAddress === undefined ? {} : { mqttAddress: opts.mqttAddress }),
    });
  }

  /** Our gossip address as others know it ("advertise:port"); set once start() has bound. */
  get gossipAddress(): string {
    return this.localHost;
  }

  members(): ReadonlyArray<{ info: MemberInfo; state: MemberState }> {
    const out: { info: MemberInfo; state: MemberState }[] = [];
    for (const host of this.owners.values()) {
      const entry = this.hosts.get(host)!;
      out.push({ info: entry.info, state: entry.state });
    }
    return out;
  }

  override on<E extends keyof MembershipEvents>(event: E, listener: (...args: MembershipEvents[E]) => void): this;
  override on(event: 'error', listener: (err: Error) => void): this;
  override on(event: string, listener: (...args: never[]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override off<E extends keyof MembershipEvents>(event: E, listener: (...args: MembershipEvents[E]) => void): this;
  override off(event: 'error', listener: (err: Error) => void): this;
  override off(event: string, listener: (...args: never[]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  /**
   * Binds the gossip socket and joins through `seeds` ("host:port"; this node's own address may be
   * among them). Resolves after the first join round, joined or not: a node whose seeds are all
   * unreachable runs alone and keeps trying. Rejects with DuplicateNodeNameError if a live node
   * already holds our name, GossipBindError if the socket cannot bind, MemberRecordTooLargeError.
   * A duplicate found after start() resolved is emitted as 'error' (which, unhandled, ends the process).
   */
  async start(seeds: readonly string[]): Promise<void> {
    if (this.phase !== 'new') throw new MembershipStateError(`membership already ${this.phase}; create a new SwimMembership`);
    this.phase = 'starting';
    let bound: number;
    try {
      bound = await this.socket.bind();
    } catch (err) {
      this.phase = 'closed';
      throw err;
    }
    this.localHost = joinHostPort(this.opts.advertiseHost, bound);
    const meta = toMeta(this.self);
    const recordBytes = memberRecordBytes(this.localHost, meta, this.self.incarnation);
    if (recordBytes > MAX_MEMBER_RECORD_BYTES) {
      await this.socket.close(0);
      this.phase = 'closed';
      throw new MemberRecordTooLargeError(recordBytes, MAX_MEMBER_RECORD_BYTES);
    }
    const swim = this.createSwim(meta);
    this.swim = swim;
    await new Promise<void>((resolve, reject) => swim.bootstrap([], (err) => (err ? reject(err) : resolve())));
    this.seeds = [...new Set(seeds)].filter((seed) => seed !== this.localHost);
    this.log.info(
      {
        event: 'cluster.gossip.listening',
        gossip: joinHostPort(this.opts.gossip.host, bound),
        advertise: this.localHost,
        seeds: this.seeds,
        authenticated: this.socket.authenticated,
        recordBytes,
        timings: this.timings,
      },
      `gossip listening; ${this.socket.authenticated ? 'datagrams sealed with the cluster secret' : 'no cluster secret (loopback only)'}`,
    );
    this.phase = 'running';
    if (this.seeds.length === 0) {
      // No one to join (the first node, or a list naming only us); others join us. The rounds
      // still run, to re-sync with members that go down.
      this.joinRound();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      this.startGate = { firstRoundDone: false, resolve, reject };
      this.joinRound();
    });
  }

  /** Tells the other members we are leaving (they emit 'down' at once), then releases the socket and timers. */
  leave(): Promise<void> {
    return this.shutdown(true);
  }

  /** Releases the socket and timers without telling anyone; the others detect a failure. */
  close(): Promise<void> {
    return this.shutdown(false);
  }

  // ---- swim ---------------------------------------------------------------------------------

  private createSwim(meta: ReturnType<typeof toMeta>): Swim {
    const t = this.timings;
    const swim = new Swim({
      local: { host: this.localHost, meta, incarnation: this.self.incarnation },
      interval: t.intervalMs,
      pingTimeout: t.pingTimeoutMs,
      pingReqTimeout: t.pingReqTimeoutMs,
      joinTimeout: t.joinTimeoutMs,
      // The envelope must fit in the same 512 bytes.
      udp: { type: isIPv6(this.opts.gossip.host) ? 'udp6' : 'udp4', maxDgramSize: GOSSIP_DATAGRAM_BYTES - SEAL_OVERHEAD_BYTES },
    });
    swim.membership.suspectTimeout = t.suspectTimeoutMs;
    // swim restarts the suspect timer each time its failure detector suspects the member again, and
    // it probes a suspect every (members - 1) periods or so: with a timeout longer than that a dead
    // node stayed "suspect" for 17 s in a 3-node test instead of 3. As in the SWIM paper, the
    // timer runs from the first suspicion; a refutation (alive record) clears it in swim itself.
    const membership = swim.membership;
    membership.suspectListener = (member) => {
      if (membership.hostToSuspectTimeout[member.host] === undefined) membership.onSuspect(member);
    };
    // swim created an unbound socket of its own; ours replaces it (bound to the configured host,
    // every datagram sealed). listen/close become no-ops: this module owns the socket's lifetime.
    swim.net.udpSocket.close();
    swim.net.listen = (callback) => callback();
    swim.net.close = () => undefined;
    swim.net.sendBuffer = (buffer, host) => this.socket.send(buffer, host);
    const updateFaulty = membership.updateFaulty.bind(membership);
    membership.updateFaulty = (data) => {
      if (!this.doubtVerdict(swim, data)) updateFaulty(data);
    };
    swim.on('update', (data) => this.onRecord(data));
    swim.on('error', (err) => this.log.error({ event: 'cluster.gossip.swim_error', err }, 'gossip library error'));
    return swim;
  }

  /**
   * A "faulty" record about a member held alive at the same incarnation is a death certificate
   * this node never saw the suspicion for. If this node heard from that member more recently than
   * any detector could have given up on it (ping, indirect ping and suspicion timeouts), the
   * certificate is stale: typically gossip from the far side of a partition that just healed,
   * which would take a live member of this side down and purge its routes. It is checked as a
   * suspicion instead: the member is told directly and pinged, and its refutation (a raised SWIM
   * incarnation) comes back on the ack; if none comes, the suspect timer declares it down. Returns
   * true when the record was handled so.
   */
  private doubtVerdict(swim: Swim, data: Swim.MemberData): boolean {
    // Our own record, or the member's own word (its leave announcement): not doubted.
    if (data.host === this.localHost || data.host === this.sender) return false;
    const held = swim.membership.get(data.host);
    if (held === undefined || held.state !== SWIM_ALIVE || held.incarnation !== data.incarnation) return false;
    const heard = this.lastHeard.get(data.host);
    const t = this.timings;
    const silenceBeforeVerdictMs = t.pingTimeoutMs + t.pingReqTimeoutMs + t.suspectTimeoutMs;
    if (heard === undefined || Date.now() - heard > silenceBeforeVerdictMs) return false;
    this.log.info(
      { event: 'cluster.gossip.verdict_doubted', host: data.host, name: this.hosts.get(data.host)?.info.name, heardMsAgo: Date.now() - heard },
      `a "down" verdict about ${data.host}, heard from ${Date.now() - heard} ms ago, is checked as a suspicion`,
    );
    swim.membership.suspectListener(held);
    swim.net.sendMessage({ type: SWIM_MESSAGE_UPDATE, data: { ...held.data(), state: SWIM_SUSPECT } }, data.host);
    swim.failureDetector.pingMember(held);
    return true;
  }

  // ---- records → events ---------------------------------------------------------------------

  private onRecord(data: Swim.MemberData): void {
    if (data.host === this.localHost) {
      // swim raises our SWIM incarnation (and reports our alive record) when it hears a suspect or
      // faulty record about us: that is a refutation.
      if (data.incarnation > this.self.incarnation) {
        this.log.info({ event: 'cluster.gossip.refuted', incarnation: data.incarnation }, 'refuted a suspicion about this node');
      }
      return;
    }
    const prev = this.hosts.get(data.host);
    const decoded = data.meta === undefined && prev !== undefined ? prev.info : fromMeta(data.meta);
    if (typeof decoded === 'string') {
      this.warnOnce(`meta:${data.host}`, { event: 'cluster.gossip.bad_record', host: data.host }, `ignoring member ${data.host}: ${decoded}`);
      return;
    }
    // A record about an older process at this address (its verdict arriving late) changes nothing.
    if (prev !== undefined && decoded.incarnation < prev.info.incarnation) return;
    const next: HostEntry = { info: decoded, state: SWIM_STATE[data.state] ?? 'down', since: Date.now() };
    this.hosts.set(data.host, next);
    // The address now runs a node of another name: the old name is gone from it.
    if (prev !== undefined && prev.info.name !== decoded.name && this.owners.get(prev.info.name) === data.host) {
      this.owners.delete(prev.info.name);
      if (prev.state !== 'down') this.emitMember('down', data.host, prev.info);
      this.promoteWaitingHolder(prev.info.name, data.host);
    }
    if (decoded.name === this.self.name) {
      this.onOwnName(data.host, next);
      return;
    }
    const ownerHost = this.owners.get(decoded.name);
    if (ownerHost !== undefined && ownerHost !== data.host) {
      const owner = this.hosts.get(ownerHost)!;
      if (owner.state !== 'down') {
        if (next.state !== 'down') {
          this.warnOnce(
            `dup:${data.host}`,
            { event: 'cluster.gossip.duplicate_name.ignored', name: decoded.name, host: data.host, holder: ownerHost },
            `ignoring ${data.host}: it claims node name "${decoded.name}", held by the live node at ${ownerHost}`,
          );
        }
        return;
      }
    }
    const before = ownerHost === undefined ? undefined : ownerHost === data.host ? prev : this.hosts.get(ownerHost);
    this.owners.set(decoded.name, data.host);
    this.transition(data.host, before, next);
  }

  /** Emits what changed for a name, from its previous holder's entry to the new one. */
  private transition(host: string, before: HostEntry | undefined, next: HostEntry): void {
    const wasLive = before !== undefined && before.state !== 'down';
    if (next.state === 'down') {
      if (wasLive) {
        this.emitMember('down', host, next.info);
        this.promoteWaitingHolder(next.info.name, host);
      }
      return;
    }
    if (!wasLive || before.info.incarnation !== next.info.incarnation) {
      if (before !== undefined && before.state === 'down' && before.info.incarnation === next.info.incarnation) {
        // The same process again after it was declared down: a partition (or a stall) healed.
        this.log.info(
          { event: 'cluster.gossip.rejoined', name: next.info.name, gossip: host, downMs: next.since - before.since },
          `member ${next.info.name} reachable again after ${next.since - before.since} ms down; merging`,
        );
      }
      // A new holder of the name, or the same address restarted before its death was noticed.
      this.emitMember(wasLive ? 'updated' : 'up', host, next.info);
      if (next.state === 'suspect') this.emitMember('suspect', host, next.info);
    } else if (before.state !== next.state) {
      // suspect → alive is a refuted suspicion: 'up' again.
      this.emitMember(next.state === 'alive' ? 'up' : 'suspect', host, next.info);
    }
  }

  /** The holder of `name` went down; another live address with that name (a restart elsewhere) takes it. */
  private promoteWaitingHolder(name: string, downHost: string): void {
    for (const [host, entry] of this.hosts) {
      if (host !== downHost && entry.info.name === name && entry.state !== 'down') {
        this.owners.set(name, host);
        this.transition(host, undefined, entry);
        return;
      }
    }
  }

  private emitMember(event: keyof MembershipEvents, host: string, info: MemberInfo): void {
    this.log.info(
      { event: `cluster.member.${event}`, name: info.name, incarnation: info.incarnation, gossip: host, grpc: info.grpcAddress, protocolVersion: info.protocolVersion },
      `member ${info.name} ${event}`,
    );
    this.emit(event, info);
  }

  /**
   * Another address claims our name. The newer process (larger incarnation) is the duplicate. If
   * that is us, the other may still be a dead predecessor not yet detected (a restart at a new
   * address), so we wait duplicateConfirmMs for it to go down before refusing to run.
   */
  private onOwnName(host: string, entry: HostEntry): void {
    if (entry.state === 'down') return;
    const otherIsOlder = entry.info.incarnation < this.self.incarnation || (entry.info.incarnation === this.self.incarnation && host < this.localHost);
    if (!otherIsOlder) {
      this.warnOnce(
        `own:${host}`,
        { event: 'cluster.gossip.duplicate_name.newcomer', name: this.self.name, host },
        `the node at ${host} claims our name "${this.self.name}"; it started later, so it must refuse to run`,
      );
      return;
    }
    if (this.duplicateTimer !== undefined) return;
    // Long enough for the failure detector to declare a dead predecessor down in a cluster this size.
    const waitMs = Math.max(this.timings.duplicateConfirmMs, downDetectionBoundMs(this.timings, this.owners.size + 1));
    this.log.warn(
      { event: 'cluster.gossip.duplicate_name.waiting', name: this.self.name, host, waitMs },
      `the node at ${host} holds our name "${this.self.name}"; waiting ${waitMs} ms to see whether it is a dead predecessor`,
    );
    this.duplicateTimer = setTimeout(() => {
      this.duplicateTimer = undefined;
      const now = this.hosts.get(host);
      if (now !== undefined && now.state !== 'down' && now.info.name === this.self.name) {
        this.fail(new DuplicateNodeNameError(this.self.name, host, now.info.incarnation));
      } else {
        this.log.info({ event: 'cluster.gossip.duplicate_name.cleared', host }, `the node at ${host} that held our name is down; continuing`);
        this.finishStartIfReady();
      }
    }, waitMs);
    this.duplicateTimer.unref();
  }

  private fail(err: DuplicateNodeNameError): void {
    this.log.error({ event: 'cluster.gossip.duplicate_name', name: err.nodeName, holder: err.otherAddress, err }, err.message);
    const gate = this.startGate;
    this.startGate = undefined;
    void this.shutdown(true).then(() => {
      if (gate !== undefined) gate.reject(err);
      else this.emit('error', err);
    });
  }

  private warnOnce(key: string, fields: Record<string, unknown>, message: string): void {
    if (this.warned.has(key)) return;
    if (this.warned.size >= MAX_TRACKED_SOURCES) this.warned.clear();
    this.warned.add(key);
    this.log.warn(fields, message);
  }

  // ---- joining ------------------------------------------------------------------------------

  /**
   * One round: send our record and everything we know to the seeds that are not members and to
   * down members, which swim itself never probes again (all of them while we are alone, else
   * those whose backoff is due); then check after joinTimeoutMs whether anyone is known. Rounds
   * repeat every seedRetryMs.
   */
  private joinRound(): void {
    const swim = this.swim;
    if (swim === undefined || this.phase !== 'running') return;
    this.joinAttempt++;
    this.forgetOldDown();
    const live = new Set(swim.members().map((m) => m.host));
    const down = [...this.hosts].filter(([, entry]) => entry.state === 'down').map(([host]) => host);
    const candidates = new Set([...this.seeds.filter((seed) => !live.has(seed)), ...down]);
    const targets = this.alone ? [...candidates] : this.dueForRejoin(candidates, Date.now());
    if (targets.length > 0) swim.membership.sync(targets);
    this.joinTimer = setTimeout(() => this.afterJoinRound(), this.timings.joinTimeoutMs);
    this.joinTimer.unref();
  }

  /** The candidates whose backoff is due (RejoinSchedule); logs attempts 1, 2, 4, .... */
  private dueForRejoin(candidates: ReadonlySet<string>, now: number): string[] {
    const { hosts, milestones } = this.rejoin.due(candidates, now);
    if (milestones.length > 0) {
      const targets = milestones.map((m) => ({ ...m, name: this.hosts.get(m.host)?.info.name }));
      this.log.info(
        { event: 'cluster.gossip.rejoin', targets },
        `re-syncing with ${targets.map((t) => t.name ?? t.host).join(', ')} (not live members); retrying with backoff up to ${this.timings.rejoinIntervalMs} ms`,
      );
    }
    return hosts;
  }

  private afterJoinRound(): void {
    const swim = this.swim;
    if (swim === undefined || this.phase !== 'running') return;
    const known = swim.members();
    const wasAlone = this.alone;
    this.alone = known.length === 0;
    if (wasAlone && !this.alone) {
      this.log.info(
        { event: 'cluster.gossip.joined', attempt: this.joinAttempt, members: this.members().map((m) => m.info.name) },
        `joined the cluster after ${this.joinAttempt} round(s)`,
      );
    } else if (this.alone && this.seeds.length > 0 && (this.joinAttempt & (this.joinAttempt - 1)) === 0) {
      // Rounds 1, 2, 4, 8, ...: progress without a line per second for a node left alone for hours.
      this.log.warn(
        { event: 'cluster.gossip.seeds_unreachable', attempt: this.joinAttempt, seeds: this.seeds, retryMs: this.timings.seedRetryMs },
        `no seed answered (round ${this.joinAttempt}); running alone and retrying every ${this.timings.seedRetryMs} ms. ` +
          `A seed that is up but silent may have another --cluster-secret (its log says cluster.gossip.rejected)`,
      );
    }
    if (this.startGate !== undefined) {
      this.startGate.firstRoundDone = true;
      this.finishStartIfReady();
    }
    this.joinTimer = setTimeout(() => this.joinRound(), this.timings.seedRetryMs);
    this.joinTimer.unref();
  }

  /** start() resolves after the first join round, unless a possible duplicate of our name is pending. */
  private finishStartIfReady(): void {
    const gate = this.startGate;
    if (gate === undefined || !gate.firstRoundDone || this.duplicateTimer !== undefined) return;
    this.startGate = undefined;
    gate.resolve();
  }

  private forgetOldDown(): void {
    const cutoff = Date.now() - this.timings.forgetDownAfterMs;
    for (const [host, entry] of this.hosts) {
      if (entry.state !== 'down' || entry.since > cutoff) continue;
      this.hosts.delete(host);
      this.lastHeard.delete(host);
      if (this.owners.get(entry.info.name) === host) this.owners.delete(entry.info.name);
      delete this.swim?.membership.hostToFaulty[host];
    }
  }

  // ---- shutdown -----------------------------------------------------------------------------

  private shutdown(announce: boolean): Promise<void> {
    this.closing ??= this.doShutdown(announce);
    return this.closing;
  }

  private async doShutdown(announce: boolean): Promise<void> {
    const wasRunning = this.phase === 'running' || this.phase === 'starting';
    this.phase = 'closed';
    clearTimeout(this.joinTimer);
    clearTimeout(this.duplicateTimer);
    this.duplicateTimer = undefined;
    const swim = this.swim;
    if (swim !== undefined && swim.state === 'started') {
      if (announce && wasRunning) {
        // Our own record marked faulty at our current incarnation: receivers accept it (swim's
        // updateFaulty) and emit 'down' now instead of after the failure detector's timeouts.
        const farewell = { ...swim.membership.local.data(), state: SWIM_FAULTY };
        for (const member of swim.members()) swim.net.sendMessage({ type: SWIM_MESSAGE_UPDATE, data: farewell }, member.host);
      }
      swim.leave();
    }
    await this.socket.close(LEAVE_FLUSH_MS);
    if (wasRunning) this.log.info({ event: 'cluster.gossip.closed', announced: announce }, announce ? 'left the cluster' : 'gossip closed');
  }
}
