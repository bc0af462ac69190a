// Outbound delivery of one session: the inflight window, the offline queue with its limits,
// packet-id allocation, acknowledgements and redelivery on resume. Pure: mutates the plain
// SessionState it is given and appends effects and store ops to the output. Every step costs
// O(1) amortised per message whatever the backlog (MessageQueue, InflightWindow): a session far
// behind costs the node no more per message than one that keeps up.
import type { AppMessage, QoS } from '../protocol/message.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { StoredMessage } from '../storage/types.js';
import { writable, type OutgoingPublishSpec, type SessionLimits, type SessionOutput, type SessionState } from './session-types.js';

export function isPersistent(s: SessionState): boolean {
  return s.expiryIntervalSec > 0;
}

function windowSize(s: SessionState, limits: SessionLimits): number {
  return Math.min(limits.maxInflight, s.clientReceiveMaximum);
}

function messageBytes(m: AppMessage): number {
  return m.payload.byteLength + m.topic.length;
}

/** Next free packet id, skipping ids still inflight [MQTT-2.2.1-3]. */
function allocatePacketId(s: SessionState): number {
  for (let tries = 0; tries < 65535; tries++) {
    const id = s.nextPacketId;
    s.nextPacketId = id >= 65535 ? 1 : id + 1;
    if (!s.inflight.has(id)) return id;
  }
  // Unreachable while the window is ≤ 65535, which connect validation guarantees.
  throw new RangeError(`session ${s.clientId}: no free packet identifier`);
}

/**
 * A session's own copy of `m`. Written out rather than spread: spreading a frozen (shared) copy
 * takes V8's slow path, a property at a time (~2 % of a drain, perf), and one literal keeps every
 * StoredMessage the actor makes on one object shape.
 */
export function ownCopy(m: StoredMessage, seq = m.seq): StoredMessage {
  return { seq, state: m.state, packetId: m.packetId, qos: m.qos, retain: m.retain, subscriptionIds: m.subscriptionIds, message: m.message };
}

function expired(m: AppMessage, now: number): boolean {
  return m.expiresAt !== undefined && m.expiresAt <= now;
}

function send(s: SessionState, m: StoredMessage, dup: boolean, out: SessionOutput): void {
  if (s.connId === null) return;
  const publish: OutgoingPublishSpec = { message: m.message, qos: m.qos, dup, retain: m.retain, subscriptionIds: m.subscriptionIds };
  if (m.packetId !== null) publish.packetId = m.packetId;
  out.effects.push({ type: 'publish', connId: s.connId, publish });
}

/**
 * Moves one message into the inflight window and sends it. A shared copy (frozen, see
 * deliverShared) is replaced by the session's own: its packet id and state are this session's.
 */
function startInflight(s: SessionState, queued: StoredMessage, out: SessionOutput, stored: boolean): void {
  const m = Object.isFrozen(queued) ? ownCopy(queued) : queued;
  m.packetId = allocatePacketId(s);
  m.state = 'inflight';
  writable(s, 'inflight').add(m);
  if (isPersistent(s)) {
    out.store.push(
      stored
        ? { op: 'updateMessage', clientId: s.clientId, seq: m.seq, state: 'inflight', packetId: m.packetId }
        : { op: 'putMessage', clientId: s.clientId, message: ownCopy(m) },
    );
  }
  send(s, m, false, out);
}

/** A routed message arrives for this session. */
export function deliver(
  s: SessionState,
  message: AppMessage,
  qos: QoS,
  retain: boolean,
  subscriptionIds: number[],
  now: number,
  limits: SessionLimits,
  out: SessionOutput,
): void {
  if (expired(message, now)) return; // [MQTT-3.3.2-5]
  accept(s, { seq: s.nextSeq++, state: 'queued', packetId: null, qos, retain, subscriptionIds, message }, limits, out);
}

/**
 * A routed message arrives for this session as a copy it shares with other sessions of its shard
 * (the shard delivers one publish to many offline sessions this way: one object instead of one
 * per session). `shared` is frozen, in state 'queued' without a packet id; its seq is the
 * session's next unless this publish already reached the session. The session never writes to
 * it, and makes its own copy when it sends it (startInflight).
 */
export function deliverShared(s: SessionState, shared: StoredMessage, now: number, limits: SessionLimits, out: SessionOutput): void {
  if (expired(shared.message, now)) return; // [MQTT-3.3.2-5]
  if (shared.seq < s.nextSeq) {
    // A second copy of the same publish for this session (a shared subscription besides its
    // own, MQTT 5.0 §4.8.2): the seq is taken, so this copy is the session's own.
    accept(s, ownCopy(shared, s.nextSeq++), limits, out);
    return;
  }
  s.nextSeq = shared.seq + 1;
  accept(s, shared, limits, out);
}

/**
 * deliverShared in the case a 'deliver' entry is built for: an offline persistent session, this
 * publish's first copy for it, room in its queue. Queues `shared` and returns true; the store op
 * (the putMessage deliverShared would add) is left to the caller, which writes one putShared for
 * all such sessions of the entry. In every other case it changes nothing and returns false: the
 * caller then calls deliverShared, which covers them all.
 */
export function queueSharedOffline(s: SessionState, shared: StoredMessage, now: number, limits: SessionLimits): boolean {
  if (s.connId !== null || !isPersistent(s) || shared.seq < s.nextSeq || expired(shared.message, now)) return false;
  const bytes = messageBytes(shared.message);
  if (overLimits(s, bytes, limits)) return false;
  s.nextSeq = shared.seq + 1;
  pushQueued(s, shared, bytes);
  return true;
}

function pushQueued(s: SessionState, m: StoredMessage, bytes: number): void {
  writable(s, 'queue').push(m);
  s.queuedBytes += bytes;
  if (m.qos === 0) s.queuedQos0++;
}

function accept(s: SessionState, m: StoredMessage, limits: SessionLimits, out: SessionOutput): void {
  const online = s.connId !== null;
  if (online && m.qos === 0 && s.queue.length === 0) {
    send(s, m, false, out);
    return;
  }
  if (online && m.qos > 0 && s.queue.length === 0 && s.inflight.length < windowSize(s, limits)) {
    startInflight(s, m, out, false);
    return;
  }
  enqueue(s, m, limits, out);
}

function overLimits(s: SessionState, extraBytes: number, limits: SessionLimits): boolean {
  if (limits.maxQueuedMessages > 0 && s.queue.length + 1 > limits.maxQueuedMessages) return true;
  if (limits.maxQueuedBytes > 0 && s.queuedBytes + extraBytes > limits.maxQueuedBytes) return true;
  return false;
}

/**
 * Queues a message within the session's limits. When full, the oldest queued QoS 0 message makes
 * room first; with none left, the new message is dropped (Mosquitto's choice: what is already
 * queued, possibly acknowledged to its publisher long ago, is kept). Every drop is an event.
 */
function enqueue(s: SessionState, m: StoredMessage, limits: SessionLimits, out: SessionOutput): void {
  const bytes = messageBytes(m.message);
  // A message larger than the whole byte budget never fits: evicting others for it would lose them for nothing.
  const neverFits = limits.maxQueuedBytes > 0 && bytes > limits.maxQueuedBytes;
  while (overLimits(s, bytes, limits)) {
    const dropped = neverFits || s.queuedQos0 === 0 ? undefined : writable(s, 'queue').removeOldestQos0();
    if (dropped === undefined) {
      out.effects.push({ type: 'event', name: 'session.queue.drop', clientId: s.clientId, detail: `queue full: dropped new QoS ${m.qos} message on ${m.message.topic}` });
      return;
    }
    s.queuedBytes -= messageBytes(dropped.message);
    s.queuedQos0--; // victims are QoS 0
    if (isPersistent(s)) out.store.push({ op: 'deleteMessage', clientId: s.clientId, seq: dropped.seq });
    out.effects.push({ type: 'event', name: 'session.queue.drop', clientId: s.clientId, detail: `queue full: dropped oldest QoS 0 message on ${dropped.message.topic}` });
  }
  pushQueued(s, m, bytes);
  // The store plans ops later (see SessionStore.apply): an own copy may change state before that,
  // a shared one never does.
  if (isPersistent(s)) out.store.push({ op: 'putMessage', clientId: s.clientId, message: Object.isFrozen(m) ? m : ownCopy(m) });
}

/** Sends queued messages while the client is online and the window has room. */
export function drain(s: SessionState, now: number, limits: SessionLimits, out: SessionOutput): void {
  if (s.connId === null) return;
  const window = windowSize(s, limits);
  for (let m = s.queue.peek(); m !== undefined; m = s.queue.peek()) {
    if (m.qos > 0 && s.inflight.length >= window) return;
    writable(s, 'queue').shift();
    s.queuedBytes -= messageBytes(m.message);
    if (m.qos === 0) s.queuedQos0--;
    if (expired(m.message, now)) {
      // [MQTT-3.3.2-5] an expired message is not sent
      if (isPersistent(s)) out.store.push({ op: 'deleteMessage', clientId: s.clientId, seq: m.seq });
      continue;
    }
    if (m.qos === 0) {
      send(s, m, false, out);
      if (isPersistent(s)) out.store.push({ op: 'deleteMessage', clientId: s.clientId, seq: m.seq });
    } else {
      startInflight(s, m, out, isPersistent(s));
    }
  }
}

/** On resume: resend unacknowledged PUBLISH with DUP and PUBREL, in the original order [MQTT-4.4.0-1]. */
export function redeliver(s: SessionState, out: SessionOutput): void {
  if (s.connId === null) return;
  for (const m of s.inflight) {
    if (m.state === 'released') {
      out.effects.push({ type: 'packet', connId: s.connId, packet: { cmd: 'pubrel', messageId: m.packetId! } });
    } else {
      send(s, m, true, out); // [MQTT-3.3.1-1] DUP on redelivery
    }
  }
}

function removeInflight(s: SessionState, m: StoredMessage, out: SessionOutput): void {
  writable(s, 'inflight').delete(m.packetId!);
  if (isPersistent(s)) out.store.push({ op: 'deleteMessage', clientId: s.clientId, seq: m.seq });
}

export function onPuback(s: SessionState, packetId: number, now: number, limits: SessionLimits, out: SessionOutput): void {
  const m = s.inflight.get(packetId);
  if (m === undefined || m.qos !== 1) {
    out.effects.push({ type: 'event', name: 'session.ack.unknown', clientId: s.clientId, detail: `PUBACK for unknown packet id ${packetId}` });
    return;
  }
  removeInflight(s, m, out);
  drain(s, now, limits, out);
}

export function onPubrec(s: SessionState, packetId: number, reasonCode: number, now: number, limits: SessionLimits, out: SessionOutput): void {
  const m = s.inflight.get(packetId);
  if (m === undefined || m.qos !== 2) {
    // [MQTT-4.3.3-?] answer anyway so the client can finish its flow
    if (s.connId !== null) {
      const packet = s.protocolVersion === 5
        ? { cmd: 'pubrel' as const, messageId: packetId, reasonCode: ReasonCode.PacketIdentifierNotFound }
        : { cmd: 'pubrel' as const, messageId: packetId };
      out.effects.push({ type: 'packet', connId: s.connId, packet });
    }
    return;
  }
  if (reasonCode >= 0x80) {
    // v5: a failed PUBREC ends the flow for this message [MQTT-4.3.3-?]
    removeInflight(s, m, out);
    drain(s, now, limits, out);
    return;
  }
  if (m.state !== 'released') {
    m.state = 'released';
    if (isPersistent(s)) out.store.push({ op: 'updateMessage', clientId: s.clientId, seq: m.seq, state: 'released', packetId });
  }
  if (s.connId !== null) out.effects.push({ type: 'packet', connId: s.connId, packet: { cmd: 'pubrel', messageId: packetId } });
}

export function onPubcomp(s: SessionState, packetId: number, now: number, limits: SessionLimits, out: SessionOutput): void {
  const m = s.inflight.get(packetId);
  if (m === undefined || m.state !== 'released') {
    out.effects.push({ type: 'event', name: 'session.ack.unknown', clientId: s.clientId, detail: `PUBCOMP for unknown packet id ${packetId}` });
    return;
  }
  removeInflight(s, m, out);
  drain(s, now, limits, out);
}

/** The client can never receive this packet (too large for it): complete it silently [MQTT-3.1.2-25]. */
export function onDiscarded(s: SessionState, packetId: number, now: number, limits: SessionLimits, out: SessionOutput): void {
  const m = s.inflight.get(packetId);
  if (m === undefined) return;
  removeInflight(s, m, out);
  drain(s, now, limits, out);
}

/**
 * Drops expired messages from the queue (called on resume; drain drops the others it reaches).
 * Costs O(log n) per expired message, nothing for the rest of the queue (MessageQueue's heap).
 */
export function purgeExpired(s: SessionState, now: number, out: SessionOutput): void {
  if (s.queue.length === 0) return;
  for (const m of writable(s, 'queue').removeExpired(now)) {
    s.queuedBytes -= messageBytes(m.message);
    if (m.qos === 0) s.queuedQos0--;
    if (isPersistent(s)) out.store.push({ op: 'deleteMessage', clientId: s.clientId, seq: m.seq });
  }
}
