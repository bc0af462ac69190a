// PeerTransport over gRPC (@grpc/grpc-js; the only module that imports it). Per peer: one
// channel, `lanes` long-lived Exchange streams carrying this node's batches to it (a lane per
// topic hash, so per-topic order holds), and unary calls with deadlines for control. Every call
// names this node and its incarnation and proves the cluster secret (src/cluster/grpc-auth.ts);
// the server refuses a wrong proof, an unknown node and a stale incarnation, and logs why. Messages
// queued in one event-loop turn leave as one PeerBatch per lane; while a peer is down they wait in
// a bounded buffer per lane, and what does not fit is dropped and counted.

import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Logger } from '../log.js';
import type { ProtoGrpcType } from './gen/cluster.js';
import type { ClusterClient, ClusterHandlers } from './gen/cluster/v1/Cluster.js';
import type { FullSyncResponse__Output } from './gen/cluster/v1/FullSyncResponse.js';
import type { PeerBatch, PeerBatch__Output } from './gen/cluster/v1/PeerBatch.js';
import type { StatusResponse__Output } from './gen/cluster/v1/StatusResponse.js';
import { AUTH_HEADER, INCARNATION_HEADER, NODE_HEADER, authProof, checkCaller, type CallerIdentity } from './grpc-auth.js';
import type { PeerMessage, RetainedUpdate, RouteSlice } from './peer-messages.js';
import type { Admission, ClusterStatus, ControlHandlers, PeerTransport, PeerTransportEvents } from './peer-transport.js';
import { CLUSTER_PROTOCOL_VERSION, type MemberInfo } from './types.js';
import * as wire from './wire-codec.js';

/** Tuning defaults; each is an option. */
export const DEFAULT_LANES = 4;
/** Messages waiting per lane while a peer is unreachable (bounds memory per peer). */
export const DEFAULT_MAX_PENDING_PER_LANE = 10_000;
/** Pause before redialling a peer whose streams failed. */
export const DEFAULT_RECONNECT_MS = 500;
const RETAINED_BATCH = 500;

export interface GrpcTransportOptions {
  readonly self: MemberInfo;
  /** "host:port" to serve on; port 0 picks a free one (see start()). */
  readonly listen: string;
  /** Cluster secret; undefined runs without one (the options layer allows that on loopback only). */
  readonly secret?: string;
  /** mTLS: PEM files. Both sides present certificates signed by `caPath`. */
  readonly tls?: { readonly certPath: string; readonly keyPath: string; readonly caPath: string };
  readonly lanes?: number;
  readonly maxPendingPerLane?: number;
  readonly reconnectMs?: number;
  readonly handlers: ControlHandlers;
  /** Who may call; default: nodes passed to connect(), at exactly that incarnation. */
  readonly admit?: (node: string, incarnation: number) => Admission;
  readonly logger: Logger;
}

export class ClusterProtoMissingError extends Error {
  override readonly name = 'ClusterProtoMissingError';
  readonly code = 'SHOAL_CLUSTER_PROTO_MISSING';
  constructor(tried: string[]) {
    super(`proto/cluster.proto not found (tried ${tried.join(', ')}); reinstall the package: it ships proto/`);
  }
}

export class PeerCallError extends Error {
  override readonly name = 'PeerCallError';
  readonly code = 'SHOAL_CLUSTER_PEER_CALL';
  constructor(readonly peer: string, readonly method: string, readonly grpcCode: number, details: string) {
    super(`${method} to cluster peer ${peer} failed: ${details} (grpc status ${grpcCode})`);
  }
}

/** The schema, found next to the sources (tsx) or the build (dist/src/cluster → package root). */
function loadProto(): ProtoGrpcType {
  const tried = ['../../proto/cluster.proto', '../../../proto/cluster.proto'].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  const path = tried.find((p) => existsSync(p));
  if (path === undefined) throw new ClusterProtoMissingError(tried);
  // The same options as the generated types (scripts/proto-gen.mjs), so the types hold at runtime.
  const definition = protoLoader.loadSync(path, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  return grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
}

type Stream = grpc.ClientDuplexStream<PeerBatch, PeerBatch__Output>;
type InboundStream = grpc.ServerDuplexStream<PeerBatch__Output, PeerBatch>;

interface Lane {
  stream: Stream | null;
  admitted: boolean;
  writable: boolean;
  flushing: boolean;
  pending: PeerMessage[];
}

interface Link {
  info: MemberInfo;
  readonly client: ClusterClient;
  readonly lanes: Lane[];
  up: boolean;
  retry: NodeJS.Timeout | null;
  /** Last failure logged, so a peer that keeps refusing logs once per reason, not per retry. */
  lastFailure: string;
}

const HINTS: Record<string, string> = {
  auth: 'give every node the same --cluster-secret (SHOAL_CLUSTER_SECRET)',
  unknown: 'the caller is not a member here (yet); it is admitted once membership lists it',
  stale: 'an older incarnation of that node still runs or its calls arrive late; stop the old process',
};

export class GrpcTransport extends EventEmitter<PeerTransportEvents> implements PeerTransport {
  readonly lanes: number;
  /** Messages dropped because a peer's buffer was full or the peer unknown. */
  dropped = 0;
  /** Calls refused by this node's server (secret, unknown node, stale incarnation). */
  refused = 0;
  private readonly proto = loadProto();
  private readonly server = new grpc.Server();
  private readonly links = new Map<string, Link>();
  /** Incarnation of every node passed to connect(): the default admission. */
  private readonly known = new Map<string, number>();
  private readonly inbound = new Map<string, Set<InboundStream>>();
  private readonly maxPending: number;
  private readonly reconnectMs: number;
  private closed = false;

  constructor(private readonly opts: GrpcTransportOptions) {
    super();
    this.lanes = opts.lanes ?? DEFAULT_LANES;
    this.maxPending = opts.maxPendingPerLane ?? DEFAULT_MAX_PENDING_PER_LANE;
    this.reconnectMs = opts.reconnectMs ?? DEFAULT_RECONNECT_MS;
    this.server.addService(this.proto.cluster.v1.Cluster.service, this.serviceHandlers());
  }

  /** Binds the server; resolves with the port bound. */
  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(this.opts.listen, this.serverCredentials(), (err, port) => {
        if (err !== null) {
          reject(new Error(`cannot serve cluster gRPC on ${this.opts.listen}: ${err.message}; free the port or change --grpc`));
          return;
        }
        this.opts.logger.info({ event: 'cluster.grpc.listening', address: this.opts.listen, port }, 'cluster gRPC listening');
        resolve(port);
      });
    });
  }

  connect(peer: MemberInfo): void {
    if (this.closed || peer.name === this.opts.self.name) return;
    const current = this.links.get(peer.name);
    if (current !== undefined && current.info.incarnation === peer.incarnation && current.info.grpcAddress === peer.grpcAddress) return;
    if (current !== undefined) this.dropLink(current, 'replaced by a new incarnation or address');
    this.known.set(peer.name, peer.incarnation);
    this.endInbound(peer.name, (s) => s !== peer.incarnation);
    const client = new this.proto.cluster.v1.Cluster(peer.grpcAddress, this.channelCredentials(), {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
    });
    const lanes: Lane[] = [];
    for (let i = 0; i < this.lanes; i++) lanes.push({ stream: null, admitted: false, writable: true, flushing: false, pending: [] });
    const link: Link = { info: peer, client, lanes, up: false, retry: null, lastFailure: '' };
    this.links.set(peer.name, link);
    this.dial(link);
  }

  disconnect(name: string): void {
    this.known.delete(name);
    this.endInbound(name, () => true);
    const link = this.links.get(name);
    if (link !== undefined) this.dropLink(link, 'disconnected');
  }

  send(peer: string, message: PeerMessage, lane: number): boolean {
    const link = this.links.get(peer);
    const l = link?.lanes[lane % this.lanes];
    if (link === undefined || l === undefined || l.pending.length >= this.maxPending) {
      if (this.dropped++ === 0 || link?.up === true) {
        this.opts.logger.warn({ event: 'cluster.send.dropped', peer, dropped: this.dropped }, 'cluster message dropped: peer unknown or its buffer is full');
      }
      return false;
    }
    l.pending.push(message);
    if (!l.flushing) {
      l.flushing = true;
      setImmediate(() => this.flush(l));
    }
    return true;
  }

  async fetchSlice(peer: string, origin: string, deadlineMs: number): Promise<RouteSlice | null> {
    const res = await this.unary<FullSyncResponse__Output>(peer, 'FullSync', deadlineMs, (c, md, o, cb) => c.FullSync({ origin }, md, o, cb));
    return wire.decodeSlice(res);
  }

  async status(peer: string, deadlineMs: number): Promise<ClusterStatus> {
    return wire.decodeStatus(await this.unary<StatusResponse__Output>(peer, 'Status', deadlineMs, (c, md, o, cb) => c.Status({}, md, o, cb)));
  }

  fetchRetained(peer: string, deadlineMs: number): Promise<RetainedUpdate[]> {
    const link = this.requireLink(peer, 'RetainedSnapshot');
    return new Promise((resolve, reject) => {
      const out: RetainedUpdate[] = [];
      const call = link.client.RetainedSnapshot({ max_batch: RETAINED_BATCH }, this.callMetadata(), { deadline: Date.now() + deadlineMs });
      call.on('data', (batch) => {
        for (const u of batch.updates) out.push(wire.decodeRetained(u));
      });
      call.on('error', (err: grpc.ServiceError) => reject(new PeerCallError(peer, 'RetainedSnapshot', err.code, err.details)));
      call.on('end', () => resolve(out));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const link of [...this.links.values()]) this.dropLink(link, 'closing');
    for (const name of [...this.inbound.keys()]) this.endInbound(name, () => true);
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => this.server.forceShutdown(), 2_000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  // --- server side ------------------------------------------------------------------------------

  private serviceHandlers(): ClusterHandlers {
    const self = this.opts.self;
    return {
      Hello: (call, cb) => {
        if (this.admitCall(call, 'Hello', (code, details) => cb({ code, details })) === null) return;
        const common = call.request.protocol_versions.filter((v) => v === CLUSTER_PROTOCOL_VERSION);
        cb(null, {
          node: self.name,
          incarnation: self.incarnation,
          protocol_versions: [CLUSTER_PROTOCOL_VERSION],
          chosen_version: common.length > 0 ? CLUSTER_PROTOCOL_VERSION : 0,
        });
      },
      Exchange: (call) => {
        const caller = this.admitCall(call, 'Exchange', (code, details) => call.emit('error', { code, details }));
        if (caller === null) return;
        let streams = this.inbound.get(caller.node);
        if (streams === undefined) this.inbound.set(caller.node, (streams = new Set()));
        streams.add(call);
        (call as InboundStream & { incarnation?: number }).incarnation = caller.incarnation;
        call.write({ messages: [] }); // admitted: the caller may count this lane as up
        call.on('data', (batch: PeerBatch__Output) => this.receive(caller.node, batch));
        const forget = (): void => {
          streams.delete(call);
        };
        call.on('end', () => {
          forget();
          call.end();
        });
        call.on('error', forget);
        call.on('cancelled', forget);
      },
      FullSync: (call, cb) => {
        if (this.admitCall(call, 'FullSync', (code, details) => cb({ code, details })) === null) return;
        cb(null, wire.encodeSlice(call.request.origin, this.opts.handlers.routeSlice(call.request.origin)));
      },
      Status: (call, cb) => {
        if (this.admitCall(call, 'Status', (code, details) => cb({ code, details })) === null) return;
        cb(null, wire.encodeStatus(this.opts.handlers.status()));
      },
      RetainedSnapshot: (call) => {
        if (this.admitCall(call, 'RetainedSnapshot', (code, details) => call.emit('error', { code, details })) === null) return;
        const max = call.request.max_batch > 0 ? call.request.max_batch : RETAINED_BATCH;
        let batch: RetainedUpdate[] = [];
        for (const u of this.opts.handlers.retainedSnapshot()) {
          batch.push(u);
          if (batch.length === max) {
            call.write({ updates: batch.map(wire.encodeRetained) });
            batch = [];
          }
        }
        if (batch.length > 0) call.write({ updates: batch.map(wire.encodeRetained) });
        call.end();
      },
    };
  }

  /** The caller's identity if it may call; otherwise refuses through `refuse` and logs why. */
  private admitCall(
    call: { metadata: grpc.Metadata; getPeer(): string },
    method: string,
    refuse: (code: grpc.status, details: string) => void,
  ): CallerIdentity | null {
    const first = (key: string): string | undefined => {
      const v = call.metadata.get(key)[0];
      return typeof v === 'string' ? v : undefined;
    };
    const check = checkCaller(this.opts.secret, first(NODE_HEADER), first(INCARNATION_HEADER), first(AUTH_HEADER));
    let kind = 'auth';
    let reason = check.ok ? '' : check.reason;
    if (check.ok) {
      kind = this.admission(check.caller.node, check.caller.incarnation);
      if (kind === 'accept') return check.caller;
      reason = kind === 'stale' ? `stale incarnation ${check.caller.incarnation}` : `unknown node or incarnation`;
    }
    this.refused++;
    this.opts.logger.warn(
      { event: 'cluster.call.refused', method, peerAddress: call.getPeer(), node: check.caller?.node, incarnation: check.caller?.incarnation, reason, hint: HINTS[kind] },
      `cluster call refused from ${call.getPeer()}: ${reason}`,
    );
    const code = kind === 'auth' ? grpc.status.UNAUTHENTICATED : kind === 'stale' ? grpc.status.FAILED_PRECONDITION : grpc.status.UNAVAILABLE;
    refuse(code, `${reason}; ${HINTS[kind]}`);
    return null;
  }

  private admission(node: string, incarnation: number): Admission {
    if (this.opts.admit !== undefined) return this.opts.admit(node, incarnation);
    const known = this.known.get(node);
    if (known === undefined || incarnation > known) return 'unknown';
    return incarnation < known ? 'stale' : 'accept';
  }

  private receive(from: string, batch: PeerBatch__Output): void {
    for (const m of batch.messages) {
      let message: PeerMessage;
      try {
        message = wire.decodePeerMessage(m);
      } catch (err) {
        this.opts.logger.warn({ event: 'cluster.wire.bad_message', peer: from, err }, 'cluster message from peer dropped: cannot decode');
        continue;
      }
      this.emit('message', from, message);
    }
  }

  /** Ends inbound streams of `name` whose incarnation matches `which` (a newer one took over). */
  private endInbound(name: string, which: (incarnation: number) => boolean): void {
    for (const s of this.inbound.get(name) ?? []) {
      if (which((s as InboundStream & { incarnation?: number }).incarnation ?? 0)) {
        s.emit('error', { code: grpc.status.FAILED_PRECONDITION, details: 'no longer admitted (down, or a newer incarnation)' });
      }
    }
  }

  // --- client side ------------------------------------------------------------------------------

  private dial(link: Link): void {
    link.retry = null;
    const hello = {
      node: this.opts.self.name,
      incarnation: this.opts.self.incarnation,
      protocol_versions: [CLUSTER_PROTOCOL_VERSION],
      grpc_address: this.opts.self.grpcAddress,
    };
    link.client.Hello(hello, this.callMetadata(), { deadline: Date.now() + 5_000 }, (err, res) => {
      if (this.links.get(link.info.name) !== link) return;
      if (err !== null) return this.linkFailed(link, `Hello failed: ${err.details} (grpc status ${err.code})`);
      if (res === undefined || res.chosen_version === 0 || res.node !== link.info.name || Number(res.incarnation) !== link.info.incarnation) {
        return this.linkFailed(link, `Hello answered by ${res?.node}@${res?.incarnation}, versions ${res?.protocol_versions}, not ${link.info.name}@${link.info.incarnation} speaking v${CLUSTER_PROTOCOL_VERSION}`);
      }
      link.lanes.forEach((lane) => this.openLane(link, lane));
    });
  }

  private openLane(link: Link, lane: Lane): void {
    if (lane.stream !== null) return;
    const stream = link.client.Exchange(this.callMetadata());
    lane.stream = stream;
    stream.on('data', () => {
      if (lane.admitted) return;
      lane.admitted = true;
      this.flush(lane);
      if (!link.up && link.lanes.every((l) => l.admitted)) {
        link.up = true;
        link.lastFailure = '';
        this.opts.logger.info({ event: 'cluster.peer.up', peer: link.info.name, incarnation: link.info.incarnation }, 'cluster peer streams up');
        this.emit('peer-up', link.info);
      }
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (lane.stream === stream) this.linkFailed(link, `stream failed: ${err.details} (grpc status ${err.code})`);
    });
    stream.on('end', () => {
      if (lane.stream === stream) this.linkFailed(link, 'stream ended by the peer');
    });
  }

  private linkFailed(link: Link, reason: string): void {
    for (const lane of link.lanes) {
      const s = lane.stream;
      lane.stream = null;
      lane.admitted = false;
      lane.writable = true;
      s?.cancel();
    }
    if (link.up) {
      link.up = false;
      this.emit('peer-down', link.info.name, reason);
    }
    if (reason !== link.lastFailure) {
      link.lastFailure = reason;
      const hint = reason.includes(`status ${grpc.status.UNAUTHENTICATED})`) ? HINTS.auth : 'retrying; check the peer runs and its --grpc address is reachable';
      this.opts.logger.warn({ event: 'cluster.peer.unreachable', peer: link.info.name, address: link.info.grpcAddress, reason, hint }, `cluster peer ${link.info.name} unreachable: ${reason}`);
    }
    if (link.retry === null && !this.closed && this.links.get(link.info.name) === link) {
      link.retry = setTimeout(() => this.dial(link), this.reconnectMs);
      link.retry.unref();
    }
  }

  private dropLink(link: Link, reason: string): void {
    this.links.delete(link.info.name);
    if (link.retry !== null) clearTimeout(link.retry);
    link.retry = null;
    for (const lane of link.lanes) {
      lane.stream?.end();
      lane.stream = null;
      lane.pending = [];
    }
    if (link.up) this.emit('peer-down', link.info.name, reason);
    link.up = false;
    link.client.close();
  }

  /** Writes a lane's queued messages as one batch; waits for 'drain' when gRPC pushes back. */
  private flush(lane: Lane): void {
    lane.flushing = false;
    const stream = lane.stream;
    if (stream === null || !lane.admitted || !lane.writable || lane.pending.length === 0) return;
    const messages = lane.pending.map(wire.encodePeerMessage);
    lane.pending = [];
    if (!stream.write({ messages })) {
      lane.writable = false;
      stream.once('drain', () => {
        lane.writable = true;
        this.flush(lane);
      });
    }
  }

  private callMetadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    const { name, incarnation } = this.opts.self;
    md.set(NODE_HEADER, name);
    md.set(INCARNATION_HEADER, String(incarnation));
    if (this.opts.secret !== undefined) md.set(AUTH_HEADER, authProof(this.opts.secret, name, incarnation));
    return md;
  }

  private requireLink(peer: string, method: string): Link {
    const link = this.links.get(peer);
    if (link === undefined) throw new PeerCallError(peer, method, grpc.status.UNAVAILABLE, 'not connected (connect() it first)');
    return link;
  }

  private unary<R>(
    peer: string,
    method: string,
    deadlineMs: number,
    call: (c: ClusterClient, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: R) => void) => void,
  ): Promise<R> {
    const link = this.requireLink(peer, method);
    return new Promise((resolve, reject) => {
      call(link.client, this.callMetadata(), { deadline: Date.now() + deadlineMs }, (err, res) => {
        if (err !== null || res === undefined) reject(new PeerCallError(peer, method, err?.code ?? grpc.status.UNKNOWN, err?.details ?? 'no response'));
        else resolve(res);
      });
    });
  }

  private serverCredentials(): grpc.ServerCredentials {
    const tls = this.opts.tls;
    if (tls === undefined) return grpc.ServerCredentials.createInsecure();
    return grpc.ServerCredentials.createSsl(readFileSync(tls.caPath), [{ private_key: readFileSync(tls.keyPath), cert_chain: readFileSync(tls.certPath) }], true);
  }

  private channelCredentials(): grpc.ChannelCredentials {
    const tls = this.opts.tls;
    if (tls === undefined) return grpc.credentials.createInsecure();
    return grpc.credentials.createSsl(readFileSync(tls.caPath), readFileSync(tls.keyPath), readFileSync(tls.certPath));
  }
}
