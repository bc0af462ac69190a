// One Shoal node: wires the connection layer, the session actors (shard workers), the router and
// the retained store. The main thread runs this: sockets and framing (transport), the node-local
// router, and the dispatch of each PUBLISH to its subscribers — the QoS 0 fast path writes to
// online subscribers directly; everything with state (QoS 1/2, offline queues, QoS 2 dedup,
// subscriptions, wills, expiry) goes to the session actor by message.
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { IConnectPacket, IPublishPacket, ISubscribePacket, IUnsubscribePacket, Packet } from 'mqtt-packet';
import { decideSubscribe, type SubscribeDecision } from './actors/subscribe-decision.js';
import { ShardSupervisor } from './actors/supervisor.js';
import { SESSION_NEVER_EXPIRES, type SessionEffect, type SessionLimits, type SubscribeRequest, type TakeoverReply } from './actors/session-types.js';
import { configuredAuthMethods } from './auth/configured-methods.js';
import type { AuthMethods } from './auth/enhanced-auth.js';
import { AccessControl } from './auth/access-control.js';
import { AccessGate, type Admission } from './broker/access-gate.js';
import { Dispatcher, type DispatchTarget } from './broker/dispatch.js';
import { RetainedMessages } from './broker/retained.js';
import { sysMessages, type BrokerStats } from './broker/sys-topics.js';
import { FastPath, type FastPathConnection } from './broker/fast-path.js';
import { InboundAcks, type InboundAck } from './broker/inbound-acks.js';
import { LogBudget } from './broker/log-budget.js';
import { BrokerCounters, type NodeLoad } from './metrics/node-metrics.js';
import type { AdminSource } from './http/admin-source.js';
import { nodeAdminSource } from './http/node-admin-source.js';
import { messageFromPublish, subscribeRequests, willFromConnect } from './broker/packet-messages.js';
import { StoreWaits, TicketBook } from './broker/tickets.js';
import type { ClusterNode } from './cluster/cluster-node.js';
import { clusterSettingsFrom, type ClusterSettings } from './cluster/cluster-settings.js';
import { LocalRoutes } from './cluster/local-routes.js';
import { resolveShardHost, type ShoalConfig } from './config/options.js';
import { createLogger, type Logger } from './log.js';
import type { ConnectAccepted } from './protocol/connect.js';
import { compactMessage, type AppMessage, type Delivery, type QoS } from './protocol/message.js';
import { ReasonCode, reasonName } from './protocol/reason-codes.js';
import { Router, type MatchScope } from './routing/router.js';
import type { TopicLimits } from './routing/topic.js';
import { MemoryRetainedStore } from './storage/memory-retained-store.js';
import { SqliteRetainedStore } from './storage/sqlite-retained-store.js';
import { ConnectionAdmission, addressOf, type RefusalCause } from './transport/admission.js';
import { Connection, type CloseReason, type ConnectionHandler, type ConnectionLimits } from './transport/connection.js';
import type { PublishRateAction } from './transport/publish-rate.js';
import { PublishEncodeCache } from './transport/publish-encoder.js';
import { startListenerSet, type ListenAddresses, type ReloadResult } from './transport/listener-set.js';
import { listenTcp, type TcpListener } from './transport/tcp-listener.js';
import type { TlsCredentials } from './transport/tls-credentials.js';
import { drainNode, type DrainReport, type DrainSteps } from './cluster/node-drain.js';
import { serverReferences } from './cluster/server-reference.js';
import { mqttAdvertiseAddress } from './config/drain-options.js';
import { startHttpServer, type HttpServer } from './http/http-server.js';

export const VERSION = '0.1.0';

export interface NodeEvents {
  /** A client's CONNACK was sent. */
  'client.connected': [{ clientId: string; connId: number; sessionPresent: boolean }];
  /** `address`: the client's remote host:port, as in the log line. */
  'client.disconnected': [{ clientId: string | null; connId: number; address: string; reason: CloseReason }];
  /** A structured event from a session actor (`session.queue.drop`, `session.will.published`, ...). */
  'session.event': [{ name: string; clientId: string; detail: string }];
  /** A shard's answer to a cross-node takeover step (the cluster layer listens; see TakeoverRequest). */
  'session.takeover': [{ clientId: string; reply: TakeoverReply }];
  /** A socket closed at accept by a connection limit (see src/transport/admission.ts). */
  'connection.refused': [{ address: string; cause: RefusalCause }];
  /** A PUBLISH over --max-publish-rate, and what was done with it (see src/transport/publish-rate.ts). */
  'publish.rate.exceeded': [{ clientId: string; qos: QoS; action: PublishRateAction }];
  /** close() began (a signal, `shoal drain`, a test): `shoal start` then exits once it is done. */
  stopping: [{ reason: string }];
}

export interface NodeHandle {
  nodeName: string;
  mqtt: { host: string; port: number };
  /** The --tls, --ws and --wss listeners' bound addresses (null: off). */
  transports: ListenAddresses;
  /** Rereads the TLS certificate files (SIGHUP); null when no TLS listener is on. */
  reloadCertificates(): ReloadResult | null;
  /** The HTTP listener (metrics, admin API, dashboard); null with --http off. */
  http: { host: string; port: number } | null;
  events: EventEmitter<NodeEvents>;
  /** The node's part of the cluster (null when it runs alone): e.g. pushSessions() on a graceful leave. */
  cluster: ClusterNode | null;
  stats(): BrokerStats;
  /** Reads the password and ACL files again (SIGHUP); a broken file keeps the old one, logged. */
  reloadAuth(): void;
  close(reason?: string): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Keep sessions and retained messages in memory only (tests, benchmarks). */
  inMemory?: boolean;
  /** Cluster settings overriding the config's (tests: gossip timings); default from --seeds etc. */
  cluster?: ClusterSettings;
  /** Enhanced authentication methods, when the caller already loaded them (main.ts); else from config. */
  authMethods?: AuthMethods;
  /** TLS credentials, when the caller already loaded them (main.ts); else from config. */
  tlsCredentials?: TlsCredentials;
  /** Password file, ACL and login policy, when the caller already loaded them (main.ts); else from config. */
  access?: AccessControl;
}

/**
 * A client connection with the node's facts about it as fields: idle memory, since a Set or Map
 * entry per connection costs ~33–46 bytes of heap at 10k connections and a field 8.
 */
class ClientConnection extends Connection implements FastPathConnection {
  /** Its CONNECT reached a session actor, so its close must too. */
  withSession = false;
  direct = false;
  /**
   * A later CONNECT for its client id was read: the session will take this connection's
   * SUBSCRIBE and UNSUBSCRIBE as stale, so the router must not apply them either.
   */
  superseded = false;
  /** The user it acts as, once its CONNECT is admitted (null: anonymous); also shown by the admin API. */
  username: string | null = null;
  /** Epoch ms of its CONNACK; 0 before (a close then counts as a failed connect). */
  connectedAt = 0;
}

class ShoalNode implements ConnectionHandler, DispatchTarget {
  readonly events = new EventEmitter<NodeEvents>();
  readonly router = new Router();
  private readonly byConnId = new Map<number, ClientConnection>();
  /** Connections that got CONNACK, by client id: the QoS 0 fast path and shared-group presence. */
  private readonly online = new Map<string, ClientConnection>();
  /** Connections whose CONNECT was read and not yet answered, by client id (see superseded). */
  private readonly connecting = new Map<string, ClientConnection>();
  /** Connections the QoS 0 fast path may write to (see src/broker/fast-path.ts). */
  private readonly fastPath: FastPath;
  /** Sessions with Session Expiry > 0: only their QoS 1/2 copies make a PUBACK wait for a commit. */
  private readonly persistent = new Set<string>();
  private readonly acks: InboundAcks;
  private readonly sessions = new Set<string>();
  /** Inbound QoS 2 PUBLISH waiting for the session's duplicate check, by `connId:packetId`. */
  private readonly pendingQos2 = new Map<string, AppMessage>();
  /** Inbound QoS 2 PUBLISH being routed: the session learns of it (and PUBREC goes) once durable. */
  private readonly routingQos2 = new Set<string>();
  private readonly tickets: TicketBook;
  /** Session events a client can cause at will (refused subscriptions, drops) must not flood the log. */
  private readonly logBudget = new LogBudget();
  readonly dispatcher: Dispatcher;
  /** Commits of messages forwarded by peers, for their acks. */
  private readonly storeWaits: StoreWaits;
  /** Set when the node runs in a cluster (--seeds). */
  cluster: ClusterNode | null = null;
  /** Alone, this node's distinct filters, counted as the router reports them (the admin API's
   * routes; the cluster counts its own). */
  readonly localFilters = new LocalRoutes();
  /** Encoded QoS 0 bytes of the message being dispatched, shared by its direct deliveries. */
  private encodeCache: PublishEncodeCache | null = null;
  /** The message being dispatched, with its bytes in buffers of their own (see compactMessage). */
  private compactMessage: AppMessage | null = null;
  private readonly retainedScratch: AppMessage[] = [];
  private nextConnId = 1;
  /** False until the node is up, and again from the first step of its shutdown or drain. */
  accepting = false;
  private closing = false;
  private readonly startedAt = Date.now();
  /** Plain counters the hot path increments; /metrics and $SYS read them (src/metrics/). */
  readonly metrics = new BrokerCounters();
  private readonly connectionLimits: ConnectionLimits;
  /** Null when no connection limit is set: no per-connection bookkeeping at all then. */
  readonly admission: ConnectionAdmission | null;
  supervisor!: ShardSupervisor;
  readonly gate: AccessGate;

  constructor(
    readonly config: ShoalConfig,
    readonly log: Logger,
    readonly retained: RetainedMessages,
    authMethods: AuthMethods,
    access: AccessControl,
  ) {
    this.connectionLimits = {
      maxPacketSize: config.maxPacketSize,
      connectTimeoutMs: config.connectTimeoutMs,
      maxKeepaliveSec: config.maxKeepaliveSec,
      topicAliasMaximum: config.maxTopicAlias,
      receiveMaximum: config.maxInflight,
      maxWriteBufferBytes: config.maxWriteBufferBytes,
      authMethods,
      maxPendingRequests: config.maxPendingRequests,
      topicLimits: topicLimitsOf(config),
      maxPublishRate: config.maxPublishRate,
    };
    const admission = { maxConnections: config.maxConnections, maxConnectionsPerAddress: config.maxConnectionsPerAddress, connectionRatePerSec: config.maxConnectionRate };
    this.admission = admission.maxConnections > 0 || admission.maxConnectionsPerAddress > 0 || admission.connectionRatePerSec > 0 ? new ConnectionAdmission(admission) : null;
    this.tickets = new TicketBook();
    this.dispatcher = new Dispatcher(this.router, this);
    this.gate = new AccessGate(access, log, this.online);
    if (this.gate.aclActive) this.dispatcher.readFilter = this.gate.mayRead;
    const sendTicket = (shard: number, id: number): void => this.supervisor.ticket(shard, id);
    // A QoS 2 PUBLISH whose connection closed while it was routed gets no PUBREC: its routing
    // mark must go too, or every such message would leave a key behind for good.
    const dropAck = (ack: InboundAck): void => void (ack.kind === 'pubrec' && this.routingQos2.delete(`${ack.conn.id}:${ack.packetId}`));
    this.acks = new InboundAcks(this.tickets, sendTicket, (ack) => this.sendAck(ack), dropAck);
    this.storeWaits = new StoreWaits(this.tickets, sendTicket);
    this.fastPath = new FastPath(this.online, this.tickets, (clientId) => this.supervisor.shardFor(clientId), sendTicket, () => this.supervisor.requestFlush());
  }

  accept(stream: import('node:stream').Duplex, remoteAddress: string, certificateUsername?: string | null): void {
    if (!this.accepting) {
      stream.destroy();
      return;
    }
    const refused = this.admission?.admit(addressOf(remoteAddress), Date.now()) ?? null;
    if (refused !== null) {
      this.refuse(stream, remoteAddress, refused);
      return;
    }
    const conn = new ClientConnection(stream, this, this.connectionLimits, this.nextConnId++, remoteAddress);
    if (certificateUsername !== undefined) conn.useCertificateUsername(certificateUsername);
    this.byConnId.set(conn.id, conn);
  }

  /**
   * Closes a socket a connection limit refused, before reading a byte of it (admission.ts says
   * why no CONNACK). Logged within a budget: a flood of refusals must not become a flood of lines.
   */
  private refuse(stream: import('node:stream').Duplex, remoteAddress: string, cause: RefusalCause): void {
    stream.destroy();
    const leftOut = this.logBudget.take('connection.refused', Date.now());
    if (leftOut !== null) {
      const limit = this.admission!.limits;
      const value = cause === 'max-connections' ? limit.maxConnections : cause === 'max-connections-per-address' ? limit.maxConnectionsPerAddress : limit.connectionRatePerSec;
      this.log.warn({ event: 'connection.refused', address: remoteAddress, cause, limit: value, ...(leftOut > 0 ? { linesLeftOut: leftOut } : {}) }, `connection refused: ${cause} (${value})`);
    }
    if (this.events.listenerCount('connection.refused') > 0) this.events.emit('connection.refused', { address: addressOf(remoteAddress), cause });
  }

  /** Forgets per-address state of addresses gone quiet (see ConnectionAdmission.sweep). */
  sweepAdmission(): void {
    this.admission?.sweep(Date.now());
  }

  // ---- connection → session actor -------------------------------------------------------

  onConnect(conn: ClientConnection, packet: IConnectPacket, decision: ConnectAccepted): void {
    // Authentication first: a client that has not proved who it is must not make a session move
    // here from another node (a takeover closes the live connection there).
    const admission = this.gate.admit(conn, packet, decision, Date.now());
    if (!(admission instanceof Promise)) {
      this.admitted(conn, packet, decision, admission);
      return;
    }
    // A password is being checked off the event loop; the connection reads nothing meanwhile.
    admission.then(
      (a) => this.admitted(conn, packet, decision, a),
      (err: unknown) => this.admitted(conn, packet, decision, { ok: false, reasonCode: ReasonCode.ImplementationSpecificError, detail: `login check failed: ${String(err)}` }),
    );
  }

  private admitted(conn: ClientConnection, packet: IConnectPacket, decision: ConnectAccepted, admission: Admission): void {
    if (conn.state === 'closed' || this.closing) return;
    if (!admission.ok) {
      conn.reject(admission.reasonCode, admission.detail);
      return;
    }
    conn.username = admission.username;
    if (this.cluster === null) {
      this.connectLocal(conn, packet, decision);
      return;
    }
    // Clustered: the client id's owner decides first, and a session on another node moves here
    // (src/cluster/takeover-service.ts). The connection reads nothing more until then.
    this.cluster.connecting(decision.clientId, packet.clean ?? true, {
      proceed: () => {
        if (conn.state !== 'closed') this.connectLocal(conn, packet, decision);
      },
      refuse: (reasonCode, detail) => conn.reject(reasonCode, detail),
    });
  }

  private connectLocal(conn: ClientConnection, packet: IConnectPacket, decision: ConnectAccepted): void {
    const clientId = decision.clientId;
    const v5 = packet.protocolVersion === 5;
    const expiryIntervalSec = v5 ? (packet.properties?.sessionExpiryInterval ?? 0) : packet.clean ? 0 : SESSION_NEVER_EXPIRES;
    const will = willFromConnect(packet, clientId);
    conn.withSession = true;
    conn.username = packet.username ?? null;
    // The session handles this CONNECT before any packet read after it: what an older connection
    // of this client sends from now on reaches the session as stale [MQTT-3.1.4-3].
    const older = this.connecting.get(clientId);
    if (older !== undefined) older.superseded = true;
    const online = this.online.get(clientId);
    if (online !== undefined) online.superseded = true;
    this.connecting.set(clientId, conn);
    if (expiryIntervalSec > 0) this.persistent.add(clientId);
    else this.persistent.delete(clientId);
    this.fastPath.connecting(conn, clientId);
    this.supervisor.send(clientId, {
      type: 'connect',
      connId: conn.id,
      clientId,
      protocolVersion: (packet.protocolVersion ?? 4) as 3 | 4 | 5,
      cleanStart: packet.clean ?? true,
      expiryIntervalSec,
      receiveMaximum: packet.properties?.receiveMaximum ?? 65535,
      will,
      username: conn.username,
      ownerCheck: this.gate.ownerCheck,
    });
  }

  onPublish(conn: ClientConnection, packet: IPublishPacket): void {
    const clientId = conn.clientId!;
    if (this.gate.aclActive && !this.gate.mayPublish(conn, packet.topic, Date.now())) {
      this.dropDenied(conn, packet);
      return;
    }
    const m = this.metrics;
    m.messagesReceived[packet.qos]!++;
    m.payloadBytesReceived[packet.qos]! += packet.payload.length;
    m.topics.offer(packet.topic);
    const message = messageFromPublish(packet, clientId, Date.now());

    if (packet.qos === 2) {
      // Dedup first: a resent PUBLISH whose id already got PUBREC is not routed again [MQTT-4.3.3-9].
      // A resend while the first copy is still being checked or routed is absorbed here: the
      // session has not recorded the id yet, so its check would call it new and route it twice.
      // The first copy's PUBREC answers it.
      const key = `${conn.id}:${packet.messageId}`;
      if (this.pendingQos2.has(key) || this.routingQos2.has(key)) return;
      this.pendingQos2.set(key, message);
      this.supervisor.send(clientId, { type: 'qos2Check', connId: conn.id, packetId: packet.messageId! });
      return;
    }
    if (packet.qos === 0) {
      this.publish(message, null);
      return;
    }
    this.publish(message, this.acks.open(conn, 'puback', packet.messageId!));
  }

  /** Connection: a PUBLISH over --max-publish-rate (publish-rate.ts says what `action` did). */
  onPublishRateExceeded(conn: Connection, packet: IPublishPacket, action: PublishRateAction): void {
    if (action !== 'paused') this.metrics.dropped('rate_limited'); // $SYS/broker/publish/messages/dropped
    const clientId = conn.clientId!;
    const leftOut = this.logBudget.take('publish.rate.exceeded', Date.now());
    if (leftOut !== null) {
      const fields = { event: 'publish.rate.exceeded', clientId, address: conn.remoteAddress, qos: packet.qos, action, limit: this.config.maxPublishRate };
      this.log.warn(leftOut > 0 ? { ...fields, linesLeftOut: leftOut } : fields, `PUBLISH over ${this.config.maxPublishRate}/s: ${action}`);
    }
    if (this.events.listenerCount('publish.rate.exceeded') > 0) this.events.emit('publish.rate.exceeded', { clientId, qos: packet.qos, action });
  }

  /**
   * A PUBLISH the ACL refuses is dropped. v5: PUBACK / PUBREC 0x87, which ends a QoS 2 exchange.
   * 3.1.1 has no refusal, so it is acknowledged as Mosquitto does (PUBACK; PUBREC, and the
   * session answers the PUBREL that follows with PUBCOMP).
   */
  private dropDenied(conn: ClientConnection, packet: IPublishPacket): void {
    this.metrics.dropped('not_authorized');
    if (packet.qos === 0) return;
    const cmd = packet.qos === 1 ? 'puback' : 'pubrec';
    conn.send(conn.protocolVersion === 5 ? { cmd, messageId: packet.messageId!, reasonCode: ReasonCode.NotAuthorized } : { cmd, messageId: packet.messageId! });
  }

  private sendAck(ack: InboundAck): void {
    const { conn, packetId } = ack;
    if (ack.kind === 'puback') {
      if (conn.state === 'closed') return;
      const reasonCode = ack.matched === 0 && conn.protocolVersion === 5 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success;
      // Late: a PUBACK written at once would put a socket write of every publisher in this turn
      // ahead of the deliveries its PUBLISH caused (they leave after the shard batch).
      conn.send(reasonCode === 0 ? { cmd: 'puback', messageId: packetId } : { cmd: 'puback', messageId: packetId, reasonCode }, true);
      return;
    }
    this.routingQos2.delete(`${conn.id}:${packetId}`);
    const reasonCode = ack.matched === 0 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success;
    this.supervisor.send(conn.clientId!, { type: 'qos2Routed', connId: conn.id, packetId, reasonCode });
  }

  onControl(conn: Connection, packet: Packet): void {
    const clientId = conn.clientId;
    if (clientId === null) return;
    const connId = conn.id;
    switch (packet.cmd) {
      case 'puback':
        this.supervisor.send(clientId, { type: 'puback', connId, packetId: packet.messageId! });
        break;
      case 'pubrec':
        this.supervisor.send(clientId, { type: 'pubrec', connId, packetId: packet.messageId!, reasonCode: packet.reasonCode ?? 0 });
        break;
      case 'pubcomp':
        this.supervisor.send(clientId, { type: 'pubcomp', connId, packetId: packet.messageId! });
        break;
      case 'pubrel':
        this.supervisor.send(clientId, { type: 'pubrel', connId, packetId: packet.messageId! });
        break;
      case 'subscribe':
        this.onSubscribe(conn as ClientConnection, clientId, packet);
        break;
      case 'unsubscribe':
        this.onUnsubscribe(conn as ClientConnection, clientId, packet);
        break;
      default:
        conn.close(ReasonCode.ProtocolError, `unexpected ${packet.cmd} packet`);
    }
  }

  /**
   * A SUBSCRIBE takes effect in the router now, before the next packet this node reads from any
   * connection; the session stores it and answers SUBACK once durable. Both decide it with
   * decideSubscribe over the same subscriptions, so they agree (README: subscriptions in read
   * order). Retained messages are looked up now too: a retained PUBLISH read after this packet
   * reaches the subscriber as a live copy, not a second time from the retained store.
   */
  private onSubscribe(conn: ClientConnection, clientId: string, packet: ISubscribePacket): void {
    const requests = subscribeRequests(packet);
    this.gate.markSubscribe(conn, requests);
    let decision: SubscribeDecision | null = null;
    if (!conn.superseded) {
      const current = this.router.subscriptionsOf(clientId);
      decision = decideSubscribe(current, current.size, requests, this.config.maxSubscriptions);
      if (decision.protocolError !== null) {
        conn.close(ReasonCode.ProtocolError, decision.protocolError, 'abnormal'); // [MQTT-3.8.3-4]
        return;
      }
      for (const { filter, options } of decision.add) this.router.subscribe(clientId, filter, options);
    }
    this.supervisor.send(clientId, { type: 'subscribe', connId: conn.id, packetId: packet.messageId!, requests });
    if (decision !== null && decision.retained.length > 0) this.sendRetained(conn, clientId, decision.retained);
  }

  /** An UNSUBSCRIBE takes effect in the router now, like a SUBSCRIBE (see onSubscribe). */
  private onUnsubscribe(conn: ClientConnection, clientId: string, packet: IUnsubscribePacket): void {
    if (!conn.superseded) for (const filter of packet.unsubscriptions) this.router.unsubscribe(clientId, filter);
    this.supervisor.send(clientId, { type: 'unsubscribe', connId: conn.id, packetId: packet.messageId!, filters: packet.unsubscriptions });
  }

  onClose(conn: ClientConnection, reason: CloseReason): void {
    this.byConnId.delete(conn.id);
    this.admission?.release(addressOf(conn.remoteAddress), Date.now());
    const clientId = conn.clientId;
    if (clientId !== null && this.online.get(clientId) === conn) this.online.delete(clientId);
    if (clientId !== null && this.connecting.get(clientId) === conn) this.connecting.delete(clientId);
    this.fastPath.remove(conn);
    this.acks.forget(conn.id);
    this.countClose(conn, reason);
    const level = reason.kind === 'normal' || reason.kind === 'takeover' || reason.kind === 'server' ? 'info' : 'warn';
    this.log[level]({ event: 'client.disconnected', clientId, connId: conn.id, address: conn.remoteAddress, kind: reason.kind, reason: reasonName(reason.reasonCode), detail: reason.detail }, 'client disconnected');
    this.events.emit('client.disconnected', { clientId, connId: conn.id, address: conn.remoteAddress, reason });
    if (!conn.withSession || clientId === null) return;
    conn.withSession = false;
    const event = { type: 'disconnect' as const, connId: conn.id, kind: reason.kind };
    this.supervisor.send(clientId, reason.sessionExpiryIntervalSec === undefined ? event : { ...event, expiryIntervalSec: reason.sessionExpiryIntervalSec });
  }

  private countClose(conn: ClientConnection, reason: CloseReason): void {
    const m = this.metrics;
    const { bytesReceived, bytesSent } = conn.stats;
    m.closedBytesReceived += bytesReceived;
    m.closedBytesSent += bytesSent;
    if (conn.connectedAt === 0) m.connectFailed(reason.reasonCode);
    else m.disconnected(reason.kind, reason.reasonCode);
  }

  // ---- routing ---------------------------------------------------------------------------

  /**
   * Routes one message to every matching session. Its `ack`, if any, is sent once every shard that
   * stores a copy has committed it (the PUBACK/PUBREC point), and the retained store too.
   */
  publish(message: AppMessage, ack: InboundAck | null): void {
    let stored: Promise<void> | null = null;
    if (message.retain) {
      stored = this.retained.set(message); // [MQTT-3.3.1-5]
      stored.catch((err: unknown) => this.log.error({ event: 'retained.store.failed', topic: message.topic, err }, 'a retained message could not be stored; it is not acknowledged'));
      this.cluster?.retainedChanged(message);
    }
    this.encodeCache = null;
    this.compactMessage = null;
    const matched = this.dispatcher.dispatch(message);
    this.encodeCache = null;
    this.compactMessage = null;
    const remote = this.dispatcher.remoteStored;
    if (remote !== null) stored = stored === null ? remote : Promise.all([stored, remote]).then(() => undefined);
    if (ack !== null) this.acks.track(ack, matched, this.dispatcher.touched, stored);
  }

  /** A message for local sessions only, within `scope` (forwarded by a peer; see src/cluster/). */
  deliverLocal(message: AppMessage, scope: MatchScope): { matched: number; stored: Promise<void> | null } | null {
    if (this.closing) return null;
    this.encodeCache = null;
    this.compactMessage = null;
    const matched = this.dispatcher.deliverLocal(message, scope);
    this.encodeCache = null;
    this.compactMessage = null;
    const touched = this.dispatcher.touched;
    return { matched, stored: touched.size === 0 ? null : this.storeWaits.wait(touched) };
  }

  // DispatchTarget: the I/O behind the pure dispatcher.
  isOnline(clientId: string): boolean {
    return this.online.has(clientId);
  }

  sendDirect(clientId: string, message: AppMessage, d: Delivery): boolean {
    const conn = this.fastPath.connection(clientId);
    if (conn === undefined) return false;
    this.encodeCache ??= new PublishEncodeCache(message);
    this.sendPublish(conn, { message, qos: 0, dup: false, retain: d.retain, subscriptionIds: d.subscriptionIds }, this.encodeCache);
    return true;
  }

  toSession(clientId: string, message: AppMessage, d: Delivery): number | null {
    const compact = (this.compactMessage ??= compactMessage(message));
    const shard = this.supervisor.deliver(clientId, compact, d.qos, d.retain, d.subscriptionIds);
    this.fastPath.sentToActor(clientId);
    // A QoS 1/2 copy for a persistent session is stored by its shard: the publisher's ack waits
    // for that commit. Other copies live in memory only, so waiting would buy nothing.
    return d.qos > 0 && this.persistent.has(clientId) ? shard : null;
  }

  private sendPublish(conn: Connection, p: Parameters<Connection['sendPublish']>[0], cache?: PublishEncodeCache): void {
    const result = conn.sendPublish(p, cache);
    if (result === 'sent') {
      this.metrics.messagesSent[p.qos]!++;
      this.metrics.payloadBytesSent[p.qos]! += p.message.payload.byteLength;
      return;
    }
    this.metrics.dropped(result === 'dropped-too-large' ? 'too_large' : 'slow_consumer');
    if (result === 'dropped-too-large' && p.packetId !== undefined && conn.clientId !== null) {
      this.supervisor.send(conn.clientId, { type: 'discarded', connId: conn.id, packetId: p.packetId });
    }
  }

  // ---- session actor → connections -------------------------------------------------------

  readonly onEffects = (_shard: number, effects: SessionEffect[], tickets: number[]): void => {
    for (const e of effects) this.applyEffect(e);
    for (const id of tickets) this.tickets.done(id);
  };

  private applyEffect(e: SessionEffect): void {
    switch (e.type) {
      case 'connack': {
        const conn = this.byConnId.get(e.connId);
        this.sessions.add(e.clientId);
        // A same-node CONNECT that ended the old session (Clean Start, expiry 0) reported it gone
        // in this same batch ('routes' removeAll); the new one lives here.
        this.cluster?.sessionHere(e.clientId);
        if (conn !== undefined && this.connecting.get(e.clientId) === conn) this.connecting.delete(e.clientId);
        if (conn === undefined || conn.state === 'closed') return; // its close event is on the way
        conn.accept({ sessionPresent: e.sessionPresent });
        this.online.set(e.clientId, conn);
        this.gate.owned(e.clientId, conn.username);
        conn.connectedAt = Date.now();
        this.metrics.connectsAccepted++;
        if (this.online.size > this.metrics.clientsMaximum) this.metrics.clientsMaximum = this.online.size;
        // Checked first: the arguments alone are two objects per connect (connect-rate profile).
        if (this.log.isLevelEnabled('info')) {
          this.log.info({ event: 'client.connected', clientId: e.clientId, connId: e.connId, address: conn.remoteAddress, protocolVersion: conn.protocolVersion, sessionPresent: e.sessionPresent }, 'client connected');
        }
        if (this.events.listenerCount('client.connected') > 0) {
          this.events.emit('client.connected', { clientId: e.clientId, connId: e.connId, sessionPresent: e.sessionPresent });
        }
        return;
      }
      case 'flow': {
        const conn = this.byConnId.get(e.connId);
        if (conn !== undefined && conn.state !== 'closed') this.fastPath.flow(conn, e.clientId, e.direct);
        return;
      }
      case 'publish': {
        const conn = this.byConnId.get(e.connId);
        if (conn !== undefined && conn.state === 'open') this.sendPublish(conn, e.publish);
        return;
      }
      case 'packet': {
        const conn = this.byConnId.get(e.connId);
        if (conn !== undefined && conn.state === 'open') conn.send(e.packet);
        return;
      }
      case 'close': {
        const conn = this.byConnId.get(e.connId);
        if (conn !== undefined && conn.state === 'connecting') {
          // The session refused this CONNECT (its owner, a takeover in progress): a CONNACK
          // says why. An older connection it was to supersede stays in charge.
          conn.withSession = false;
          const older = conn.clientId === null ? undefined : this.online.get(conn.clientId);
          if (older !== undefined && this.connecting.get(conn.clientId!) === conn) older.superseded = false;
          conn.reject(e.reasonCode, e.detail);
        } else if (conn !== undefined) {
          conn.withSession = false; // the actor already detached it
          // Refused before its CONNACK (its session is moving to another node): a CONNACK with the code.
          if (conn.state === 'connecting') conn.reject(e.reasonCode, e.detail);
          else conn.close(e.reasonCode, e.detail, e.reasonCode === ReasonCode.SessionTakenOver ? 'takeover' : 'server');
        }
        return;
      }
      case 'route': {
        const message = { ...e.message };
        this.publish(message, null);
        return;
      }
      case 'routes':
        if (e.removeAll) {
          this.persistent.delete(e.clientId);
          this.router.removeSession(e.clientId);
          this.sessions.delete(e.clientId);
          this.cluster?.sessionGone(e.clientId);
          this.gate.ended(e.clientId);
          return;
        }
        this.sessions.add(e.clientId);
        this.cluster?.sessionHere(e.clientId);
        if (e.username !== undefined) this.gate.owned(e.clientId, e.username);
        for (const a of e.add) this.router.subscribe(e.clientId, a.filter, a.options);
        return;
      case 'qos2Status':
        this.continueQos2(e.connId, e.clientId, e.packetId, e.duplicate);
        return;
      case 'event': {
        const drop = e.name === 'session.queue.drop';
        // Counted with the connection-level drops in $SYS/broker/publish/messages/dropped.
        if (drop) this.metrics.dropped('queue_full');
        const leftOut = this.logBudget.take(e.name, Date.now());
        if (leftOut !== null) {
          const fields = leftOut === 0 ? { event: e.name, clientId: e.clientId } : { event: e.name, clientId: e.clientId, linesLeftOut: leftOut };
          if (drop) this.log.warn(fields, e.detail);
          else this.log.info(fields, e.detail);
        }
        this.events.emit('session.event', { name: e.name, clientId: e.clientId, detail: e.detail });
        return;
      }
      case 'takeover':
        this.cluster?.takeoverReply(e.clientId, e.reply);
        this.events.emit('session.takeover', { clientId: e.clientId, reply: e.reply });
        return;
    }
  }

  private continueQos2(connId: number, clientId: string, packetId: number, duplicate: boolean): void {
    const key = `${connId}:${packetId}`;
    const message = this.pendingQos2.get(key);
    this.pendingQos2.delete(key);
    if (duplicate || message === undefined) {
      // The session recorded this id when it first sent PUBREC: answer the resend with PUBREC
      // directly [MQTT-4.3.3-9]. Not through 'qos2Routed', which would record the id again even
      // when a PUBREL already released it, making the next message with this id a "duplicate".
      const conn = this.byConnId.get(connId);
      if (conn !== undefined && conn.state === 'open') conn.send({ cmd: 'pubrec', messageId: packetId });
      return;
    }
    const conn = this.byConnId.get(connId);
    if (conn === undefined || conn.clientId !== clientId) return; // closed: the client resends
    this.routingQos2.add(key);
    this.publish(message, this.acks.open(conn, 'pubrec', packetId));
  }

  /**
   * Retained messages for new subscriptions, flagged retain [MQTT-3.3.1-8]. Sent to the session
   * right behind its SUBSCRIBE event, so they follow the SUBACK.
   */
  private sendRetained(conn: ClientConnection, clientId: string, requests: SubscribeRequest[]): void {
    const now = Date.now();
    let sent = false;
    for (const { filter, options } of requests) {
      const found = this.retainedScratch;
      found.length = 0;
      this.retained.match(filter, now, found);
      if (this.gate.aclActive) dropUnreadable(found, clientId, this.gate.mayRead);
      const ids = options.subscriptionId === undefined ? [] : [options.subscriptionId];
      for (const message of found) {
        const qos = Math.min(message.qos, options.qos) as QoS;
        this.supervisor.send(clientId, { type: 'deliver', message, qos, retain: true, subscriptionIds: ids });
        sent = true;
      }
    }
    // A live copy of a PUBLISH read after this SUBSCRIBE must not overtake them on the QoS 0
    // fast path: the retained message is the older one on its topic [MQTT-4.6.0-6].
    if (sent) this.fastPath.behindActor(conn, clientId);
  }

  // ---- $SYS and lifecycle ----------------------------------------------------------------

  stats(): BrokerStats {
    return {
      version: VERSION,
      startedAt: this.startedAt,
      clientsConnected: this.online.size,
      clientsMaximum: this.metrics.clientsMaximum,
      clientsTotal: this.sessions.size,
      messagesReceived: this.metrics.totalReceived,
      messagesSent: this.metrics.totalSent,
      messagesDropped: this.metrics.totalDropped,
      bytesReceived: this.metrics.totalPayloadReceived,
      bytesSent: this.metrics.totalPayloadSent,
      subscriptions: this.router.subscriptionCount,
      retained: this.retained.size,
    };
  }

  nodeLoad(): NodeLoad {
    return {
      connections: this.online.size,
      messagesReceived: this.metrics.totalReceived,
      messagesSent: this.metrics.totalSent,
      bytesReceived: this.metrics.totalPayloadReceived,
      bytesSent: this.metrics.totalPayloadSent,
      subscriptions: this.router.subscriptionCount,
      retained: this.retained.size,
    };
  }

  /** The node as the HTTP layer sees it (src/http/node-admin-source.ts). */
  adminSource(listening: () => boolean): AdminSource {
    return nodeAdminSource({
      nodeName: this.config.nodeName,
      startedAt: this.startedAt,
      counters: this.metrics,
      log: this.log,
      connections: this.byConnId,
      online: this.online,
      sessions: this.sessions,
      persistent: this.persistent,
      router: this.router,
      retained: this.retained,
      localFilters: this.localFilters,
      shards: this.supervisor,
      cluster: this.cluster,
      load: () => this.nodeLoad(),
      listening,
    });
  }

  /** Before the supervisor posts this turn's batches: tickets go after the turn's deliveries. */
  flushTurn(): void {
    this.acks.flush();
    this.storeWaits.flush();
    this.fastPath.flush();
  }

  /** Sessions restored from storage are persistent (only those are stored). */
  restored(effects: SessionEffect[]): void {
    for (const e of effects) if (e.type === 'routes' && !e.removeAll) this.persistent.add(e.clientId);
    this.onEffects(-1, effects, []);
  }

  /**
   * A restarted shard is loaded: its sessions are what was committed. The router's entries for
   * its clients are replaced by those, dropping subscriptions of sessions that did not survive
   * (expiry 0) and SUBSCRIBEs applied at read time that never reached storage. No connection of
   * these clients has read a packet since the failure: a CONNECT to the new shard is answered
   * after its 'ready', whose effects these are.
   */
  restarted(shard: number, effects: SessionEffect[]): void {
    for (const clientId of [...this.router.clientIds()]) {
      if (this.supervisor.shardFor(clientId) === shard) this.router.removeSession(clientId);
    }
    for (const clientId of [...this.sessions]) {
      if (this.supervisor.shardFor(clientId) !== shard || this.online.has(clientId) || this.connecting.has(clientId)) continue;
      this.sessions.delete(clientId);
    }
    this.restored(effects);
  }

  /**
   * A shard worker failed and is being restarted from its file: its sessions' in-memory state is
   * gone, so their connections are closed (v5: 0x83) and the clients resume on reconnect.
   */
  closeShardClients(shard: number, message: string): void {
    for (const conn of [...this.byConnId.values()]) {
      if (conn.clientId === null || this.supervisor.shardFor(conn.clientId) !== shard) continue;
      conn.withSession = false;
      conn.close(ReasonCode.ImplementationSpecificError, `session shard restarted: ${message}`, 'server');
    }
  }

  publishSys(): void {
    for (const m of sysMessages(this.stats(), Date.now())) this.publish(m, null);
  }

  /** Persistent sessions this node knows (online or offline). */
  get persistentCount(): number {
    return this.persistent.size;
  }

  /**
   * Closes every client connection. MQTT 5 clients that `referenceFor` names a server for get
   * DISCONNECT 0x9C Use Another Server with that Server Reference (a draining cluster node), the
   * others 0x8B Server shutting down; 3.1.1 clients (no server DISCONNECT there) are closed. The
   * server closed the connection without a DISCONNECT from the client, so wills are published
   * [MQTT-3.1.2-8] and clean sessions end, once the sessions see the close.
   */
  disconnectClients(referenceFor: (clientId: string) => string | null): { redirected: number; shutDown: number; closed: number } {
    this.accepting = false;
    let redirected = 0;
    let shutDown = 0;
    let closed = 0;
    for (const conn of [...this.byConnId.values()]) {
      const reference = conn.protocolVersion === 5 && conn.state === 'open' && conn.clientId !== null ? referenceFor(conn.clientId) : null;
      if (reference !== null) {
        conn.close(ReasonCode.UseAnotherServer, 'node leaving the cluster: use another server', 'server', reference); // §4.11
        redirected++;
      } else if (conn.protocolVersion === 5 && conn.state === 'open') {
        conn.close(ReasonCode.ServerShuttingDown, 'server shutting down', 'server');
        shutDown++;
      } else {
        conn.close(ReasonCode.ServerShuttingDown, 'server shutting down', 'server');
        closed++;
      }
    }
    return { redirected, shutDown, closed };
  }

  /** Resolves once the sessions took the disconnects: the first barrier returns their effects
   * (wills to route); routing them sends deliveries, which the second makes durable. */
  async settleSessions(): Promise<void> {
    await this.barrier();
    await this.barrier();
  }

  /** Takes nothing more (forwarded messages are refused), settles, closes storage. */
  async closeStorage(): Promise<void> {
    this.closing = true;
    await this.settleSessions();
    await this.supervisor.close();
    await this.retained.close();
  }

  /**
   * Stops accepting, closes every client (v5: 0x8B), lets their sessions see the close — the
   * server closed the connection without a DISCONNECT, so wills are published [MQTT-3.1.2-8] and
   * clean sessions end — waits until what that caused is routed and durable, then closes storage.
   */
  async shutdown(): Promise<void> {
    this.closing = true;
    this.disconnectClients(() => null);
    await this.closeStorage();
  }

  /** Resolves once every shard has committed and returned the effects of all events sent so far. */
  private barrier(): Promise<void> {
    const all: Promise<void>[] = [];
    for (let shard = 0; shard < this.supervisor.shardCount; shard++) {
      all.push(this.tickets.ticket((id) => this.supervisor.ticket(shard, id)));
    }
    return Promise.all(all).then(() => undefined);
  }
}

/** How often addresses with no connection and a refilled rate bucket are forgotten. */
const ADMISSION_SWEEP_MS = 10_000;

function topicLimitsOf(config: ShoalConfig): TopicLimits {
  return Object.freeze({ maxLevels: config.maxTopicLevels, maxBytes: config.maxTopicLength });
}

/** Removes from `found`, in place, the messages `clientId` may not read. */
function dropUnreadable(found: AppMessage[], clientId: string, mayRead: (clientId: string, topic: string) => boolean): void {
  let w = 0;
  for (const m of found) if (mayRead(clientId, m.topic)) found[w++] = m;
  found.length = w;
}

/** Starts a node with a validated config. `shoal start` and the integration tests use this. */
export async function startNode(config: ShoalConfig, opts: StartOptions = {}): Promise<NodeHandle> {
  const log = opts.logger ?? createLogger(config.logLevel);
  // First: a bad users file must fail startup before any storage is opened.
  const authMethods = opts.authMethods ?? configuredAuthMethods(config);
  if (authMethods.names.length > 0) log.info({ event: 'auth.methods', methods: authMethods.names }, 'enhanced authentication offered');
  const access = opts.access ?? new AccessControl(config);
  log.info(
    { event: 'auth.anonymous', allowed: access.anonymous.allowed, why: access.anonymous.why, passwordFile: config.passwordFile || null, aclFile: config.aclFile || null, sessionOwnerCheck: config.sessionOwnerCheck },
    access.anonymous.allowed ? `anonymous clients are allowed (${access.anonymous.why})` : `anonymous clients are refused (${access.anonymous.why}); clients must authenticate`,
  );
  // Bound first: a busy port fails startup before storage opens, and /health answers while it loads.
  const httpServer = config.http === null ? null : await startHttpServer({ listen: config.http, token: config.httpToken, nodeName: config.nodeName, log });
  try {
    return await startNodeWith(config, opts, log, authMethods, access, httpServer);
  } catch (err) {
    await httpServer?.close();
    throw err;
  }
}

async function startNodeWith(config: ShoalConfig, opts: StartOptions, log: Logger, authMethods: AuthMethods, access: AccessControl, httpServer: HttpServer | null): Promise<NodeHandle> {
  const inMemory = opts.inMemory ?? false;
  const dataDir = inMemory ? null : resolve(config.dataDir);
  if (dataDir !== null) mkdirSync(dataDir, { recursive: true });
  const shardHost = resolveShardHost(config.shardHost);
  log.info({ event: 'node.starting', nodeName: config.nodeName, dataDir, shards: config.shards, shardHost }, 'starting node');
  const retainedStore = dataDir === null ? new MemoryRetainedStore() : await SqliteRetainedStore.open(join(dataDir, 'retained.db'));
  const retained = new RetainedMessages(retainedStore);
  const retainedCount = await retained.load(Date.now());
  const node = new ShoalNode(config, log, retained, authMethods, access);
  // Bound first, so the cluster can gossip the MQTT address clients should use (the bound port
  // when --listen asks for port 0); connections are refused until the node is up (accepting).
  const listener = await listenTcp(config.listen, (stream, remote) => node.accept(stream, remote));
  try {
    return await startOnListener(config, opts, log, node, listener, { dataDir, shardHost, retainedCount, httpServer });
  } catch (err) {
    await listener.close();
    throw err;
  }
}

/** The rest of startNode, once the MQTT listener is bound (it closes the listener if this fails). */
async function startOnListener(
  config: ShoalConfig,
  opts: StartOptions,
  log: Logger,
  node: ShoalNode,
  listener: TcpListener,
  { dataDir, shardHost, retainedCount, httpServer }: { dataDir: string | null; shardHost: 'workers' | 'main'; retainedCount: number; httpServer: HttpServer | null },
): Promise<NodeHandle> {
  const mqttAddress = mqttAdvertiseAddress(config, listener.address.port);
  const cluster = opts.cluster === undefined ? clusterSettingsFrom(config, Date.now(), mqttAddress) : { mqttAddress, ...opts.cluster };
  if (cluster !== null) {
    // Loaded only for a cluster: a single node never loads gRPC or swim.
    const { ClusterNode } = await import('./cluster/cluster-node.js');
    node.cluster = new ClusterNode(cluster, node, log);
  } else {
    // Before storage is loaded: restored subscriptions are counted too.
    node.router.observer = { added: (f) => node.localFilters.add(f), removed: (f) => node.localFilters.remove(f) };
  }
  const limits: SessionLimits = {
    maxInflight: config.maxInflight,
    maxQueuedMessages: config.maxQueuedMessages,
    maxQueuedBytes: config.maxQueuedBytes,
    maxSubscriptions: config.maxSubscriptions,
    topicLimits: topicLimitsOf(config),
  };
  node.supervisor = new ShardSupervisor({
    shards: config.shards,
    host: shardHost,
    dataDir,
    storageSync: config.storageSync,
    limits,
    onEffects: node.onEffects,
    onFlush: () => node.flushTurn(),
    onRestored: (shard, effects) => node.restarted(shard, effects),
    onShardFailure: (shard, message) => {
      log.error({ event: 'shard.failed', shard, message }, 'shard failed; restarting it from storage and closing its clients');
      node.closeShardClients(shard, message);
    },
  });
  let listening = false;
  httpServer?.attach(node.adminSource(() => listening));
  const restored = await node.supervisor.start();
  node.restored(restored);
  log.info({ event: 'node.restored', retained: retainedCount, subscriptions: node.stats().subscriptions }, 'storage loaded');
  await node.cluster?.start();
  // TLS and WebSocket listeners (if configured); startNode closes the TCP one if they fail.
  const transports = await startListenerSet(config, (stream, remote, user) => node.accept(stream, remote, user), log, opts.tlsCredentials);
  node.accepting = true;
  // Per-address rate state outlives the address's last connection by up to a second's burst.
  const sweepTimer = config.maxConnectionRate > 0 ? setInterval(() => node.sweepAdmission(), ADMISSION_SWEEP_MS) : null;
  sweepTimer?.unref();
  listening = true;
  const sysTimer = config.sysIntervalSec > 0 ? setInterval(() => node.publishSys(), config.sysIntervalSec * 1000) : null;
  sysTimer?.unref();
  if (sysTimer !== null) node.publishSys();
  let closed: Promise<void> | null = null;
  /** The graceful leave's report, and the `shoal drain` calls waiting for it (a cluster node only). */
  let drainReport: DrainReport | null = null;
  const drainWaiters: ((report: DrainReport) => void)[] = [];
  const reported = (report: DrainReport): void => {
    drainReport = report;
    for (const resolve of drainWaiters.splice(0)) resolve(report);
  };
  const handle: NodeHandle = {
    nodeName: config.nodeName,
    mqtt: listener.address,
    transports: transports.addresses,
    reloadCertificates: () => transports.reloadCertificates(),
    http: httpServer?.address ?? null,
    events: node.events,
    cluster: node.cluster,
    stats: () => node.stats(),
    reloadAuth: () => node.gate.reload(),
    close(reason = 'close') {
      closed ??= (async () => {
        log.info({ event: 'node.stopping', reason }, 'stopping node');
        node.events.emit('stopping', { reason });
        listening = false; // /ready: 503 from now on, so load balancers move on first
        if (sysTimer !== null) clearInterval(sysTimer);
        if (sweepTimer !== null) clearInterval(sweepTimer);
        if (node.cluster !== null) {
          try {
            await drainNode(drainSteps(node, node.cluster, listener, config.nodeName, reported), config.drainTimeoutMs, log);
          } catch (err) {
            log.error({ event: 'node.drain.failed', err }, 'graceful leave failed; stopping anyway');
            node.disconnectClients(() => null);
            await node.cluster.close();
          }
          await node.closeStorage();
        } else {
          // Connections first: listener.close() destroys every socket at once, which would lose
          // the DISCONNECT 0x8B owed to v5 clients (§4.13.2). shutdown() writes it synchronously
          // and refuses new sockets; by the time storage is flushed the bytes have left.
          await node.shutdown();
        }
        await listener.close();
        await transports.close();
        await httpServer?.close();
        log.info({ event: 'node.stopped' }, 'node stopped');
        log.flush?.();
      })();
      return closed;
    },
  };
  if (node.cluster !== null) {
    node.cluster.drainHandler = () => {
      void handle.close('drain');
      return drainReport !== null ? Promise.resolve(drainReport) : new Promise<DrainReport>((resolve) => drainWaiters.push(resolve));
    };
  }
  return handle;
}

/** The drain's steps over this node, its cluster part and its listener (src/cluster/node-drain.ts). */
function drainSteps(node: ShoalNode, cluster: ClusterNode, listener: TcpListener, nodeName: string, reported: (report: DrainReport) => void): DrainSteps {
  return {
    nodeName,
    stopAccepting: () => {
      // New connections on any listener (TCP, TLS, WebSocket) are refused from now on.
      node.accepting = false;
      listener.server.close(); // open connections stay; listener.close() at the end destroys leftovers
    },
    references: () => serverReferences(cluster.livePeers()),
    sessionCount: () => node.persistentCount,
    pushSessions: () => cluster.pushSessions(),
    disconnectClients: (referenceFor) => node.disconnectClients(referenceFor),
    settleSessions: () => node.settleSessions(),
    forwardsInFlight: () => cluster.forwardsInFlight,
    forwardsSettled: () => cluster.forwardsSettled(),
    leaveGossip: () => cluster.leave(),
    reported,
    closeGrpc: () => cluster.close(),
  };
}
