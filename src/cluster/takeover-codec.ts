// Maps the takeover protocol's messages (src/cluster/takeover.ts), with a SessionSnapshot as the
// moved session and StoredMessage copies as what arrived meanwhile, to and from the cluster.v1
// Takeover call's protobuf (src/cluster/gen). Decoding checks what the schema cannot (QoS, states,
// integers) and throws WireDecodeError; the derived counters of a session (subscriptions, queued
// bytes, queued QoS 0) are recomputed, not trusted.
import { defineOwn } from '../storage/own-record.js';
import type { AppMessage, ProtocolVersion, SubscriptionOptions, WillMessage } from '../protocol/message.js';
import type { StoredMessage, StoredMessageState } from '../storage/types.js';
import type { SessionSnapshot } from '../actors/session-types.js';
import type { SessionCopy, SessionCopy__Output } from './gen/cluster/v1/SessionCopy.js';
import type { SessionMessage, SessionMessage__Output } from './gen/cluster/v1/SessionMessage.js';
import type { SessionSnapshot as WireSession, SessionSnapshot__Output as WireSessionOut } from './gen/cluster/v1/SessionSnapshot.js';
import type { TakeoverMessage as WireTakeover, TakeoverMessage__Output as WireTakeoverOut } from './gen/cluster/v1/TakeoverMessage.js';
import type { NodeName, TakeoverMessage } from './takeover.js';
import { decodeProperties, encodeProperties, toInt, toQos, WireDecodeError } from './wire-codec.js';

/** A takeover message as the cluster moves it: sessions as state, arrivals as stored copies. */
export type SessionTakeoverMessage = TakeoverMessage<SessionSnapshot, StoredMessage>;

export function encodeTakeover(m: SessionTakeoverMessage, sender: NodeName): WireTakeover {
  const head = { id: m.id, client_id: m.clientId, from: 'from' in m ? m.from : sender };
  switch (m.kind) {
    case 'claim':
      return { ...head, claim: {} };
    case 'claimed':
      return { ...head, claimed: { granted: m.granted, holder: m.holder ?? '' } };
    case 'release':
      return { ...head, release: { location: m.location ?? '', since_ms: m.since } };
    case 'released':
      return { ...head, released: {} };
    case 'begin':
      return { ...head, begin: { clean_start: m.cleanStart } };
    case 'exported':
      return { ...head, exported: m.session === null ? { busy: m.busy } : { busy: m.busy, session: encodeSession(m.session) } };
    case 'end':
      return { ...head, end: {} };
    case 'ended':
      return { ...head, ended: { handed_over: m.outcome === 'ended', arrived: m.buffered.map(encodeCopy) } };
    case 'abort':
      return { ...head, abort: {} };
  }
}

export function decodeTakeover(w: WireTakeoverOut): SessionTakeoverMessage {
  const id = w.id;
  const clientId = w.client_id;
  const from = w.from;
  if (id === '' || clientId === '') throw new WireDecodeError('takeover.id', 'a takeover message needs its id and client id');
  switch (w.body) {
    case 'claim':
      return { kind: 'claim', id, clientId, from };
    case 'claimed':
      return { kind: 'claimed', id, clientId, granted: w.claimed!.granted, holder: w.claimed!.holder === '' ? null : w.claimed!.holder };
    case 'release':
      return { kind: 'release', id, clientId, from, location: w.release!.location === '' ? null : w.release!.location, since: toInt(w.release!.since_ms, 'release.since_ms') };
    case 'released':
      return { kind: 'released', id, clientId };
    case 'begin':
      return { kind: 'begin', id, clientId, from, cleanStart: w.begin!.clean_start };
    case 'exported': {
      const s = w.exported!.session;
      return { kind: 'exported', id, clientId, busy: w.exported!.busy, session: s === null || s === undefined ? null : decodeSession(s) };
    }
    case 'end':
      return { kind: 'end', id, clientId, from };
    case 'ended':
      return { kind: 'ended', id, clientId, outcome: w.ended!.handed_over ? 'ended' : 'aborted', buffered: w.ended!.arrived.map((c) => decodeCopy(c, 'ended.arrived')) };
    case 'abort':
      return { kind: 'abort', id, clientId, from };
    default:
      throw new WireDecodeError('takeover.body', 'no takeover message in the envelope');
  }
}

export function encodeSession(s: SessionSnapshot): WireSession {
  const out: WireSession = {
    client_id: s.clientId,
    protocol_version: s.protocolVersion,
    expiry_interval_sec: s.expiryIntervalSec,
    client_receive_maximum: s.clientReceiveMaximum,
    subscriptions: Object.entries(s.subscriptions).map(([filter, o]) => ({
      filter,
      qos: o.qos,
      no_local: o.noLocal,
      retain_as_published: o.retainAsPublished,
      retain_handling: o.retainHandling,
      ...(o.subscriptionId === undefined ? {} : { subscription_id: o.subscriptionId }),
    })),
    inbound_qos2: [...s.inboundQos2],
    inflight: s.inflight.map(encodeCopy),
    queue: s.queue.map(encodeCopy),
    next_seq: s.nextSeq,
    next_packet_id: s.nextPacketId,
  };
  if (s.disconnectedAt !== null) out.disconnected_at_ms = s.disconnectedAt;
  if (s.will !== null) {
    out.will = { message: encodeMessage(s.will.message), delay_sec: s.will.delaySec };
    if (s.will.messageExpirySec !== undefined) out.will.message_expiry_sec = s.will.messageExpirySec;
  }
  if (s.willDueAt !== null) out.will_due_at_ms = s.willDueAt;
  if (s.expiresAt !== null) out.expires_at_ms = s.expiresAt;
  if (s.username !== null) out.username = s.username;
  return out;
}

/** The session offline (connId null: a connection is never moved); importSession makes it live state. */
export function decodeSession(w: WireSessionOut): SessionSnapshot {
  if (w.protocol_version !== 3 && w.protocol_version !== 4 && w.protocol_version !== 5) {
    throw new WireDecodeError('session.protocol_version', `${w.protocol_version} is not 3, 4 or 5`);
  }
  const subscriptions: Record<string, SubscriptionOptions> = {};
  for (const sub of w.subscriptions) {
    if (sub.retain_handling !== 0 && sub.retain_handling !== 1 && sub.retain_handling !== 2) {
      throw new WireDecodeError('session.subscriptions.retain_handling', `${sub.retain_handling} is not 0, 1 or 2`);
    }
    const o: SubscriptionOptions = { qos: toQos(sub.qos, 'session.subscriptions.qos'), noLocal: sub.no_local, retainAsPublished: sub.retain_as_published, retainHandling: sub.retain_handling };
    if (sub.subscription_id !== undefined) o.subscriptionId = sub.subscription_id;
    defineOwn(subscriptions, sub.filter, o);
  }
  const queue = w.queue.map((c) => decodeCopy(c, 'session.queue'));
  let queuedBytes = 0;
  let queuedQos0 = 0;
  for (const m of queue) {
    // The accounting of restoreSession (src/actors/session.ts).
    queuedBytes += m.message.payload.byteLength + m.message.topic.length;
    if (m.qos === 0) queuedQos0++;
  }
  let will: WillMessage | null = null;
  if (w.will !== null && w.will !== undefined) {
    will = { message: decodeMessage(w.will.message, 'session.will.message'), delaySec: w.will.delay_sec };
    if (w.will.message_expiry_sec !== undefined) will.messageExpirySec = w.will.message_expiry_sec;
  }
  return {
    clientId: w.client_id,
    username: w.username ?? null,
    protocolVersion: w.protocol_version as ProtocolVersion,
    expiryIntervalSec: w.expiry_interval_sec,
    connId: null,
    disconnectedAt: w.disconnected_at_ms === undefined ? null : toInt(w.disconnected_at_ms, 'session.disconnected_at_ms'),
    clientReceiveMaximum: w.client_receive_maximum,
    subscriptions,
    subscriptionCount: Object.keys(subscriptions).length,
    inboundQos2: [...w.inbound_qos2],
    inflight: w.inflight.map((c) => decodeCopy(c, 'session.inflight')),
    queue,
    queuedBytes,
    queuedQos0,
    nextSeq: toInt(w.next_seq, 'session.next_seq'),
    nextPacketId: w.next_packet_id,
    will,
    willDueAt: w.will_due_at_ms === undefined ? null : toInt(w.will_due_at_ms, 'session.will_due_at_ms'),
    expiresAt: w.expires_at_ms === undefined ? null : toInt(w.expires_at_ms, 'session.expires_at_ms'),
  };
}

function encodeCopy(m: StoredMessage): SessionCopy {
  const out: SessionCopy = { seq: m.seq, state: m.state, qos: m.qos, retain: m.retain, subscription_ids: [...m.subscriptionIds], message: encodeMessage(m.message) };
  if (m.packetId !== null) out.packet_id = m.packetId;
  return out;
}

const STATES: ReadonlySet<string> = new Set<StoredMessageState>(['queued', 'inflight', 'released']);

function decodeCopy(c: SessionCopy__Output, field: string): StoredMessage {
  if (!STATES.has(c.state)) throw new WireDecodeError(`${field}.state`, `${JSON.stringify(c.state)} is not queued, inflight or released`);
  return {
    seq: toInt(c.seq, `${field}.seq`),
    state: c.state as StoredMessageState,
    packetId: c.packet_id ?? null,
    qos: toQos(c.qos, `${field}.qos`),
    retain: c.retain,
    subscriptionIds: [...c.subscription_ids],
    message: decodeMessage(c.message, `${field}.message`),
  };
}

function encodeMessage(m: AppMessage): SessionMessage {
  const out: SessionMessage = { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, publisher_id: m.publisherId, properties: encodeProperties(m.properties) };
  if (m.expiresAt !== undefined) out.expires_at_ms = m.expiresAt;
  return out;
}

function decodeMessage(m: SessionMessage__Output | null | undefined, field: string): AppMessage {
  if (m === null || m === undefined) throw new WireDecodeError(field, 'missing');
  const properties = decodeProperties(m.properties);
  if (properties?.correlationData !== undefined) properties.correlationData = new Uint8Array(properties.correlationData);
  return {
    topic: m.topic,
    // A Uint8Array of exactly its bytes, as sessions hold payloads (the decoder's may be a view).
    payload: new Uint8Array(m.payload),
    qos: toQos(m.qos, `${field}.qos`),
    retain: m.retain,
    publisherId: m.publisher_id,
    ...(properties === undefined ? {} : { properties }),
    ...(m.expires_at_ms === undefined ? {} : { expiresAt: toInt(m.expires_at_ms, `${field}.expires_at_ms`) }),
  };
}
