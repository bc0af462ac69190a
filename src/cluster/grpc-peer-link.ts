// The outgoing side of one peer for GrpcTransport: a gRPC channel, a Hello to check who answers
// and which protocol version both speak, then `lanes` long-lived Exchange streams. A lane holds
// the messages queued for it (bounded by its owner) and writes them as one PeerBatch per
// event-loop turn once the peer has admitted the stream, pausing while gRPC pushes back. When a
// stream fails, every lane is reset and the link redials after a pause; a failure that repeats is
// logged once per distinct reason. Part of the gRPC edge with grpc-transport.ts.

import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../log.js';
import type { ClusterClient } from './gen/cluster/v1/Cluster.js';
import type { PeerBatch, PeerBatch__Output } from './gen/cluster/v1/PeerBatch.js';
import type { PeerMessage } from './peer-messages.js';
import { CLUSTER_PROTOCOL_VERSION, type MemberInfo } from './types.js';
import { encodePeerMessage } from './wire-codec.js';

/** How long a peer has to answer Hello before the dial counts as failed. */
const HELLO_DEADLINE_MS = 5_000;
export const SECRET_HINT = 'give every node the same --cluster-secret (SHOAL_CLUSTER_SECRET)';

interface Lane {
  stream: grpc.ClientDuplexStream<PeerBatch, PeerBatch__Output> | null;
  /** The peer answered the stream's opening: it authenticated and admitted this node. */
  admitted: boolean;
  writable: boolean;
  flushScheduled: boolean;
  pending: PeerMessage[];
}

export interface PeerLinkHooks {
  readonly self: MemberInfo;
  readonly logger: Logger;
  readonly lanes: number;
  readonly reconnectMs: number;
  /** Fresh metadata naming this node and proving the secret, for each call. */
  metadata(): grpc.Metadata;
  up(peer: MemberInfo): void;
  down(peer: MemberInfo, reason: string): void;
}

export class PeerLink {
  private readonly laneState: Lane[] = [];
  private isUp = false;
  private retry: NodeJS.Timeout | null = null;
  private lastFailure = '';
  private closed = false;

  constructor(
    readonly info: MemberInfo,
    readonly client: ClusterClient,
    private readonly hooks: PeerLinkHooks,
  ) {
    for (let i = 0; i < hooks.lanes; i++) {
      this.laneState.push({ stream: null, admitted: false, writable: true, flushScheduled: false, pending: [] });
    }
    this.dial();
  }

  get up(): boolean {
    return this.isUp;
  }

  /** Messages waiting on `lane`. */
  pendingOn(lane: number): number {
    return this.laneState[lane]!.pending.length;
  }

  enqueue(lane: number, message: PeerMessage): void {
    const l = this.laneState[lane]!;
    l.pending.push(message);
    if (!l.flushScheduled) {
      l.flushScheduled = true;
      setImmediate(() => this.flush(l));
    }
  }

  close(reason: string): void {
    this.closed = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    for (const lane of this.laneState) {
      lane.stream?.end();
      lane.stream = null;
      lane.pending = [];
    }
    if (this.isUp) this.hooks.down(this.info, reason);
    this.isUp = false;
    this.client.close();
  }

  private dial(): void {
    this.retry = null;
    const { self } = this.hooks;
    const hello = {
      node: self.name,
      incarnation: self.incarnation,
      protocol_versions: [CLUSTER_PROTOCOL_VERSION],
      grpc_address: self.grpcAddress,
    };
    const deadline = Date.now() + HELLO_DEADLINE_MS;
    this.client.Hello(hello, this.hooks.metadata(), { deadline }, (err, res) => {
      if (this.closed) return;
      if (err !== null) return this.failed(`Hello failed: ${err.details} (grpc status ${err.code})`);
      const { name, incarnation } = this.info;
      if (res === undefined || res.chosen_version === 0 || res.node !== name || Number(res.incarnation) !== incarnation) {
        const who = `${res?.node}@${res?.incarnation} speaking versions [${res?.protocol_versions}]`;
        return this.failed(`Hello answered by ${who}, expected ${name}@${incarnation} speaking ${CLUSTER_PROTOCOL_VERSION}`);
      }
      for (const lane of this.laneState) this.openLane(lane);
    });
  }

  private openLane(lane: Lane): void {
    if (lane.stream !== null) return;
    const stream = this.client.Exchange(this.hooks.metadata());
    lane.stream = stream;
    stream.on('data', () => {
      if (lane.admitted) return;
      lane.admitted = true;
      this.flush(lane);
      if (!this.isUp && this.laneState.every((l) => l.admitted)) {
        this.isUp = true;
        this.lastFailure = '';
        const { name, incarnation } = this.info;
        this.hooks.logger.info({ event: 'cluster.peer.up', peer: name, incarnation }, 'cluster peer streams up');
        this.hooks.up(this.info);
      }
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (lane.stream === stream) this.failed(`stream failed: ${err.details} (grpc status ${err.code})`);
    });
    stream.on('end', () => {
      if (lane.stream === stream) this.failed('stream ended by the peer');
    });
  }

  private failed(reason: string): void {
    for (const lane of this.laneState) {
      const s = lane.stream;
      lane.stream = null;
      lane.admitted = false;
      lane.writable = true;
      s?.cancel();
    }
    if (this.isUp) {
      this.isUp = false;
      this.hooks.down(this.info, reason);
    }
    if (reason !== this.lastFailure) {
      this.lastFailure = reason;
      const refused = reason.includes(`status ${grpc.status.UNAUTHENTICATED})`);
      const hint = refused ? SECRET_HINT : 'retrying; check the peer runs and its --grpc address is reachable';
      const { name, grpcAddress } = this.info;
      this.hooks.logger.warn(
        { event: 'cluster.peer.unreachable', peer: name, address: grpcAddress, reason, hint },
        `cluster peer ${name} unreachable: ${reason}`,
      );
    }
    if (this.retry === null && !this.closed) {
      this.retry = setTimeout(() => this.dial(), this.hooks.reconnectMs);
      this.retry.unref();
    }
  }

  /**
   * Writes a lane's queued messages in batches of at most MAX_BATCH_MESSAGES messages and about
   * MAX_BATCH_BYTES, and waits for 'drain' when gRPC pushes back. Bounded batches keep each
   * protobuf message far below the receive limit and let other lanes' writes interleave.
   */
  private flush(lane: Lane): void {
    lane.flushScheduled = false;
    const stream = lane.stream;
    if (stream === null || !lane.admitted) return;
    while (lane.writable && lane.pending.length > 0) {
      let bytes = 0;
      let n = 0;
      while (n < lane.pending.length && n < MAX_BATCH_MESSAGES && (n === 0 || bytes < MAX_BATCH_BYTES)) {
        bytes += approximateBytes(lane.pending[n]!);
        n++;
      }
      const messages = lane.pending.splice(0, n).map(encodePeerMessage);
      if (!stream.write({ messages })) {
        lane.writable = false;
        stream.once('drain', () => {
          lane.writable = true;
          this.flush(lane);
        });
      }
    }
  }
}

/** Messages per PeerBatch at most. */
export const MAX_BATCH_MESSAGES = 1024;
/** A PeerBatch is closed once its messages reach about this many bytes (one larger message still
 * goes alone). */
export const MAX_BATCH_BYTES = 1 << 20;

/** The bulk of a message's encoded size: payloads and strings; small fixed fields are ignored. */
function approximateBytes(m: PeerMessage): number {
  switch (m.kind) {
    case 'forward': {
      let n = 0;
      for (const p of m.publishes) n += 32 + p.message.topic.length + p.message.payload.byteLength;
      return n;
    }
    case 'route-delta': {
      let n = 32;
      for (const f of m.delta.adds) n += f.length + 2;
      for (const f of m.delta.removes) n += f.length + 2;
      return n;
    }
    case 'retained': {
      let n = 0;
      for (const u of m.updates) n += 32 + u.topic.length + (u.message?.payload.byteLength ?? 0);
      return n;
    }
    case 'digests':
      return 16 + 48 * m.set.digests.length;
    case 'forward-ack':
      return 16;
    case 'registrations':
      return 16 + m.view.length + 24 * m.entries.length + m.entries.reduce((n, e) => n + e.clientId.length, 0);
    case 'evict':
      return 32 + m.clientId.length;
  }
}
