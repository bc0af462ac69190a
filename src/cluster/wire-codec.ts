// Maps the cluster's plain message types (src/cluster/peer-messages.ts) to and from the cluster.v1
// protobuf messages (src/cluster/gen). The transport calls it at the gRPC edge; decoding checks
// what the schema cannot (QoS range, integer fields) and throws WireDecodeError, which the
// transport turns into a dropped message and a log line, never a crash.

import type { ForwardedProperties, QoS, UserProperties } from '../protocol/message.js';
import type { MessageProperties, MessageProperties__Output } from './gen/cluster/v1/MessageProperties.js';
import type { PeerMessage as WirePeerMessage, PeerMessage__Output as WirePeerMessageOut } from './gen/cluster/v1/PeerMessage.js';
import type { ForwardedMessage__Output } from './gen/cluster/v1/ForwardedMessage.js';
import type { RetainedUpdate, RetainedUpdate__Output } from './gen/cluster/v1/RetainedUpdate.js';
import type { OriginDigest__Output } from './gen/cluster/v1/OriginDigest.js';
import type { FullSyncResponse, FullSyncResponse__Output } from './gen/cluster/v1/FullSyncResponse.js';
import type { ForwardStatus as WireForwardStatus } from './gen/cluster/v1/ForwardStatus.js';
import type { StatusResponse, StatusResponse__Output } from './gen/cluster/v1/StatusResponse.js';
import type { DrainResponse, DrainResponse__Output } from './gen/cluster/v1/DrainResponse.js';
import type { DrainReport } from './node-drain.js';
import type * as M from './peer-messages.js';
import type { ClusterStatus } from './peer-transport.js';

export class WireDecodeError extends Error {
  override readonly name = 'WireDecodeError';
  readonly code = 'SHOAL_CLUSTER_WIRE_DECODE';
  constructor(readonly field: string, reason: string) {
    super(`cluster message field ${field}: ${reason} (peer speaks another protocol version, or a bug)`);
  }
}

/** A uint64 as read with --longs=String, as a JS number; safe integers only. */
export function toInt(text: string | undefined, field: string): number {
  const n = Number(text ?? '0');
  if (!Number.isSafeInteger(n) || n < 0) throw new WireDecodeError(field, `${JSON.stringify(text)} is not a safe integer`);
  return n;
}

export function toQos(n: number, field: string): QoS {
  if (n === 0 || n === 1 || n === 2) return n;
  throw new WireDecodeError(field, `QoS ${n} is not 0, 1 or 2`);
}

const STATUS_TO_WIRE: Record<M.ForwardStatus, WireForwardStatus> = {
  stored: 'FORWARD_STATUS_STORED',
  refused: 'FORWARD_STATUS_REFUSED',
  'no-member': 'FORWARD_STATUS_NO_MEMBER',
};

function statusFromWire(s: string): M.ForwardStatus {
  if (s === 'FORWARD_STATUS_STORED') return 'stored';
  if (s === 'FORWARD_STATUS_NO_MEMBER') return 'no-member';
  if (s === 'FORWARD_STATUS_REFUSED') return 'refused';
  throw new WireDecodeError('forward_ack.status', `unknown status ${s}`);
}

export function encodeProperties(p: ForwardedProperties | undefined): MessageProperties | null {
  if (p === undefined) return null;
  const user: { key: string; value: string }[] = [];
  for (const [key, value] of Object.entries(p.userProperties ?? {})) {
    if (typeof value === 'string') user.push({ key, value });
    else for (const v of value) user.push({ key, value: v });
  }
  const out: MessageProperties = { user_properties: user };
  if (p.payloadFormatIndicator !== undefined) out.payload_format_utf8 = p.payloadFormatIndicator;
  if (p.contentType !== undefined) out.content_type = p.contentType;
  if (p.responseTopic !== undefined) out.response_topic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlation_data = p.correlationData;
  return out;
}

export function decodeProperties(p: MessageProperties__Output | null | undefined): ForwardedProperties | undefined {
  if (p === null || p === undefined) return undefined;
  const out: ForwardedProperties = {};
  if (p.payload_format_utf8 !== undefined) out.payloadFormatIndicator = p.payload_format_utf8;
  if (p.content_type !== undefined) out.contentType = p.content_type;
  if (p.response_topic !== undefined) out.responseTopic = p.response_topic;
  if (p.correlation_data !== undefined) out.correlationData = p.correlation_data;
  if (p.user_properties.length > 0) {
    const user: UserProperties = {};
    for (const { key, value } of p.user_properties) {
      const before = user[key];
      if (before === undefined) user[key] = value;
      else if (typeof before === 'string') user[key] = [before, value];
      else before.push(value);
    }
    out.userProperties = user;
  }
  return out;
}

export function encodeRetained(u: M.RetainedUpdate): RetainedUpdate {
  const out: RetainedUpdate = { topic: u.topic, timestamp_ms: u.timestampMs, node: u.node };
  const m = u.message;
  if (m !== null) {
    out.message = { payload: m.payload, qos: m.qos, publisher_id: m.publisherId, properties: encodeProperties(m.properties) };
    if (m.expiresAt !== undefined) out.message.expires_at_ms = m.expiresAt;
  }
  return out;
}

export function decodeRetained(u: RetainedUpdate__Output): M.RetainedUpdate {
  const m = u.message;
  let message: M.RetainedPayload | null = null;
  if (m !== null && m !== undefined) {
    const properties = decodeProperties(m.properties);
    message = {
      payload: m.payload,
      qos: toQos(m.qos, 'retained.qos'),
      publisherId: m.publisher_id,
      ...(properties === undefined ? {} : { properties }),
      ...(m.expires_at_ms === undefined ? {} : { expiresAt: toInt(m.expires_at_ms, 'retained.expires_at_ms') }),
    };
  }
  return { topic: u.topic, message, timestampMs: toInt(u.timestamp_ms, 'retained.timestamp_ms'), node: u.node };
}

function decodeDigest(d: OriginDigest__Output): M.OriginDigest {
  return {
    origin: d.origin,
    incarnation: toInt(d.incarnation, 'digest.incarnation'),
    lastSeq: toInt(d.last_seq, 'digest.last_seq'),
    count: d.count,
    hash: d.hash,
  };
}

function decodeForwarded(f: ForwardedMessage__Output): M.ForwardedPublish {
  const properties = decodeProperties(f.properties);
  return {
    message: {
      topic: f.topic,
      payload: f.payload,
      qos: toQos(f.qos, 'forward.qos'),
      retain: f.retain,
      publisherId: f.publisher_id,
      ...(properties === undefined ? {} : { properties }),
      ...(f.expires_at_ms === undefined ? {} : { expiresAt: toInt(f.expires_at_ms, 'forward.expires_at_ms') }),
    },
    deliverDirect: f.deliver_direct,
    sharedGroups: f.shared_groups,
    ackId: toInt(f.ack_id, 'forward.ack_id'),
  };
}

export function encodePeerMessage(m: M.PeerMessage): WirePeerMessage {
  switch (m.kind) {
    case 'route-delta':
      return { route_delta: { ...m.delta, adds: [...m.delta.adds], removes: [...m.delta.removes] } };
    case 'digests':
      return {
        digests: {
          from: m.set.from,
          digests: m.set.digests.map((d) => ({ ...d, last_seq: d.lastSeq })),
        },
      };
    case 'forward':
      return {
        forward: {
          messages: m.publishes.map((p) => {
            const msg = p.message;
            return {
              topic: msg.topic,
              payload: msg.payload,
              qos: msg.qos,
              retain: msg.retain,
              publisher_id: msg.publisherId,
              properties: encodeProperties(msg.properties),
              ...(msg.expiresAt === undefined ? {} : { expires_at_ms: msg.expiresAt }),
              deliver_direct: p.deliverDirect,
              shared_groups: [...p.sharedGroups],
              ack_id: p.ackId,
            };
          }),
        },
      };
    case 'forward-ack':
      return { forward_ack: { ack_id: m.ack.ackId, status: STATUS_TO_WIRE[m.ack.status] } };
    case 'retained':
      return { retained: { updates: m.updates.map(encodeRetained) } };
    case 'registrations':
      return { registrations: { view: m.view, complete: m.complete, entries: m.entries.map((e) => ({ client_id: e.clientId, present: e.present, since_ms: e.since })) } };
    case 'evict':
      return { evict: { client_id: m.clientId, since_ms: m.since, winner: m.winner } };
  }
}

export function decodePeerMessage(w: WirePeerMessageOut): M.PeerMessage {
  switch (w.body) {
    case 'route_delta': {
      const d = w.route_delta!;
      const delta = {
        origin: d.origin,
        incarnation: toInt(d.incarnation, 'route_delta.incarnation'),
        seq: toInt(d.seq, 'route_delta.seq'),
        adds: d.adds,
        removes: d.removes,
      };
      return { kind: 'route-delta', delta };
    }
    case 'digests':
      return { kind: 'digests', set: { from: w.digests!.from, digests: w.digests!.digests.map(decodeDigest) } };
    case 'forward':
      return { kind: 'forward', publishes: w.forward!.messages.map(decodeForwarded) };
    case 'forward_ack': {
      const a = w.forward_ack!;
      return { kind: 'forward-ack', ack: { ackId: toInt(a.ack_id, 'forward_ack.ack_id'), status: statusFromWire(a.status) } };
    }
    case 'retained':
      return { kind: 'retained', updates: w.retained!.updates.map(decodeRetained) };
    case 'registrations': {
      const r = w.registrations!;
      const entries = r.entries.map((e) => ({ clientId: e.client_id, present: e.present, since: toInt(e.since_ms, 'registrations.entries.since_ms') }));
      return { kind: 'registrations', view: r.view, entries, complete: r.complete };
    }
    case 'evict': {
      const e = w.evict!;
      return { kind: 'evict', clientId: e.client_id, since: toInt(e.since_ms, 'evict.since_ms'), winner: e.winner };
    }
    default:
      throw new WireDecodeError('body', 'no message in the envelope');
  }
}

export function encodeSlice(origin: string, s: M.RouteSlice | null): FullSyncResponse {
  if (s === null) return { known: false, origin };
  return { known: true, origin, incarnation: s.incarnation, last_seq: s.lastSeq, filters: [...s.filters] };
}

export function decodeSlice(r: FullSyncResponse__Output): M.RouteSlice | null {
  if (!r.known) return null;
  return {
    origin: r.origin,
    incarnation: toInt(r.incarnation, 'full_sync.incarnation'),
    lastSeq: toInt(r.last_seq, 'full_sync.last_seq'),
    filters: r.filters,
  };
}

export function encodeStatus(s: ClusterStatus): StatusResponse {
  return {
    node: s.node,
    incarnation: s.incarnation,
    protocol_version: s.protocolVersion,
    members: s.members.map((m) => ({
      node: m.node,
      incarnation: m.incarnation,
      state: m.state,
      route_count: m.routeCount,
      route_hash: m.routeHash,
      forward_queue_depth: m.forwardQueueDepth,
      grpc_address: m.grpcAddress,
      mqtt_address: m.mqttAddress ?? '',
    })),
    load: s.load === null ? null : {
      connections: s.load.connections,
      messages_received: s.load.messagesReceived,
      messages_sent: s.load.messagesSent,
      bytes_received: s.load.bytesReceived,
      bytes_sent: s.load.bytesSent,
      subscriptions: s.load.subscriptions,
      retained: s.load.retained,
    },
  };
}

export function decodeStatus(s: StatusResponse__Output): ClusterStatus {
  return {
    node: s.node,
    incarnation: toInt(s.incarnation, 'status.incarnation'),
    protocolVersion: s.protocol_version,
    members: s.members.map((m) => ({
      node: m.node,
      incarnation: toInt(m.incarnation, 'status.members.incarnation'),
      state: m.state,
      routeCount: m.route_count,
      routeHash: m.route_hash,
      forwardQueueDepth: m.forward_queue_depth,
      grpcAddress: m.grpc_address,
      ...(m.mqtt_address === '' ? {} : { mqttAddress: m.mqtt_address }),
    })),
    load: s.load === null ? null : {
      connections: s.load.connections,
      messagesReceived: toInt(s.load.messages_received, 'status.load.messages_received'),
      messagesSent: toInt(s.load.messages_sent, 'status.load.messages_sent'),
      bytesReceived: toInt(s.load.bytes_received, 'status.load.bytes_received'),
      bytesSent: toInt(s.load.bytes_sent, 'status.load.bytes_sent'),
      subscriptions: s.load.subscriptions,
      retained: s.load.retained,
    },
  };
}

export function encodeDrain(r: DrainReport): DrainResponse {
  return {
    node: r.node,
    sessions_pushed: r.sessionsPushed,
    sessions_kept: r.sessionsKept,
    sessions_ended: r.sessionsEnded,
    clients_redirected: r.clientsRedirected,
    clients_shut_down: r.clientsShutDown,
    clients_closed: r.clientsClosed,
    forwards_settled: r.forwardsSettled,
    forwards_unsettled: r.forwardsUnsettled,
    timed_out: r.timedOut,
    elapsed_ms: r.elapsedMs,
  };
}

export function decodeDrain(r: DrainResponse__Output): DrainReport {
  return {
    node: r.node,
    sessionsPushed: r.sessions_pushed,
    sessionsKept: r.sessions_kept,
    sessionsEnded: r.sessions_ended,
    clientsRedirected: r.clients_redirected,
    clientsShutDown: r.clients_shut_down,
    clientsClosed: r.clients_closed,
    forwardsSettled: r.forwards_settled,
    forwardsUnsettled: r.forwards_unsettled,
    timedOut: r.timed_out,
    elapsedMs: r.elapsed_ms,
  };
}
