// One client connection on the main thread: framing and decoding, protocol checks, keepalive,
// CONNACK/DISCONNECT, topic aliases and the write path with slow-consumer protection. It works on
// any stream.Duplex (net.Socket today, TLS and WebSocket streams later). Everything above it
// (sessions, routing) is the node's, reached through ConnectionHandler.

import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type {
  IAuthPacket,
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPublishPacket,
  ISubackPacket,
  Packet,
} from 'mqtt-packet';
import type { AuthMethods } from '../auth/enhanced-auth.js';
import { PacketDecoder, encodePacket, type DecoderOptions, type DecoderSink } from '../protocol/codec.js';
import type { ConnectAccepted } from '../protocol/connect.js';
import { isProtocolViolationCode, validateConnect } from '../protocol/connect.js';
import type { ProtocolVersion } from '../protocol/message.js';
import { MAX_REMAINING_LENGTH } from '../protocol/fast-codec.js';
import { ReasonCode, connackCodeForV3, reasonName, subackCodeForV3 } from '../protocol/reason-codes.js';
import { AuthFlow, type AuthOutcome } from './auth-flow.js';
import { ConnectionStateError, PacketEncodeError, ProtocolViolation } from './errors.js';
import { DeadlineWheel, type DeadlineTarget } from './deadline-wheel.js';
import { InboundTopicAliases, checkPacket, checkPublish } from './inbound-checks.js';
import { PublishRate, overRateAction, type PublishRateAction } from './publish-rate.js';
import type { TopicLimits } from '../routing/topic.js';
import type { OutgoingPublish, PublishEncodeCache, SendResult, TopicAliasUse } from './publish-encoder.js';
import { OutboundTopicAliases, encodePublish, expiryToSend, publishCacheKey } from './publish-encoder.js';

export type { OutgoingPublish, SendResult } from './publish-encoder.js';

export interface ConnectionLimits {
  /** Bytes; a larger inbound packet closes the connection (v5 DISCONNECT 0x95) [MQTT-3.1.2-24]; announced in CONNACK. */
  maxPacketSize: number;
  /** No CONNECT within this → close silently. */
  connectTimeoutMs: number;
  /** 0 = no limit. */
  maxKeepaliveSec: number;
  /** Topic aliases we accept from clients (announced in CONNACK). */
  topicAliasMaximum: number;
  /** Unacknowledged inbound QoS 1/2 publishes we accept (announced in CONNACK); exceeding → DISCONNECT 0x93. */
  receiveMaximum: number;
  /** Slow consumer: QoS 0 publishes dropped above half of it, connection closed above it. */
  maxWriteBufferBytes: number;
  /**
   * Requests (SUBSCRIBE, UNSUBSCRIBE, PUBREL) waiting for their answer (SUBACK, UNSUBACK,
   * PUBCOMP) at which the connection stops being read, until half of them are answered.
   */
  maxPendingRequests: number;
  /** Enhanced authentication methods offered (§4.12); absent = none, every method gets 0x8C. */
  authMethods?: AuthMethods;
  /** Bounds on PUBLISH and will topics (v5 DISCONNECT / CONNACK 0x90 beyond them); absent = none. */
  topicLimits?: TopicLimits;
  /** PUBLISH packets a second per connection (see publish-rate.ts); absent or 0 = unlimited. */
  maxPublishRate?: number;
}

export interface CloseReason {
  kind: 'normal' | 'will' | 'abnormal' | 'takeover' | 'server';
  reasonCode: number;
  detail: string;
  /** v5 DISCONNECT may update it. */
  sessionExpiryIntervalSec?: number;
  /** v5 Server Reference sent with the server's DISCONNECT (0x9C Use Another Server, §4.11). */
  serverReference?: string;
}

export interface ConnectionHandler {
  /** A valid CONNECT; the node answers with conn.accept(...) or conn.reject(...). */
  onConnect(conn: Connection, packet: IConnectPacket, decision: ConnectAccepted): void;
  /** Validated; a topic alias is already resolved into packet.topic. */
  onPublish(conn: Connection, packet: IPublishPacket): void;
  /** PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, UNSUBSCRIBE (PINGREQ and AUTH are answered here). */
  onControl(conn: Connection, packet: Packet): void;
  /** Exactly once per connection, also when CONNECT never came (clientId null). */
  onClose(conn: Connection, reason: CloseReason): void;
  /** A PUBLISH went over the publish rate; `action` says what was done with it (publish-rate.ts). */
  onPublishRateExceeded?(conn: Connection, packet: IPublishPacket, action: PublishRateAction): void;
}

export type ConnackProperties = NonNullable<IConnackPacket['properties']>;

export interface ConnectionStats {
  bytesReceived: number;
  packetsReceived: number;
  bytesSent: number;
  packetsSent: number;
  /** PUBLISH packets not sent: too large for the client, or the client reads too slowly. */
  publishesDropped: number;
  /** Other packets not sent because they exceed the client's Maximum Packet Size. */
  packetsDropped: number;
}

/**
 * The largest packet MQTT can frame (fixed header byte, 4-byte length, the largest remaining
 * length), which stands for "no Maximum Packet Size": a small integer V8 stores in the field
 * itself, where Infinity would be a 16-byte heap number per connection.
 */
const NO_PACKET_SIZE_LIMIT = 1 + 4 + MAX_REMAINING_LENGTH;

/** After end(), how long the peer gets to finish the close before the stream is destroyed. */
export const CLOSE_GRACE_MS = 2000;

/** Corked bytes that trigger an early flush within one event-loop turn. */
const CORK_FLUSH_BYTES = 64 * 1024;

type State = 'connecting' | 'open' | 'closed';

/**
 * When a write leaves. 'turn': corked until the end of this event-loop turn's ticks, with
 * whatever else this connection is sent meanwhile (one writev); 'late': corked until the check
 * phase, behind the deliveries the turn's shard batches produce; 'now': at once when nothing is
 * corked (else it joins the cork, keeping the order).
 */
type WriteTiming = 'turn' | 'late' | 'now';

// Idle memory per connection: the stream listeners below are shared functions that find their
// Connection through this property of the stream, rather than four closures (and a context) per
// connection; likewise the decoder's sink is the Connection itself and its options are shared.
const kConnection = Symbol('shoal.connection');
type ConnectionStream = Duplex & { [kConnection]?: Connection };

function onStreamData(this: ConnectionStream, chunk: Buffer | string): void {
  this[kConnection]?.onStreamData(chunk);
}

function onStreamError(this: ConnectionStream, err: NodeJS.ErrnoException): void {
  this[kConnection]?.onStreamError(err);
}

function onStreamEnd(this: ConnectionStream): void {
  this[kConnection]?.onStreamEnd();
}

function onStreamClose(this: ConnectionStream): void {
  this[kConnection]?.onStreamClose();
}

function uncorkConnection(conn: Connection): void {
  conn.uncork();
}

function resumeConnectionRequests(conn: Connection): void {
  conn.resumeRequests();
}

function resumeAfterPublishRate(conn: Connection): void {
  conn.resumeAfterPublishRate();
}

/**
 * Connect and keepalive deadlines of every connection of this thread: one 100 ms interval while
 * any connection waits, instead of two Timeouts per connection and a refresh per packet.
 */
const deadlines = new DeadlineWheel(100);

// The packets every connection sends the same bytes of, encoded once (connect CPU): 3.1/3.1.1
// CONNACK 0 without and with Session Present (§3.2), and PINGRESP (§3.13, the same in 5.0).
const CONNACK_V3_ACCEPTED = [Buffer.from([0x20, 0x02, 0x00, 0x00]), Buffer.from([0x20, 0x02, 0x01, 0x00])] as const;
const PINGRESP = Buffer.from([0xd0, 0x00]);

const decoderOptionsByLimits = new WeakMap<ConnectionLimits, DecoderOptions>();

/**
 * Enhanced authentication of the connections whose CONNECT named a method (§4.12), beside them
 * rather than a field of every Connection (idle memory: most connections never use it). Read only
 * before CONNACK and on AUTH packets, never on the publish path.
 */
const authFlows = new WeakMap<Connection, AuthFlow>();

/**
 * The verified client certificate's Common Name of connections from a TLS listener with
 * --tls-cn-as-username (null: the certificate has none), beside the connections rather than a
 * field of each (idle memory). Read once, at CONNECT.
 */
const certificateUsernames = new WeakMap<Connection, string | null>();

/**
 * 5.0 CONNACK 0 without and with Session Present, by limits, for the CONNACKs that carry nothing
 * of their own client (no Assigned Client Identifier, no Server Keep Alive): encoded once.
 */
const sharedConnacksV5 = new WeakMap<ConnectionLimits, [Buffer | null, Buffer | null]>();

type AcceptOptions = { sessionPresent: boolean; properties?: ConnackProperties };

/** The 5.0 CONNACK 0: our limits, and what the decision says of this client. */
function connackV5(limits: ConnectionLimits, decision: ConnectAccepted, opts: AcceptOptions): IConnackPacket {
  const props: ConnackProperties = {
    receiveMaximum: limits.receiveMaximum,
    topicAliasMaximum: limits.topicAliasMaximum,
    maximumPacketSize: limits.maxPacketSize,
    retainAvailable: true,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: true,
    sharedSubscriptionAvailable: true,
    // Maximum QoS is omitted: absent means 2, which we support (§3.2.2.3.4).
  };
  if (decision.serverKeepAlive !== undefined) props.serverKeepAlive = decision.serverKeepAlive; // [MQTT-3.2.2-21]
  if (decision.assigned) props.assignedClientIdentifier = decision.clientId; // §3.2.2.3.7
  if (decision.authenticationMethod !== undefined) {
    props.authenticationMethod = decision.authenticationMethod; // [MQTT-4.12.0-5]
    if (decision.authenticationData !== undefined) props.authenticationData = decision.authenticationData;
  }
  return { cmd: 'connack', sessionPresent: opts.sessionPresent, reasonCode: ReasonCode.Success, properties: { ...props, ...opts.properties } };
}

function decoderOptions(limits: ConnectionLimits): DecoderOptions {
  let opts = decoderOptionsByLimits.get(limits);
  if (opts === undefined) {
    opts = { maxPacketSize: limits.maxPacketSize, firstMustBeConnect: true };
    decoderOptionsByLimits.set(limits, opts);
  }
  return opts;
}

export class Connection implements DecoderSink, DeadlineTarget {
  clientId: string | null = null;
  protocolVersion: ProtocolVersion = 4;
  state: State = 'connecting';
  /** v5 CONNECT Receive Maximum: our unacknowledged QoS 1/2 sends the client accepts. */
  clientReceiveMaximum = 65535;
  /** v5 CONNECT Maximum Packet Size; nothing larger is ever sent [MQTT-3.1.2-25]. */
  clientMaxPacketSize = NO_PACKET_SIZE_LIMIT;
  /** v5 CONNECT Topic Alias Maximum: aliases we may use towards the client. */
  clientTopicAliasMaximum = 0;
  /** Keep Alive in force after CONNACK, in seconds; 0 = none. */
  keepaliveSec = 0;
  // The ConnectionStats counters, as fields rather than an object of their own (idle memory: 32
  // bytes less per connection); `stats` reads them.
  private bytesReceived = 0;
  private packetsReceived = 0;
  private bytesSent = 0;
  private packetsSent = 0;
  private publishesDropped = 0;
  private packetsDropped = 0;

  private readonly decoder: PacketDecoder;
  private decision: ConnectAccepted | null = null;
  /** A CONNECT arrived (valid or not): packets may be sent from now on. */
  private connectSeen = false;
  /** Session Expiry Interval from CONNECT: a DISCONNECT may not raise it from 0 [MQTT-3.14.2-2]. */
  private connectSessionExpiry = 0;
  /** Epoch ms of the socket's arrival, then of CONNACK and of every packet since (keepalive). */
  private activityAt: number;
  /** @internal DeadlineTarget */
  wheelSlot = -1;
  private graceTimer: NodeJS.Timeout | null = null;
  private corked = false;
  private corkedBytes = 0;
  /** The stream was paused because bytes arrived between CONNECT and the node's answer. */
  private streamPaused = false;
  /** Requests read from the client and not yet answered (see ConnectionLimits.maxPendingRequests). */
  private pendingRequests = 0;
  /** Reading stopped at maxPendingRequests: 'paused', or 'resuming' once a resume is scheduled. */
  private requestFlow: 'reading' | 'paused' | 'resuming' = 'reading';
  private inAliases: InboundTopicAliases | null = null; // created on the first inbound PUBLISH
  private outAliases: OutboundTopicAliases | null = null;
  /** Packet ids of inbound QoS 1/2 publishes not yet acknowledged by us (Receive Maximum). */
  private unacked: Set<number> | null = null; // created on the first inbound QoS 1/2 PUBLISH
  /** Created on the first inbound PUBLISH when a publish rate is set (idle memory: one field). */
  private publishRate: PublishRate | null = null;

  constructor(
    readonly stream: Duplex,
    private readonly handler: ConnectionHandler,
    private readonly limits: ConnectionLimits,
    readonly id: number,
    readonly remoteAddress: string,
  ) {
    this.decoder = new PacketDecoder(decoderOptions(limits), this);
    this.activityAt = Date.now();
    deadlines.schedule(this, this.activityAt + limits.connectTimeoutMs);

    (stream as ConnectionStream)[kConnection] = this;
    stream.on('data', onStreamData);
    stream.on('error', onStreamError);
    stream.on('end', onStreamEnd);
    stream.on('close', onStreamClose);
  }

  /**
   * The client certificate authenticated this connection (--tls-cn-as-username): its CONNECT's
   * username becomes `commonName` (see ConnectAccepted.certificateUsername); null refuses it.
   */
  useCertificateUsername(commonName: string | null): void {
    certificateUsernames.set(this, commonName);
  }

  get stats(): ConnectionStats {
    return {
      bytesReceived: this.bytesReceived,
      packetsReceived: this.packetsReceived,
      bytesSent: this.bytesSent,
      packetsSent: this.packetsSent,
      publishesDropped: this.publishesDropped,
      packetsDropped: this.packetsDropped,
    };
  }

  // ---- stream events (internal: called by the shared listeners above) ----

  /** @internal */
  onStreamData(chunk: Buffer | string): void {
    if (this.state === 'closed') return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.bytesReceived += buf.length;
    // While an enhanced authentication exchange runs, its AUTH packets are read as they come.
    const afterConnect = this.connectSeen && this.state === 'connecting' && !this.authenticating();
    this.decoder.push(buf);
    if (afterConnect && !this.streamPaused && this.state === 'connecting') {
      // Nothing after CONNECT is processed before the node accepts [MQTT-3.1.4-5]: the decoder
      // holds these bytes, and the stream stops here so that a client cannot make us buffer more
      // than this read meanwhile. Paused only once such bytes come, not at every CONNECT: most
      // clients wait for CONNACK, and a pause and resume per handshake cost connect rate.
      this.streamPaused = true;
      this.stream.pause();
    }
  }

  /** @internal */
  onStreamError(err: NodeJS.ErrnoException): void {
    this.closeWith({ kind: 'abnormal', reasonCode: ReasonCode.UnspecifiedError, detail: `stream error: ${err.code ?? err.message}` }, false);
    this.stream.destroy();
  }

  /** @internal */
  onStreamEnd(): void {
    this.closeWith({ kind: 'abnormal', reasonCode: ReasonCode.UnspecifiedError, detail: 'client closed the connection without DISCONNECT' }, false);
  }

  /** @internal */
  onStreamClose(): void {
    this.closeWith({ kind: 'abnormal', reasonCode: ReasonCode.UnspecifiedError, detail: 'connection lost without DISCONNECT' }, false);
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
  }

  /** Sends CONNACK 0 and opens the connection. Does nothing when it closed in the meantime. */
  accept(opts: AcceptOptions): void {
    if (this.state === 'closed') return;
    const decision = this.decision;
    if (this.state !== 'connecting' || decision === null) throw new ConnectionStateError(this.id, 'accept', this.state);
    this.state = 'open';
    // Not needed once the CONNACK is out; an idle connection should not keep it (~56 bytes).
    this.decision = null;
    // The CONNACK is this connection's first packet: it leaves at once rather than in a cork
    // held for the rest of the turn (what the session sends after it corks on its own).
    if (this.protocolVersion !== 5) {
      this.sendEncoded(CONNACK_V3_ACCEPTED[opts.sessionPresent ? 1 : 0], 'now');
    } else if (decision.serverKeepAlive === undefined && !decision.assigned && decision.authenticationMethod === undefined && opts.properties === undefined) {
      let shared = sharedConnacksV5.get(this.limits);
      if (shared === undefined) sharedConnacksV5.set(this.limits, (shared = [null, null]));
      const i = opts.sessionPresent ? 1 : 0;
      this.sendEncoded((shared[i] ??= this.encodeControl(connackV5(this.limits, decision, opts))), 'now');
    } else {
      this.sendWith(connackV5(this.limits, decision, opts), 'now');
    }
    if (this.state !== 'open') return; // the CONNACK alone overflowed the write buffer
    this.keepaliveSec = decision.keepaliveSec;
    if (this.keepaliveSec > 0) {
      this.activityAt = Date.now();
      deadlines.schedule(this, this.activityAt + this.keepaliveSec * 1500);
    }
    if (!this.streamPaused && !this.decoder.busy) {
      // Nothing came after CONNECT: the decoder has nothing to go on with, so nothing to defer.
      this.decoder.resume();
      return;
    }
    // Packets the client sent after CONNECT wait until now; process them after the caller's
    // current code (which may still be registering this connection) has run.
    queueMicrotask(() => {
      if (this.state !== 'open') return;
      this.decoder.resume();
      if (this.state === 'open' && this.streamPaused) {
        this.streamPaused = false;
        this.stream.resume();
      }
    });
  }

  /** Sends CONNACK with `reasonCode` (3.1.1: mapped, or nothing for a protocol violation) and closes. */
  reject(reasonCode: number, detail: string): void {
    if (this.state === 'closed') return;
    if (this.state !== 'connecting' || this.decision === null) throw new ConnectionStateError(this.id, 'reject', this.state);
    this.sendConnackRefusal(reasonCode);
    this.closeWith({ kind: 'server', reasonCode, detail }, false);
  }

  /**
   * Encodes and writes one control packet (never PUBLISH: see sendPublish). `late`: it leaves at
   * the end of the event-loop turn, after the deliveries the turn's shard batches produce (see
   * write()).
   */
  send(packet: Packet, late = false): void {
    this.sendWith(packet, late ? 'late' : 'turn');
  }

  private sendWith(packet: Packet, timing: WriteTiming): void {
    if (this.state === 'closed' || !this.connectSeen) return;
    const out = this.adaptForVersion(packet);
    if (out === null) return;
    if (out.cmd === 'suback' || out.cmd === 'unsuback' || out.cmd === 'pubcomp') this.requestAnswered();
    const buf = this.encodeControl(out);
    if (buf.length > this.clientMaxPacketSize) {
      this.packetsDropped++; // [MQTT-3.1.2-25]
      return;
    }
    if (this.write(buf, false, timing) && out.messageId !== undefined) {
      // Receive Maximum accounting: these answers end an inbound QoS 1/2 exchange (§4.9).
      if (out.cmd === 'puback' || out.cmd === 'pubcomp' || (out.cmd === 'pubrec' && (out.reasonCode ?? 0) >= 0x80)) {
        this.unacked?.delete(out.messageId);
      }
    }
  }

  /** A control packet already adapted to this client's level, encoded. */
  private encodeControl(packet: Packet): Buffer {
    try {
      return encodePacket(packet, this.protocolVersion, this.clientMaxPacketSize);
    } catch (e) {
      throw new PacketEncodeError(packet.cmd, this.protocolVersion, e);
    }
  }

  /** send() for a packet already encoded, one without a packet id. */
  private sendEncoded(buf: Buffer, timing: WriteTiming = 'turn'): void {
    if (this.state === 'closed' || !this.connectSeen) return;
    if (buf.length > this.clientMaxPacketSize) {
      this.packetsDropped++; // [MQTT-3.1.2-25]
      return;
    }
    this.write(buf, false, timing);
  }

  /** Sends one PUBLISH to this client, applying its v5 limits and our topic aliases. */
  sendPublish(p: OutgoingPublish, cache?: PublishEncodeCache): SendResult {
    if (this.state !== 'open') return 'dropped-slow';
    const v = this.protocolVersion;
    const expirySec = expiryToSend(v, p.message, Date.now());
    let alias: TopicAliasUse | undefined;
    let buf: Buffer;
    try {
      if (this.outAliases === null && p.qos === 0 && cache !== undefined && cache.message === p.message) {
        buf = cache.getOrEncode(publishCacheKey(v, p, expirySec), () => encodePublish(p, v, expirySec));
      } else {
        alias = this.outAliases?.lookup(p.message.topic);
        buf = encodePublish(p, v, expirySec, alias);
      }
    } catch (e) {
      throw new PacketEncodeError('publish', v, e);
    }
    if (buf.length > this.clientMaxPacketSize) {
      this.publishesDropped++; // [MQTT-3.1.2-25]
      return 'dropped-too-large';
    }
    if (p.qos === 0 && this.stream.writableLength + buf.length > this.limits.maxWriteBufferBytes / 2) {
      this.publishesDropped++;
      return 'dropped-slow';
    }
    if (!this.write(buf)) {
      this.publishesDropped++;
      return 'dropped-slow';
    }
    // Only now does the client know the alias; a dropped packet must not define it.
    if (alias !== undefined) this.outAliases?.commit(p.message.topic, alias);
    return 'sent';
  }

  /**
   * Closes the connection: an open v5 client first gets DISCONNECT with `reasonCode`, `detail` as
   * Reason String and `serverReference`, if given. onClose fires once, with `kind` (default 'server').
   */
  close(reasonCode: number, detail: string, kind: CloseReason['kind'] = 'server', serverReference?: string): void {
    this.closeWith(serverReference === undefined ? { kind, reasonCode, detail } : { kind, reasonCode, detail, serverReference }, true);
  }

  /** @internal DeadlineTarget: checks the connect or keepalive deadline in force. */
  onWheelSlot(now: number): void {
    if (this.state === 'closed') return;
    const authenticating = this.connectSeen && this.state === 'connecting' && this.authenticating();
    if (!this.connectSeen || authenticating) {
      // An authentication exchange gets the connect timeout for each of the client's steps.
      const due = this.activityAt + this.limits.connectTimeoutMs;
      if (now < due) deadlines.schedule(this, due);
      else {
        const detail = authenticating ? `no AUTH to continue the authentication within ${this.limits.connectTimeoutMs} ms` : `no CONNECT within ${this.limits.connectTimeoutMs} ms`;
        this.closeWith({ kind: 'abnormal', reasonCode: ReasonCode.KeepAliveTimeout, detail }, false);
      }
      return;
    }
    // Between CONNECT and CONNACK no deadline applies; accept() files the keepalive one.
    if (this.state !== 'open' || this.keepaliveSec === 0) return;
    const due = this.activityAt + this.keepaliveSec * 1500;
    if (now < due) deadlines.schedule(this, due);
    else this.close(ReasonCode.KeepAliveTimeout, `no packet within 1.5 × keepalive ${this.keepaliveSec} s`, 'abnormal'); // [MQTT-3.1.2-22]
  }

  // ---- inbound ----

  /** @internal DecoderSink: the stream is unusable. */
  onError(reasonCode: number, detail: string): void {
    if (reasonCode === ReasonCode.UnsupportedProtocolVersion && !this.connectSeen) {
      // The level is unknown, so answer in the 3.1.1 format every level can read [MQTT-3.1.2-2].
      this.write(Buffer.from([0x20, 0x02, 0x00, 0x01]));
    }
    this.close(reasonCode, detail, 'abnormal');
  }

  /** @internal DecoderSink: one complete packet. */
  onPacket(packet: Packet, size: number): void {
    if (this.state === 'closed') return;
    this.packetsReceived++;
    // The keepalive deadline moves with it; the wheel reads it when this connection's slot comes.
    this.activityAt = Date.now();
    try {
      if (packet.cmd === 'connect') {
        this.onConnectPacket(packet);
        return;
      }
      checkPacket(packet, this.protocolVersion);
      if (this.state === 'connecting' && packet.cmd !== 'auth' && packet.cmd !== 'disconnect') {
        // Only while an authentication exchange runs: otherwise nothing is decoded before CONNACK.
        throw new ProtocolViolation(ReasonCode.ProtocolError, `${packet.cmd.toUpperCase()} before CONNACK, during authentication`); // [MQTT-3.1.2-30]
      }
      switch (packet.cmd) {
        case 'publish':
          this.onPublishPacket(packet);
          return;
        case 'pingreq':
          this.sendEncoded(PINGRESP);
          return;
        case 'disconnect':
          this.onDisconnectPacket(packet);
          return;
        case 'auth':
          this.onAuthPacket(packet);
          return;
        case 'subscribe':
        case 'unsubscribe':
        case 'pubrel':
          this.requestRead();
          this.handler.onControl(this, packet);
          return;
        default:
          this.handler.onControl(this, packet);
          return;
      }
    } catch (e) {
      if (e instanceof ProtocolViolation) {
        // Before CONNACK (an authentication exchange) the refusal is a CONNACK [MQTT-4.12.0-4]: no
        // DISCONNECT may precede a successful CONNACK [MQTT-3.14.0-1].
        if (this.state === 'connecting') this.sendConnackRefusal(e.reasonCode);
        this.close(e.reasonCode, `${e.detail} (${size} byte ${packet.cmd.toUpperCase()})`, 'abnormal');
        return;
      }
      // A bug above us must not take the whole process down with this socket's data event; the
      // node sees it in onClose and logs it.
      const what = e instanceof Error ? (e.stack ?? e.message) : String(e);
      this.close(ReasonCode.ImplementationSpecificError, `internal error handling ${packet.cmd.toUpperCase()}: ${what}`, 'abnormal');
    }
  }

  /**
   * A request whose answer comes from the session. Past maxPendingRequests the decoder and the
   * stream stop: a client that floods SUBSCRIBEs (say) is read no faster than its session answers
   * them, so one connection cannot fill a shard batch, the node's memory or the event loop's turns
   * at the expense of the others. Each such packet gets exactly one answer while the connection
   * is open (a session that drops one closes the connection), so the count cannot leak.
   */
  private requestRead(): void {
    this.pendingRequests++;
    if (this.pendingRequests < this.limits.maxPendingRequests || this.requestFlow !== 'reading') return;
    this.requestFlow = 'paused';
    this.decoder.pause(); // the rest of this read waits in the decoder
    this.stream.pause();
  }

  /** SUBACK, UNSUBACK or PUBCOMP is going out: one request fewer is pending. */
  private requestAnswered(): void {
    if (this.pendingRequests > 0) this.pendingRequests--;
    // Half the window, so a paused flood goes on in batches rather than a packet per answer.
    if (this.requestFlow === 'paused' && this.pendingRequests <= this.limits.maxPendingRequests >> 1) {
      // Not from inside the node's effect handling that sends this answer: on the next turn,
      // after the other connections' reads.
      this.requestFlow = 'resuming';
      setImmediate(resumeConnectionRequests, this);
    }
  }

  /** @internal Reads again after requestAnswered(): first what the decoder holds, then the stream. */
  resumeRequests(): void {
    if (this.requestFlow !== 'resuming') return;
    this.requestFlow = 'reading';
    this.readOn();
  }

  /** @internal The publish rate has a token again (see overPublishRate). */
  resumeAfterPublishRate(): void {
    const rate = this.publishRate;
    if (rate === null || !rate.paused) return;
    rate.paused = false;
    this.readOn();
  }

  /**
   * Reads on when nothing holds the connection any more: neither pending requests nor the publish
   * rate. First what the decoder holds (which may stop it again), then the stream.
   */
  private readOn(): void {
    if (!this.mayRead()) return;
    this.decoder.resume();
    if (this.mayRead()) this.stream.resume();
  }

  private mayRead(): boolean {
    return this.state === 'open' && this.requestFlow === 'reading' && (this.publishRate === null || !this.publishRate.paused);
  }

  private onConnectPacket(packet: IConnectPacket): void {
    if (this.connectSeen) {
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'second CONNECT on the same connection'); // [MQTT-3.1.0-2]
    }
    this.connectSeen = true;
    this.protocolVersion = packet.protocolVersion ?? 4;
    const decision = validateConnect(packet, this.limits, assignClientId);
    if (!decision.ok) {
      this.sendConnackRefusal(decision.reasonCode);
      this.closeWith({ kind: 'abnormal', reasonCode: decision.reasonCode, detail: `CONNECT refused: ${decision.detail}` }, false);
      return;
    }
    const certificateUsername = certificateUsernames.get(this);
    if (certificateUsername !== undefined) {
      if (certificateUsername === null) {
        this.sendConnackRefusal(ReasonCode.NotAuthorized);
        this.closeWith({ kind: 'abnormal', reasonCode: ReasonCode.NotAuthorized, detail: 'CONNECT refused: the client certificate has no Common Name to use as username (--tls-cn-as-username)' }, false);
        return;
      }
      // What the node and the auth layer see: the certificate's name, and no password to check.
      packet.username = certificateUsername;
      delete packet.password;
      decision.certificateUsername = certificateUsername;
    }
    this.decision = decision;
    this.clientId = decision.clientId;
    const props = this.protocolVersion === 5 ? packet.properties : undefined;
    if (props !== undefined) {
      this.clientReceiveMaximum = props.receiveMaximum ?? 65535;
      // Capped: a larger value means the same, and one past 2^31 would make V8 keep this field as a
      // heap number in every Connection created after it.
      this.clientMaxPacketSize = Math.min(props.maximumPacketSize ?? NO_PACKET_SIZE_LIMIT, NO_PACKET_SIZE_LIMIT);
      this.clientTopicAliasMaximum = props.topicAliasMaximum ?? 0;
      this.connectSessionExpiry = props.sessionExpiryInterval ?? 0;
    }
    if (this.clientTopicAliasMaximum > 0) this.outAliases = new OutboundTopicAliases(this.clientTopicAliasMaximum);
    const method = props?.authenticationMethod;
    if (method !== undefined) {
      // Enhanced authentication runs here, before the node sees the CONNECT (§4.12).
      const { flow, outcome } = AuthFlow.begin(this.limits.authMethods, method, packet);
      if (flow !== null) authFlows.set(this, flow);
      this.applyAuthOutcome(outcome);
      return;
    }
    this.handOver(packet, decision);
  }

  /** Gives the (authenticated) CONNECT to the node, which answers with accept() or reject(). */
  private handOver(packet: IConnectPacket, decision: ConnectAccepted): void {
    this.decision = decision;
    // Nothing after CONNECT is processed before the node accepts [MQTT-3.1.4-5]; the stream is
    // paused too once more bytes come (onStreamData).
    this.decoder.pause();
    this.handler.onConnect(this, packet, decision);
  }

  /** An enhanced authentication exchange runs and the CONNECT waits for it (no CONNACK yet). */
  private authenticating(): boolean {
    return authFlows.get(this)?.authenticating === true;
  }

  private onAuthPacket(packet: IAuthPacket): void {
    const flow = authFlows.get(this);
    if (flow === undefined) {
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'AUTH on a connection whose CONNECT named no Authentication Method'); // [MQTT-4.12.0-7]
    }
    this.applyAuthOutcome(flow.onAuth(packet));
  }

  private applyAuthOutcome(outcome: AuthOutcome): void {
    switch (outcome.kind) {
      case 'challenge':
      case 'reauthenticated':
        this.send(outcome.packet);
        return;
      case 'connected':
        this.handOver(outcome.connect, { ...this.decision!, authenticationMethod: outcome.method, authenticationData: outcome.data, authenticatedUser: outcome.identity });
        return;
      case 'refused':
        if (this.state === 'connecting') {
          this.sendConnackRefusal(outcome.reasonCode); // [MQTT-4.12.0-1], [MQTT-4.12.0-4]
          this.closeWith({ kind: 'abnormal', reasonCode: outcome.reasonCode, detail: `CONNECT refused: ${outcome.detail}` }, false);
        } else {
          this.close(outcome.reasonCode, outcome.detail, 'abnormal'); // [MQTT-4.12.1-2]
        }
        return;
    }
  }

  private onPublishPacket(packet: IPublishPacket): void {
    checkPublish(packet, this.protocolVersion, (this.inAliases ??= new InboundTopicAliases(this.limits.topicAliasMaximum)), this.limits.topicLimits);
    const id = packet.messageId;
    // Only v5 clients were told a Receive Maximum; a 3.1.1 client's inflight window is bounded by
    // the session (which acknowledges in order) rather than by disconnecting it.
    const unacked = packet.qos > 0 && this.protocolVersion === 5 ? (this.unacked ??= new Set()) : null;
    const retransmission = unacked !== null && id !== undefined && unacked.has(id);
    const rate = this.limits.maxPublishRate;
    if (rate !== undefined && rate > 0 && !retransmission) {
      // activityAt is this packet's arrival time (onPacket): no clock read of its own.
      if (!(this.publishRate ??= new PublishRate(rate)).take(this.activityAt) && this.overPublishRate(packet, this.publishRate)) return;
    }
    if (unacked !== null && id !== undefined && !retransmission) {
      // A retransmission of an id still unacknowledged is not a new message; it does not count.
      if (unacked.size >= this.limits.receiveMaximum) {
        throw new ProtocolViolation(
          ReasonCode.ReceiveMaximumExceeded,
          `more than ${this.limits.receiveMaximum} unacknowledged QoS 1/2 publishes`,
        ); // [MQTT-3.3.4-7]
      }
      unacked.add(id);
    }
    this.handler.onPublish(this, packet);
  }

  /**
   * A PUBLISH found the publish rate's bucket empty (publish-rate.ts says why each action).
   * Returns true when the packet is not to be processed.
   */
  private overPublishRate(packet: IPublishPacket, rate: PublishRate): boolean {
    const action = overRateAction(packet.qos, this.protocolVersion);
    this.handler.onPublishRateExceeded?.(this, packet, action);
    switch (action) {
      case 'dropped':
        return true;
      case 'refused':
        // Not routed; the exchange ends with this answer (a PUBREC >= 0x80 ends a QoS 2 one, §4.3.3).
        this.send({ cmd: packet.qos === 1 ? 'puback' : 'pubrec', messageId: packet.messageId!, reasonCode: ReasonCode.QuotaExceeded }, true);
        return true;
      case 'paused': {
        const wait = rate.borrow(this.activityAt);
        if (!rate.paused && wait > 0) {
          rate.paused = true;
          this.decoder.pause(); // the rest of this read waits in the decoder
          this.stream.pause();
          setTimeout(resumeAfterPublishRate, wait, this);
        }
        return false;
      }
    }
  }

  private onDisconnectPacket(packet: IDisconnectPacket): void {
    const reasonCode = this.protocolVersion === 5 ? (packet.reasonCode ?? 0) : 0;
    const expiry = this.protocolVersion === 5 ? packet.properties?.sessionExpiryInterval : undefined;
    if (expiry !== undefined && expiry > 0 && this.connectSessionExpiry === 0) {
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'DISCONNECT sets a Session Expiry Interval after CONNECT set 0'); // [MQTT-3.14.2-2]
    }
    const reason: CloseReason = {
      kind: reasonCode === ReasonCode.DisconnectWithWill ? 'will' : 'normal',
      reasonCode,
      detail: `client DISCONNECT ${reasonName(reasonCode)}${packet.properties?.reasonString ? `: ${packet.properties.reasonString}` : ''}`,
    };
    if (expiry !== undefined) reason.sessionExpiryIntervalSec = expiry;
    // The server must not answer a DISCONNECT with one (§3.14).
    this.closeWith(reason, false);
  }

  // ---- outbound ----

  /** Strips what a 3.1/3.1.1 client cannot receive; null when the packet does not exist there. */
  private adaptForVersion(packet: Packet): Packet | null {
    if (this.protocolVersion === 5) return packet;
    switch (packet.cmd) {
      case 'auth':
      case 'disconnect':
        return null; // 3.1.1 has no AUTH, and DISCONNECT goes only from client to server
      case 'connack':
        return { cmd: 'connack', sessionPresent: packet.sessionPresent, returnCode: packet.returnCode ?? connackCodeForV3(packet.reasonCode ?? 0) };
      case 'suback':
        return { cmd: 'suback', messageId: packet.messageId, granted: (packet.granted as number[]).map(subackCodeForV3) } as ISubackPacket;
      case 'puback':
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
      case 'unsuback':
        return packet.cmd === 'unsuback'
          ? { cmd: 'unsuback', messageId: packet.messageId, granted: [] }
          : { cmd: packet.cmd, messageId: packet.messageId };
      default:
        return packet;
    }
  }

  private sendConnackRefusal(reasonCode: number): void {
    if (this.protocolVersion === 5) {
      this.send({ cmd: 'connack', sessionPresent: false, reasonCode }); // [MQTT-3.2.2-6]
    } else if (!isProtocolViolationCode(reasonCode)) {
      this.send({ cmd: 'connack', sessionPresent: false, returnCode: connackCodeForV3(reasonCode) });
    }
  }

  /**
   * Writes within the slow-consumer bound: a write that would take the stream's buffer past
   * maxWriteBufferBytes closes the connection instead. Returns whether it was written.
   */
  private write(buf: Buffer, force = false, timing: WriteTiming = 'turn'): boolean {
    if (this.stream.destroyed || this.stream.writableEnded) return false;
    if (!force && this.stream.writableLength + buf.length > this.limits.maxWriteBufferBytes) {
      this.closeWith(
        { kind: 'abnormal', reasonCode: ReasonCode.QuotaExceeded, detail: `client reads too slowly: over ${this.limits.maxWriteBufferBytes} bytes queued` },
        false,
      );
      return false;
    }
    if (!this.corked && timing !== 'now') {
      // Many small packets in one event-loop turn leave in one write (writev). A late write waits
      // for the check phase, behind the deliveries that the same turn's shard batches produce;
      // whatever this connection is sent after it in the same turn waits with it, in order.
      this.corked = true;
      this.corkedBytes = 0;
      this.stream.cork();
      if (timing === 'late') setImmediate(uncorkConnection, this);
      else process.nextTick(uncorkConnection, this);
    }
    this.stream.write(buf);
    if (this.corked) {
      this.corkedBytes += buf.length;
      // A big burst goes out early rather than counting against the slow-consumer bound while the
      // socket could take it.
      if (this.corkedBytes >= CORK_FLUSH_BYTES) this.uncork();
    }
    this.bytesSent += buf.length;
    this.packetsSent++;
    return true;
  }

  /** @internal Ends the cork of this event-loop turn. */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.stream.uncork();
  }

  private closeWith(reason: CloseReason, sendDisconnect: boolean): void {
    if (this.state === 'closed') return;
    if (sendDisconnect && this.state === 'open' && this.protocolVersion === 5) {
      const disconnect: IDisconnectPacket = {
        cmd: 'disconnect',
        reasonCode: reason.reasonCode,
        properties: reason.serverReference === undefined ? { reasonString: reason.detail } : { reasonString: reason.detail, serverReference: reason.serverReference },
      };
      const buf = encodePacket(disconnect, 5, this.clientMaxPacketSize);
      // Written past the slow-consumer bound on purpose: it is the last packet.
      if (buf.length <= this.clientMaxPacketSize) this.write(buf, true);
    }
    this.state = 'closed';
    deadlines.cancel(this);
    this.decoder.stop();
    if (!this.stream.destroyed) {
      this.stream.resume(); // read and discard until the peer closes, so 'close' comes promptly
      this.stream.end();
      this.graceTimer = setTimeout(() => this.stream.destroy(), CLOSE_GRACE_MS);
      this.graceTimer.unref();
    }
    this.handler.onClose(this, reason);
  }
}

function assignClientId(): string {
  return `shoal-${randomBytes(9).toString('base64url')}`;
}
