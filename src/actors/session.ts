// The MQTT state machine of one client session, as pure transitions: given the state, an event
// and the time, it mutates the plain state and returns effects (packets, routing changes, timers
// via deadlines) and store ops. No I/O: the shard shell executes the output, which is what lets
// property tests drive this exact code and the cluster move the state between nodes.
import { defineOwn } from '../storage/own-record.js';
import { ReasonCode, subackCodeForV3 } from '../protocol/reason-codes.js';
import type { StoredMessage, StoredSession, SessionMeta } from '../storage/types.js';
import {
  deliver,
  deliverShared,
  drain,
  isPersistent,
  onDiscarded,
  onPuback,
  onPubcomp,
  onPubrec,
  ownCopy,
  purgeExpired,
  redeliver,
} from './session-outbound.js';
import { InflightWindow } from './inflight-window.js';
import { MessageQueue } from './message-queue.js';
import {
  NO_INFLIGHT,
  NO_PACKET_IDS,
  NO_QUEUE,
  NO_SUBSCRIPTIONS,
  SESSION_NEVER_EXPIRES,
  writable,
  type DisconnectKind,
  type SessionEvent,
  type SessionLimits,
  type SessionOutput,
  type SessionSnapshot,
  type SessionState,
  type SubscribeRequest,
} from './session-types.js';
import { decideSubscribe } from './subscribe-decision.js';

export function newSession(clientId: string): SessionState {
  return {
    clientId,
    username: null,
    protocolVersion: 4,
    expiryIntervalSec: 0,
    connId: null,
    disconnectedAt: null,
    clientReceiveMaximum: 65535,
    subscriptions: NO_SUBSCRIPTIONS,
    subscriptionCount: 0,
    inboundQos2: NO_PACKET_IDS,
    inflight: NO_INFLIGHT,
    queue: NO_QUEUE,
    queuedBytes: 0,
    queuedQos0: 0,
    nextSeq: 1,
    nextPacketId: 1,
    will: null,
    willDueAt: null,
    expiresAt: null,
  };
}

function meta(s: SessionState): SessionMeta {
  return {
    clientId: s.clientId,
    username: s.username,
    protocolVersion: s.protocolVersion,
    expiryIntervalSec: s.expiryIntervalSec,
    disconnectedAt: s.disconnectedAt,
    will: s.will,
  };
}

function persistMeta(s: SessionState, out: SessionOutput): void {
  if (isPersistent(s)) out.store.push({ op: 'putMeta', meta: meta(s) });
}

/**
 * Handles one event. Returns the session state afterwards: `null` when the session has ended
 * (or never existed). `state` is mutated in place when it survives.
 */
export function handleSession(
  state: SessionState | null,
  event: SessionEvent,
  now: number,
  limits: SessionLimits,
  out: SessionOutput,
): SessionState | null {
  const connBefore = state?.connId ?? null;
  const backlogBefore = connBefore !== null && hasQos0Backlog(state!);
  const after = handleEvent(state, event, now, limits, out);
  if (after !== null && after.connId !== null) {
    const backlog = hasQos0Backlog(after);
    // A refused CONNECT (owner check) leaves the live connection as it was: no flow for it.
    if ((event.type === 'connect' && after.connId === event.connId) || after.connId !== connBefore || backlog !== backlogBefore) {
      out.effects.push({ type: 'flow', connId: after.connId, clientId: after.clientId, direct: !backlog });
    }
  }
  return after;
}

/**
 * handleSession for a copy the session shares with others of its shard (see deliverShared):
 * what a 'deliver' event does, without an event or a message object per session.
 */
export function handleSharedDelivery(
  state: SessionState | null,
  shared: StoredMessage,
  now: number,
  limits: SessionLimits,
  out: SessionOutput,
): SessionState | null {
  if (state === null) return null; // late delivery for a session that has ended
  const backlogBefore = state.connId !== null && hasQos0Backlog(state);
  deliverShared(state, shared, now, limits, out);
  if (state.connId !== null) {
    const backlog = hasQos0Backlog(state);
    if (backlog !== backlogBefore) out.effects.push({ type: 'flow', connId: state.connId, clientId: state.clientId, direct: !backlog });
  }
  return state;
}

/** A QoS 0 message waits in the queue (behind a full QoS 1/2 window). */
function hasQos0Backlog(s: SessionState): boolean {
  return s.queuedQos0 > 0;
}

function handleEvent(
  state: SessionState | null,
  event: SessionEvent,
  now: number,
  limits: SessionLimits,
  out: SessionOutput,
): SessionState | null {
  if (event.type === 'connect') return connect(state, event, now, limits, out);
  if (state === null) return null; // late event for a session that has ended
  switch (event.type) {
    case 'deliver':
      deliver(state, event.message, event.qos, event.retain, event.subscriptionIds, now, limits, out);
      return state;
    case 'timer':
      return onTimer(state, now, out);
    case 'disconnect':
      if (event.connId !== state.connId) return state; // a connection already replaced
      return disconnect(state, event.kind, event.expiryIntervalSec, now, out);
    default:
      break;
  }
  if (event.connId !== state.connId) return state; // stale packet from a replaced connection
  switch (event.type) {
    case 'puback':
      onPuback(state, event.packetId, now, limits, out);
      break;
    case 'pubrec':
      onPubrec(state, event.packetId, event.reasonCode, now, limits, out);
      break;
    case 'pubcomp':
      onPubcomp(state, event.packetId, now, limits, out);
      break;
    case 'discarded':
      onDiscarded(state, event.packetId, now, limits, out);
      break;
    case 'qos2Check':
      // [MQTT-4.3.3-?] a PUBLISH whose id already got PUBREC is a resend: acknowledge, do not route again
      out.effects.push({
        type: 'qos2Status',
        connId: event.connId,
        clientId: state.clientId,
        packetId: event.packetId,
        duplicate: state.inboundQos2.includes(event.packetId),
      });
      break;
    case 'qos2Routed':
      if (!state.inboundQos2.includes(event.packetId)) {
        writable(state, 'inboundQos2').push(event.packetId);
        if (isPersistent(state)) out.store.push({ op: 'putQos2', clientId: state.clientId, packetId: event.packetId });
      }
      out.effects.push({ type: 'packet', connId: event.connId, packet: withReason(state, { cmd: 'pubrec', messageId: event.packetId }, event.reasonCode) });
      break;
    case 'pubrel': {
      const i = state.inboundQos2.indexOf(event.packetId);
      if (i >= 0) {
        writable(state, 'inboundQos2').splice(i, 1);
        if (isPersistent(state)) out.store.push({ op: 'deleteQos2', clientId: state.clientId, packetId: event.packetId });
      }
      const code = i >= 0 ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound;
      out.effects.push({ type: 'packet', connId: event.connId, packet: withReason(state, { cmd: 'pubcomp', messageId: event.packetId }, code) });
      break;
    }
    case 'subscribe':
      subscribe(state, event.connId, event.packetId, event.requests, limits, out);
      break;
    case 'unsubscribe':
      unsubscribe(state, event.connId, event.packetId, event.filters, out);
      break;
  }
  return state;
}

function withReason<P extends { cmd: 'pubrec' | 'pubcomp'; messageId: number }>(s: SessionState, p: P, code: number): P {
  // Reason codes exist only in v5; a 0 reason code may be omitted [MQTT-3.4.2.1].
  return s.protocolVersion === 5 && code !== 0 ? { ...p, reasonCode: code } : p;
}

function connect(
  existing: SessionState | null,
  e: Extract<SessionEvent, { type: 'connect' }>,
  now: number,
  limits: SessionLimits,
  out: SessionOutput,
): SessionState {
  let s = existing;
  if (s !== null && e.ownerCheck && s.username !== e.username) {
    // The session is another user's: resuming it would hand over its queue and subscriptions,
    // a Clean Start or takeover would end or disturb it. Refused; nothing of it changes.
    const who = (u: string | null): string => (u === null ? 'anonymous' : JSON.stringify(u));
    const detail = `client id ${JSON.stringify(e.clientId)} has a session of user ${who(s.username)}; ${who(e.username)} may not resume or take it over`;
    out.effects.push({ type: 'close', connId: e.connId, reasonCode: ReasonCode.NotAuthorized, detail });
    out.effects.push({ type: 'event', name: 'session.owner.refused', clientId: e.clientId, detail });
    return s;
  }
  if (s !== null && s.connId !== null) {
    // Same-node takeover [MQTT-3.1.4-3]: the old connection is closed; its will follows the
    // rules of an abnormal close immediately followed by this reconnect.
    out.effects.push({ type: 'close', connId: s.connId, reasonCode: ReasonCode.SessionTakenOver, detail: 'another connection took over this client id' });
    s.connId = null;
    s.disconnectedAt = now;
    // A session with expiry 0 lasts only as long as its connection [MQTT-3.1.2-6] (3.1.1),
    // §3.1.2.11.2 (v5): closing that connection ends it, so the new one must not resume it.
    const ends = e.cleanStart || s.expiryIntervalSec === 0;
    if (s.will !== null && (s.will.delaySec === 0 || ends)) publishWill(s, now, out);
    if (ends) {
      endSession(s, out, isPersistent(s));
      s = null;
    }
  }
  if (s !== null && e.cleanStart) {
    // [MQTT-3.1.2-4] Clean Start discards the existing session
    if (s.will !== null) publishWill(s, now, out); // the old session ends: a pending will fires [MQTT-3.1.3-9]
    endSession(s, out, isPersistent(s));
    s = null;
  }
  const sessionPresent = s !== null;
  if (s === null) s = newSession(e.clientId);
  s.username = e.username; // with the owner check off, a takeover makes it the new user's
  const wasPersistent = isPersistent(s) && sessionPresent;
  s.protocolVersion = e.protocolVersion;
  s.expiryIntervalSec = e.expiryIntervalSec;
  s.connId = e.connId;
  s.disconnectedAt = null;
  s.clientReceiveMaximum = e.receiveMaximum;
  s.will = e.will; // a reconnect in time cancels a delayed will [MQTT-3.1.3-9]
  s.willDueAt = null;
  s.expiresAt = null;
  if (wasPersistent && !isPersistent(s)) {
    // The session now ends with this connection: nothing of it needs to stay on disk.
    out.store.push({ op: 'deleteSession', clientId: s.clientId });
  } else if (!wasPersistent && isPersistent(s)) {
    persistAll(s, out);
  } else {
    persistMeta(s, out);
  }
  out.effects.push({ type: 'connack', connId: e.connId, clientId: s.clientId, sessionPresent });
  if (sessionPresent) {
    purgeExpired(s, now, out);
    redeliver(s, out);
    drain(s, now, limits, out);
  }
  return s;
}

/** Writes the whole session (it just became persistent). */
function persistAll(s: SessionState, out: SessionOutput): void {
  out.store.push({ op: 'deleteSession', clientId: s.clientId });
  out.store.push({ op: 'putMeta', meta: meta(s) });
  for (const [filter, options] of Object.entries(s.subscriptions)) out.store.push({ op: 'putSubscription', clientId: s.clientId, filter, options });
  for (const packetId of s.inboundQos2) out.store.push({ op: 'putQos2', clientId: s.clientId, packetId });
  for (const m of [...s.inflight, ...s.queue]) out.store.push({ op: 'putMessage', clientId: s.clientId, message: ownCopy(m) });
}

function publishWill(s: SessionState, now: number, out: SessionOutput): void {
  if (s.will === null) return;
  const { message, messageExpirySec } = s.will;
  // The will's Message Expiry Interval counts from its publication [MQTT-3.1.3-?]
  out.effects.push({ type: 'route', message: messageExpirySec === undefined ? message : { ...message, expiresAt: now + messageExpirySec * 1000 } });
  out.effects.push({ type: 'event', name: 'session.will.published', clientId: s.clientId, detail: `will on ${s.will.message.topic}` });
  s.will = null;
  s.willDueAt = null;
}

/**
 * `stored`: whether the session is in the store, i.e. it was persistent just before this event.
 * Every write is guarded by isPersistent() and a CONNECT that makes a session non-persistent
 * deletes it, so a session that was not persistent has nothing stored: a clean client's
 * disconnect costs the shard no storage transaction.
 */
function endSession(s: SessionState, out: SessionOutput, stored: boolean): void {
  out.effects.push({ type: 'routes', clientId: s.clientId, add: [], removeAll: true });
  if (stored) out.store.push({ op: 'deleteSession', clientId: s.clientId });
  out.effects.push({ type: 'event', name: 'session.ended', clientId: s.clientId, detail: 'session ended' });
}

function disconnect(
  s: SessionState,
  kind: DisconnectKind,
  expiryIntervalSec: number | undefined,
  now: number,
  out: SessionOutput,
): SessionState | null {
  s.connId = null;
  s.disconnectedAt = now;
  const stored = isPersistent(s); // before the DISCONNECT may lower the expiry to 0
  // A DISCONNECT may not raise the expiry from 0 [MQTT-3.14.2-2]: the transport rejects that, and
  // the actor ignores it too, since nothing of a non-persistent session was ever stored.
  if (expiryIntervalSec !== undefined && s.protocolVersion === 5 && s.expiryIntervalSec !== 0) s.expiryIntervalSec = expiryIntervalSec;
  if (kind === 'normal') {
    s.will = null; // [MQTT-3.1.2-10] a normal DISCONNECT discards the will
  } else if (s.will !== null) {
    if (s.will.delaySec === 0 || s.expiryIntervalSec === 0) publishWill(s, now, out);
    else s.willDueAt = now + Math.min(s.will.delaySec, s.expiryIntervalSec) * 1000; // [MQTT-3.1.3-9]
  }
  if (s.expiryIntervalSec === 0) {
    endSession(s, out, stored);
    return null;
  }
  if (s.expiryIntervalSec !== SESSION_NEVER_EXPIRES) s.expiresAt = now + s.expiryIntervalSec * 1000;
  persistMeta(s, out);
  return s;
}

function onTimer(s: SessionState, now: number, out: SessionOutput): SessionState | null {
  if (s.connId !== null) return s;
  if (s.willDueAt !== null && s.willDueAt <= now) {
    publishWill(s, now, out);
    persistMeta(s, out);
  }
  if (s.expiresAt !== null && s.expiresAt <= now) {
    publishWill(s, now, out); // the will is sent at session end if that comes first [MQTT-3.1.3-9]
    endSession(s, out, isPersistent(s));
    return null;
  }
  return s;
}

function subscribe(
  s: SessionState,
  connId: number,
  packetId: number,
  requests: SubscribeRequest[],
  limits: SessionLimits,
  out: SessionOutput,
): void {
  // The decision the main thread made when it read this packet (and applied to its router then):
  // the same function over the same subscriptions. Routes and retained messages are main's part.
  // The count is kept in the state: counting the keys per SUBSCRIBE made a flood quadratic.
  const count = s.subscriptionCount;
  const subs = s.subscriptions;
  // Own keys only: a filter is client text, and 'toString' or '__proto__' are valid filters.
  const decision = decideSubscribe({ has: (filter) => Object.hasOwn(subs, filter) }, count, requests, limits.maxSubscriptions, limits.topicLimits);
  if (decision.protocolError !== null) {
    out.effects.push({ type: 'close', connId, reasonCode: ReasonCode.ProtocolError, detail: decision.protocolError });
    return;
  }
  for (const { name, detail } of decision.refused) out.effects.push({ type: 'event', name, clientId: s.clientId, detail });
  for (const { filter, options } of decision.add) {
    if (!Object.hasOwn(s.subscriptions, filter)) s.subscriptionCount++;
    defineOwn(writable(s, 'subscriptions'), filter, options);
    if (isPersistent(s)) out.store.push({ op: 'putSubscription', clientId: s.clientId, filter, options });
  }
  const codes = s.protocolVersion === 5 ? decision.codes : decision.codes.map(subackCodeForV3);
  out.effects.push({ type: 'packet', connId, packet: { cmd: 'suback', messageId: packetId, granted: codes } });
}

function unsubscribe(s: SessionState, connId: number, packetId: number, filters: string[], out: SessionOutput): void {
  const codes: number[] = [];
  for (const filter of filters) {
    // The main thread removed the route when it read the packet.
    if (Object.hasOwn(s.subscriptions, filter)) {
      delete writable(s, 'subscriptions')[filter];
      s.subscriptionCount--;
      if (isPersistent(s)) out.store.push({ op: 'deleteSubscription', clientId: s.clientId, filter });
      codes.push(ReasonCode.Success);
    } else {
      codes.push(ReasonCode.NoSubscriptionExisted);
    }
  }
  // v3 UNSUBACK has no payload: mqtt-packet writes `granted` for v5 only
  out.effects.push({ type: 'packet', connId, packet: { cmd: 'unsuback', messageId: packetId, granted: codes } });
}

/** Rebuilds a session from storage after a restart: it is offline, its timers rearmed. */
export function restoreSession(stored: StoredSession, now: number, out: SessionOutput): SessionState | null {
  const s = newSession(stored.meta.clientId);
  s.username = stored.meta.username;
  s.protocolVersion = stored.meta.protocolVersion;
  s.expiryIntervalSec = stored.meta.expiryIntervalSec;
  s.subscriptions = { ...stored.subscriptions };
  s.subscriptionCount = Object.keys(s.subscriptions).length;
  s.inboundQos2 = [...stored.inboundQos2];
  s.will = stored.meta.will;
  for (const m of stored.messages) {
    if (m.state === 'queued') {
      writable(s, 'queue').push(m);
      s.queuedBytes += m.message.payload.byteLength + m.message.topic.length;
      if (m.qos === 0) s.queuedQos0++;
    } else {
      writable(s, 'inflight').add(m);
    }
    s.nextSeq = Math.max(s.nextSeq, m.seq + 1);
  }
  let maxId = 0;
  for (const m of s.inflight) maxId = Math.max(maxId, m.packetId ?? 0);
  s.nextPacketId = maxId >= 65535 ? 1 : maxId + 1;
  out.effects.push({ type: 'routes', clientId: s.clientId, add: Object.entries(s.subscriptions).map(([filter, options]) => ({ filter, options })), removeAll: false, username: s.username });
  // A session that was connected when the node stopped lost its connection then: an abnormal
  // close at restart time, so its will follows the abnormal-close rules.
  const wasConnected = stored.meta.disconnectedAt === null;
  s.disconnectedAt = stored.meta.disconnectedAt ?? now;
  if (s.will !== null) {
    if (wasConnected && s.will.delaySec === 0) publishWill(s, now, out);
    else s.willDueAt = s.disconnectedAt + Math.min(s.will.delaySec, s.expiryIntervalSec) * 1000;
  }
  if (s.expiryIntervalSec !== SESSION_NEVER_EXPIRES) s.expiresAt = s.disconnectedAt + s.expiryIntervalSec * 1000;
  if (wasConnected) persistMeta(s, out);
  return onTimer(s, now, out);
}

/**
 * The state as plain data (structured-cloneable, JSON-safe but for bytes): the queue and the
 * inflight window become arrays in their order, which importSession turns back into them.
 */
export function exportSession(s: SessionState): SessionSnapshot {
  return structuredClone({ ...s, queue: s.queue.toArray(), inflight: s.inflight.toArray() });
}

export function importSession(data: SessionSnapshot): SessionState {
  const c = structuredClone(data);
  return {
    ...c,
    queue: c.queue.length === 0 ? NO_QUEUE : MessageQueue.from(c.queue),
    inflight: c.inflight.length === 0 ? NO_INFLIGHT : InflightWindow.from(c.inflight),
  };
}

/**
 * Cross-node takeover, old node (src/cluster/takeover.ts): detaches the session from its
 * connection, which is closed with 0x8E [MQTT-3.1.4-3], and returns its state to move. The will
 * follows the rule of a takeover on one node (connect() above): the old connection closed without
 * DISCONNECT, so its will is published now if its delay is 0 [MQTT-3.1.2-8]; a delayed will moves
 * with its due time and the CONNECT on the new node, which attaches right after, cancels it
 * [MQTT-3.1.3-9] (if the takeover fails instead, it stays due here, as after any abnormal close).
 * The session stays here, offline, until the takeover ends (dropForTakeover) or fails; deliveries
 * meanwhile queue in it as for any offline session, durably. Returns null, ending the session as
 * a same-node CONNECT would, when it does not move: `discard` (Clean Start [MQTT-3.1.2-4]) or an
 * expiry of 0 (it lasted only as long as the closed connection [MQTT-3.1.2-6]).
 */
export function detachForTakeover(s: SessionState, discard: boolean, now: number, out: SessionOutput): SessionSnapshot | null {
  const ends = discard || s.expiryIntervalSec === 0;
  if (s.connId !== null) {
    out.effects.push({ type: 'close', connId: s.connId, reasonCode: ReasonCode.SessionTakenOver, detail: 'the client connected to another node of the cluster' });
    s.connId = null;
    s.disconnectedAt = now;
    if (s.will !== null && s.will.delaySec === 0) publishWill(s, now, out);
    else if (s.will !== null && !ends) s.willDueAt = now + Math.min(s.will.delaySec, s.expiryIntervalSec) * 1000;
    // Offline from now on, here or (once connected there) not at all: it expires as any would.
    if (s.expiryIntervalSec !== SESSION_NEVER_EXPIRES) s.expiresAt = now + s.expiryIntervalSec * 1000;
  }
  if (ends) {
    if (s.will !== null) publishWill(s, now, out); // the session ends: a pending will fires [MQTT-3.1.3-9]
    endSession(s, out, isPersistent(s));
    return null;
  }
  persistMeta(s, out);
  return exportSession(s);
}

/**
 * Cross-node takeover, new node: the copies the old node took in between its export and its
 * handover (`arrived`, in order) join the installed session's queue ahead of the copies that
 * reached it here directly since the install (seq >= `directFrom`). The old node's routes matched
 * those earlier: a publisher's messages then keep their order across the move. Every copy gets a
 * new seq in that order (queue order is seq order, also in the store).
 */
export function takeArrived(s: SessionState, arrived: readonly StoredMessage[], directFrom: number, now: number, limits: SessionLimits, out: SessionOutput): void {
  const direct: StoredMessage[] = [];
  if (s.queue.length > 0 && arrived.length > 0) {
    const keep: StoredMessage[] = [];
    for (const m of s.queue) (m.seq >= directFrom ? direct : keep).push(m);
    if (direct.length > 0) {
      s.queue = keep.length === 0 ? NO_QUEUE : MessageQueue.from(keep);
      s.queuedBytes = 0;
      s.queuedQos0 = 0;
      for (const m of keep) {
        s.queuedBytes += m.message.payload.byteLength + m.message.topic.length;
        if (m.qos === 0) s.queuedQos0++;
      }
      if (isPersistent(s)) for (const m of direct) out.store.push({ op: 'deleteMessage', clientId: s.clientId, seq: m.seq });
    }
  }
  for (const list of [arrived, direct]) {
    for (const m of list) deliver(s, m.message, m.qos, m.retain, [...m.subscriptionIds], now, limits, out);
  }
}

/**
 * Cross-node takeover, new node: the moved state as a local session, offline until the
 * takeover's CONNECT attaches to it (an ordinary connect, which resends inflight with DUP). Stored
 * whole and its routes added now, so this node matches its subscriptions before the old one
 * drops its own.
 */
export function installSession(data: SessionSnapshot, out: SessionOutput): SessionState {
  const s = importSession(data);
  s.connId = null;
  if (isPersistent(s)) persistAll(s, out);
  out.effects.push({ type: 'routes', clientId: s.clientId, add: Object.entries(s.subscriptions).map(([filter, options]) => ({ filter, options })), removeAll: false, username: s.username });
  return s;
}

/** Cross-node takeover: the session lives on another node now (or its install there is undone). */
export function dropForTakeover(s: SessionState, out: SessionOutput): void {
  out.effects.push({ type: 'routes', clientId: s.clientId, add: [], removeAll: true });
  if (isPersistent(s)) out.store.push({ op: 'deleteSession', clientId: s.clientId });
  out.effects.push({ type: 'event', name: 'session.moved', clientId: s.clientId, detail: 'session handed over to another node' });
}
