// PeerTransport over gRPC. With grpc-peer-link.ts (the outgoing streams of one peer) it is the
// only code that imports @grpc/grpc-js. Per peer: one channel, `lanes` long-lived Exchange
// streams carrying this node's batches to it (a lane per topic hash, so per-topic order holds),
// and unary calls with deadlines for control. Every call names this node and its incarnation and
// proves the cluster secret (src/cluster/grpc-auth.ts); the server refuses a wrong proof, an
// unknown node and a stale incarnation, and logs why. While a peer is down its messages wait in a
// bounded buffer per lane; what does not fit is dropped and counted.

import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Logger } from '../log.js';
import type { ProtoGrpcType } from './gen/cluster.js';
import type { ClusterClient, ClusterHandlers } from './gen/cluster/v1/Cluster.js';
import { MAX_BATCH_BYTES, PeerLink, SECRET_HINT } from './grpc-peer-link.js';
import type { FullSyncResponse__Output } from './gen/cluster/v1/FullSyncResponse.js';
import type { PeerBatch, PeerBatch__Output } from './gen/cluster/v1/PeerBatch.js';
import type { StatusResponse__Output } from './gen/cluster/v1/StatusResponse.js';
import type { TakeoverReceipt__Output } from './gen/cluster/v1/TakeoverReceipt.js';
import { decodeTakeover, encodeTakeover, type SessionTakeoverMessage } from './takeover-codec.js';
import { AUTH_HEADER, INCARNATION_HEADER, NODE_HEADER, authProof, checkCaller, type CallerIdentity } from './grpc-auth.js';
import type { PeerMessage, RetainedUpdate, RouteSlice } from './peer-messages.js';
import type { AdoptResponse__Output } from './gen/cluster/v1/AdoptResponse.js';
import type { AdoptOutcome, Admission, ClusterStatus, ControlHandlers, PeerTransport, PeerTransportEvents } from './peer-transport.js';
import { CLUSTER_PROTOCOL_VERSION, type MemberInfo } from './types.js';
import * as wire from './wire-codec.js';

/** Tuning defaults; each is an option. */
export const DEFAULT_LANES = 4;
/** Messages waiting per lane while a peer is unreachable (bounds memory per peer). */
export const DEFAULT_MAX_PENDING_PER_LANE = 10_000;
/** Pause before redialling a peer whose streams failed. */
export const DEFAULT_RECONNECT_MS = 500;
const RETAINED_BATCH = 500;
/** Largest protobuf message accepted from a peer: one forwarded or retained message can be as
 * large as an MQTT packet (256 MiB); gRPC's default of 4 MiB would break the stream. */
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024 + 16 * 1024 * 1024;

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

type InboundStream = grpc.ServerDuplexStream<PeerBatch__Output, PeerBatch>;

function clientCredentials(tls: GrpcTransportOptions['tls']): grpc.ChannelCredentials {
  if (tls === undefined) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(readFileSync(tls.caPath), readFileSync(tls.keyPath), readFileSync(tls.certPath));
}

/** The caller name of `shoal cluster status`: admitted to the Status call only (with the secret). */
export const STATUS_CALLER = 'shoal-cli';

/**
 * One Status call to the node serving gRPC at `address`, as STATUS_CALLER: what
 * `shoal cluster status` prints. Proves `secret` like a node would; mTLS when `tls` is given.
 */
export function queryStatus(
  address: string,
  opts: { readonly secret: string | undefined; readonly tls?: GrpcTransportOptions['tls']; readonly deadlineMs: number },
): Promise<ClusterStatus> {
  const proto = loadProto();
  const client = new proto.cluster.v1.Cluster(address, clientCredentials(opts.tls));
  const md = new grpc.Metadata();
  const incarnation = Date.now();
  md.set(NODE_HEADER, STATUS_CALLER);
  md.set(INCARNATION_HEADER, String(incarnation));
  if (opts.secret !== undefined) md.set(AUTH_HEADER, authProof(opts.secret, STATUS_CALLER, incarnation));
  return new Promise<ClusterStatus>((resolve, reject) => {
    client.Status({}, md, { deadline: Date.now() + opts.deadlineMs }, (err, res) => {
      client.close();
      if (err === null && res !== undefined) resolve(wire.decodeStatus(res));
      else reject(new PeerCallError(address, 'Status', err?.code ?? grpc.status.UNKNOWN, err?.details ?? 'no response'));
    });
  });
}

/** What the refused caller's operator should do, per reason. */
const HINTS: Record<'auth' | 'unknown' | 'stale', string> = {
  auth: SECRET_HINT,
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
  private readonly server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES });
  private readonly links = new Map<string, PeerLink>();
  /** Incarnation of every node passed to connect(): the default admission. */
  private readonly known = new Map<string, number>();
  private readonly inbound = new Map<string, Set<InboundStream>>();
  private readonly maxPending: number;
  private closed = false;

  constructor(private readonly opts: GrpcTransportOptions) {
    super();
    this.lanes = opts.lanes ?? DEFAULT_LANES;
    this.maxPending = opts.maxPendingPerLane ?? DEFAULT_MAX_PENDING_PER_LANE;
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
    if (current?.info.incarnation === peer.incarnation && current.info.grpcAddress === peer.grpcAddress) return;
    if (current !== undefined) this.dropLink(current, 'replaced by a new incarnation or address');
    this.known.set(peer.name, peer.incarnation);
    this.endInbound(peer.name, (i) => i !== peer.incarnation);
    const client = new this.proto.cluster.v1.Cluster(peer.grpcAddress, this.channelCredentials(), {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    });
    this.links.set(
      peer.name,
      new PeerLink(peer, client, {
        self: this.opts.self,
        logger: this.opts.logger,
        lanes: this.lanes,
        reconnectMs: this.opts.reconnectMs ?? DEFAULT_RECONNECT_MS,
        metadata: () => this.callMetadata(),
        up: (info) => this.emit('peer-up', info),
        down: (info, reason) => this.emit('peer-down', info.name, reason),
      }),
    );
  }

  disconnect(name: string): void {
    this.known.delete(name);
    this.endInbound(name, () => true);
    const link = this.links.get(name);
    if (link !== undefined) this.dropLink(link, 'disconnected');
  }

  send(peer: string, message: PeerMessage, lane: number): boolean {
    const link = this.links.get(peer);
    const l = lane % this.lanes;
    if (link === undefined || link.pendingOn(l) >= this.maxPending) {
      // Logged at the 1st, 2nd, 4th, 8th... drop: a peer that stays down or slow cannot flood the log.
      this.dropped++;
      if ((this.dropped & (this.dropped - 1)) === 0) {
        this.opts.logger.warn({ event: 'cluster.send.dropped', peer, dropped: this.dropped }, 'cluster message dropped: peer unknown or its buffer is full');
      }
      return false;
    }
    link.enqueue(l, message);
    return true;
  }

  async fetchSlice(peer: string, origin: string, deadlineMs: number): Promise<RouteSlice | null> {
    return wire.decodeSlice(
      await this.unary<FullSyncResponse__Output>(peer, 'FullSync', deadlineMs, (c, md, o, cb) => c.FullSync({ origin }, md, o, cb)),
    );
  }

  async status(peer: string, deadlineMs: number): Promise<ClusterStatus> {
    return wire.decodeStatus(
      await this.unary<StatusResponse__Output>(peer, 'Status', deadlineMs, (c, md, o, cb) => c.Status({}, md, o, cb)),
    );
  }

  async takeover(peer: string, message: SessionTakeoverMessage, deadlineMs: number): Promise<void> {
    const request = encodeTakeover(message, this.opts.self.name);
    await this.unary<TakeoverReceipt__Output>(peer, 'Takeover', deadlineMs, (c, md, o, cb) => c.Takeover(request, md, o, cb));
  }

  async adopt(peer: string, clientId: string, deadlineMs: number): Promise<AdoptOutcome> {
    const r = await this.unary<AdoptResponse__Output>(peer, 'Adopt', deadlineMs, (c, md, o, cb) => c.Adopt({ client_id: clientId }, md, o, cb));
    return { moved: r.moved, detail: r.detail };
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
      Takeover: (call, cb) => {
        const caller = this.admitCall(call, 'Takeover', (code, details) => cb({ code, details }));
        if (caller === null) return;
        let message: SessionTakeoverMessage;
        try {
          message = decodeTakeover(call.request);
        } catch (err) {
          this.opts.logger.warn({ event: 'cluster.wire.bad_message', peer: caller.node, method: 'Takeover', err }, 'takeover message from peer refused: cannot decode');
          cb({ code: grpc.status.INVALID_ARGUMENT, details: `cannot decode the takeover message: ${err instanceof Error ? err.message : String(err)}` });
          return;
        }
        // The protocol answers to `from`: a node may speak only for itself.
        if (call.request.from !== caller.node) {
          cb({ code: grpc.status.PERMISSION_DENIED, details: `takeover message names ${JSON.stringify(call.request.from)} as its sender but the caller is ${caller.node}` });
          return;
        }
        cb(null, {});
        this.emit('takeover', caller.node, message);
      },
      Adopt: (call, cb) => {
        const caller = this.admitCall(call, 'Adopt', (code, details) => cb({ code, details }));
        if (caller === null) return;
        if (call.request.client_id === '') {
          cb({ code: grpc.status.INVALID_ARGUMENT, details: 'Adopt needs a client id' });
          return;
        }
        this.opts.handlers.adopt(caller.node, call.request.client_id).then(
          (o) => cb(null, { moved: o.moved, detail: o.detail }),
          (err: unknown) => cb({ code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) }),
        );
      },
      Status: (call, cb) => {
        // Also `shoal cluster status` (STATUS_CALLER), which is no member but proves the secret.
        if (this.admitCall(call, 'Status', (code, details) => cb({ code, details }), true) === null) return;
        cb(null, wire.encodeStatus(this.opts.handlers.status()));
      },
      RetainedSnapshot: (call) => {
        if (this.admitCall(call, 'RetainedSnapshot', (code, details) => call.emit('error', { code, details })) === null) return;
        const max = call.request.max_batch > 0 ? call.request.max_batch : RETAINED_BATCH;
        let batch: RetainedUpdate[] = [];
        let bytes = 0;
        for (const u of this.opts.handlers.retainedSnapshot()) {
          batch.push(u);
          bytes += u.topic.length + (u.message?.payload.byteLength ?? 0);
          if (batch.length === max || bytes >= MAX_BATCH_BYTES) {
            call.write({ updates: batch.map(wire.encodeRetained) });
            batch = [];
            bytes = 0;
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
    operator = false,
  ): CallerIdentity | null {
    const first = (key: string): string | undefined => {
      const v = call.metadata.get(key)[0];
      return typeof v === 'string' ? v : undefined;
    };
    const check = checkCaller(this.opts.secret, first(NODE_HEADER), first(INCARNATION_HEADER), first(AUTH_HEADER));
    let kind: 'auth' | Admission = 'auth';
    let reason = check.ok ? '' : check.reason;
    if (check.ok) {
      if (operator && check.caller.node === STATUS_CALLER) return check.caller;
      kind = this.admission(check.caller.node, check.caller.incarnation);
      if (kind === 'accept') return check.caller;
      reason = kind === 'stale' ? `stale incarnation ${check.caller.incarnation}` : `unknown node or incarnation`;
    }
    this.refused++;
    this.opts.logger.warn(
      {
        event: 'cluster.call.refused',
        method,
        peerAddress: call.getPeer(),
        node: check.caller?.node,
        incarnation: check.caller?.incarnation,
        reason,
        hint: HINTS[kind],
      },
      `cluster call refused from ${call.getPeer()}: ${reason}`,
    );
    // UNAVAILABLE for an unknown node: it may become a member shortly, so the caller retries.
    const code = { auth: grpc.status.UNAUTHENTICATED, stale: grpc.status.FAILED_PRECONDITION, unknown: grpc.status.UNAVAILABLE }[kind];
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

  private dropLink(link: PeerLink, reason: string): void {
    this.links.delete(link.info.name);
    link.close(reason);
  }

  private callMetadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    const { name, incarnation } = this.opts.self;
    md.set(NODE_HEADER, name);
    md.set(INCARNATION_HEADER, String(incarnation));
    if (this.opts.secret !== undefined) md.set(AUTH_HEADER, authProof(this.opts.secret, name, incarnation));
    return md;
  }

  private requireLink(peer: string, method: string): PeerLink {
    const link = this.links.get(peer);
    if (link === undefined) throw new PeerCallError(peer, method, grpc.status.UNAVAILABLE, 'not connected (connect() it first)');
    return link;
  }

  private unary<R>(
    peer: string,
    method: string,
    deadlineMs: number,
    call: (c: ClusterClient, md: grpc.Metadata, o: grpc.CallOptions, cb: grpc.requestCallback<R>) => void,
  ): Promise<R> {
    const link = this.requireLink(peer, method);
    return new Promise((resolve, reject) => {
      call(link.client, this.callMetadata(), { deadline: Date.now() + deadlineMs }, (err, res) => {
        if (err === null && res !== undefined) return resolve(res);
        reject(new PeerCallError(peer, method, err?.code ?? grpc.status.UNKNOWN, err?.details ?? 'no response'));
      });
    });
  }

  private serverCredentials(): grpc.ServerCredentials {
    const tls = this.opts.tls;
    if (tls === undefined) return grpc.ServerCredentials.createInsecure();
    const pair = { private_key: readFileSync(tls.keyPath), cert_chain: readFileSync(tls.certPath) };
    // true: a client without a certificate of the cluster CA is refused during the handshake.
    return grpc.ServerCredentials.createSsl(readFileSync(tls.caPath), [pair], true);
  }

  private channelCredentials(): grpc.ChannelCredentials {
    return clientCredentials(this.opts.tls);
  }
}
