// The session actor's vocabulary: its state (plain, serialisable data: the cluster's takeover will
// move exactly this object between nodes), the events it handles and the effects it returns.
import type { IPubcompPacket, IPubrecPacket, IPubrelPacket, ISubackPacket, IUnsubackPacket } from 'mqtt-packet';
import type { AppMessage, ProtocolVersion, QoS, SubscriptionOptions, WillMessage } from '../protocol/message.js';
import type { TopicLimits } from '../routing/topic.js';
import type { StoredMessage, StoreOp } from '../storage/types.js';
import { InflightWindow, type ReadonlyInflightWindow } from './inflight-window.js';
import { MessageQueue, type ReadonlyMessageQueue } from './message-queue.js';

/** Session Expiry Interval meaning "never expires" [MQTT-3.1.2-?] (§3.1.2.11.2). */
export const SESSION_NEVER_EXPIRES = 0xffffffff;

export interface SessionLimits {
  /** Our cap on the outbound inflight window; the client's Receive Maximum may lower it. */
  readonly maxInflight: number;
  /** Per-session queue caps; 0 = unlimited. */
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  /** Per-client subscription cap; 0 = unlimited. */
  readonly maxSubscriptions: number;
  /** Bounds on subscribed filters (SUBACK 0x8F beyond them); absent = the protocol's only. */
  readonly topicLimits?: TopicLimits;
}

export interface SessionState {
  clientId: string;
  /**
   * The user name the session belongs to (the authenticated user, or the CONNECT User Name when
   * nothing authenticates it); null for an anonymous client. With the owner check on, only this
   * user may resume or take over the session.
   */
  username: string | null;
  protocolVersion: ProtocolVersion;
  /** 0: the session ends with the connection; SESSION_NEVER_EXPIRES: never. */
  expiryIntervalSec: number;
  /** The live connection, or null while offline. */
  connId: number | null;
  disconnectedAt: number | null;
  /** The client's Receive Maximum (v5), 65535 otherwise. */
  clientReceiveMaximum: number;
  /** Readonly, like the lists below: written through writable() (see NO_MESSAGES). */
  subscriptions: Readonly<Record<string, SubscriptionOptions>>;
  /**
   * The number of keys of `subscriptions`, kept with it: counting them (Object.keys) for each
   * SUBSCRIBE made a client that subscribes one filter per packet quadratic (50,000 packets: 48 s).
   */
  subscriptionCount: number;
  /** Inbound QoS 2 packet ids that got PUBREC, waiting for PUBREL. */
  inboundQos2: readonly number[];
  /** Sent and unacknowledged, by packet id in send order (state 'inflight' or 'released'). */
  inflight: ReadonlyInflightWindow;
  /** Waiting for the window to open or the client to come back, in arrival (= seq) order. */
  queue: ReadonlyMessageQueue;
  queuedBytes: number;
  /** QoS 0 messages in `queue`: whether the node's QoS 0 fast path must wait, without a scan. */
  queuedQos0: number;
  nextSeq: number;
  nextPacketId: number;
  /** The will of the current (or last) connection; null once published or discarded. */
  will: WillMessage | null;
  /** When a delayed will is due (offline only), else null. */
  willDueAt: number | null;
  /** When the offline session expires, else null. */
  expiresAt: number | null;
}

/**
 * The session as exported for takeover (exportSession): plain data, structured-cloneable and
 * JSON-safe but for bytes, with the queue and the inflight window as arrays in their order.
 */
export type SessionSnapshot = Omit<SessionState, 'queue' | 'inflight'> & {
  queue: StoredMessage[];
  inflight: StoredMessage[];
};

/**
 * The empty queue, window, list and subscriptions a new session starts with, shared by every
 * session until its first write to them: an idle session then keeps no objects of its own (they
 * are ~150 bytes of heap or more per session). Frozen, and read-only in SessionState, so a write
 * has to go through writable(); one that does not fails to compile, and failing that throws,
 * instead of reaching every session.
 */
export const NO_QUEUE: ReadonlyMessageQueue = MessageQueue.frozenEmpty();
export const NO_INFLIGHT: ReadonlyInflightWindow = InflightWindow.frozenEmpty();
export const NO_PACKET_IDS: readonly number[] = Object.freeze([]);
export const NO_SUBSCRIPTIONS: Readonly<Record<string, SubscriptionOptions>> = Object.freeze({});

type Writable = {
  inflight: InflightWindow;
  queue: MessageQueue;
  inboundQos2: number[];
  subscriptions: Record<string, SubscriptionOptions>;
};

function emptyOwn<K extends keyof Writable>(key: K): Writable[K] {
  switch (key) {
    case 'queue':
      return new MessageQueue() as Writable[K];
    case 'inflight':
      return new InflightWindow() as Writable[K];
    case 'inboundQos2':
      return [] as number[] as Writable[K];
    default:
      return {} as Writable[K];
  }
}

/** `s[key]` to write to: the session's own, made on the first write (see NO_QUEUE). */
export function writable<K extends keyof Writable>(s: SessionState, key: K): Writable[K] {
  const current: unknown = s[key];
  if (current !== NO_QUEUE && current !== NO_INFLIGHT && current !== NO_PACKET_IDS && current !== NO_SUBSCRIPTIONS) {
    // Only the shared empties are read-only; every other value is the session's own.
    return current as Writable[K];
  }
  const own = emptyOwn(key);
  (s as unknown as Writable)[key] = own; // the same fields, seen as writable
  return own;
}

export type DisconnectKind = 'normal' | 'will' | 'abnormal' | 'takeover' | 'server';

export interface SubscribeRequest {
  filter: string;
  options: SubscriptionOptions;
  /** Set by the main thread when the ACL refuses this filter: SUBACK 0x87 (3.1.1: 0x80). */
  denied?: true;
}

export type SessionEvent =
  | {
      type: 'connect';
      connId: number;
      clientId: string;
      protocolVersion: ProtocolVersion;
      cleanStart: boolean;
      /** v5 Session Expiry Interval; for 3.1.1: 0 if clean, else SESSION_NEVER_EXPIRES. */
      expiryIntervalSec: number;
      receiveMaximum: number;
      will: WillMessage | null;
      /** Who connects (see SessionState.username). */
      username: string | null;
      /** Refuse (0x87) resuming or taking over a session of another user name. */
      ownerCheck: boolean;
    }
  | { type: 'deliver'; message: AppMessage; qos: QoS; retain: boolean; subscriptionIds: number[] }
  | { type: 'puback'; connId: number; packetId: number }
  | { type: 'pubrec'; connId: number; packetId: number; reasonCode: number }
  | { type: 'pubcomp'; connId: number; packetId: number }
  /** The client will never see this packet (larger than its Maximum Packet Size): treat as done [MQTT-3.1.2-25]. */
  | { type: 'discarded'; connId: number; packetId: number }
  | { type: 'qos2Check'; connId: number; packetId: number }
  | { type: 'qos2Routed'; connId: number; packetId: number; reasonCode: number }
  | { type: 'pubrel'; connId: number; packetId: number }
  | { type: 'subscribe'; connId: number; packetId: number; requests: SubscribeRequest[] }
  | { type: 'unsubscribe'; connId: number; packetId: number; filters: string[] }
  | { type: 'disconnect'; connId: number; kind: DisconnectKind; expiryIntervalSec?: number }
  | { type: 'timer' };

export interface OutgoingPublishSpec {
  message: AppMessage;
  qos: QoS;
  packetId?: number;
  dup: boolean;
  retain: boolean;
  subscriptionIds: number[];
}

export type AckPacket = IPubrecPacket | IPubrelPacket | IPubcompPacket | ISubackPacket | IUnsubackPacket;

export type SessionEffect =
  | { type: 'connack'; connId: number; clientId: string; sessionPresent: boolean }
  /**
   * Whether QoS 0 messages may bypass this actor and be written to the connection directly (the
   * node's fast path): only while no QoS 0 message waits in the queue, so the fast path cannot
   * overtake one [MQTT-4.6.0-6]. Emitted after every connect and on every change.
   */
  | { type: 'flow'; connId: number; clientId: string; direct: boolean }
  | { type: 'publish'; connId: number; publish: OutgoingPublishSpec }
  | { type: 'packet'; connId: number; packet: AckPacket }
  | { type: 'close'; connId: number; reasonCode: number; detail: string }
  | { type: 'route'; message: AppMessage }
  /**
   * Route changes the session makes on its own: its restored subscriptions (`add`), or its end
   * (`removeAll`). Those of SUBSCRIBE and UNSUBSCRIBE the main thread applies when it reads them.
   * A restored or installed session also says whose it is (`username`), for the ACL at delivery.
   */
  | { type: 'routes'; clientId: string; add: SubscribeRequest[]; removeAll: boolean; username?: string | null }
  | { type: 'qos2Status'; connId: number; clientId: string; packetId: number; duplicate: boolean }
  /** Observability: a structured event with a stable name (pino line in production). */
  | { type: 'event'; name: string; clientId: string; detail: string }
  /** The answer to a TakeoverRequest, released once what it did is durable. */
  | { type: 'takeover'; clientId: string; reply: TakeoverReply };

/**
 * The shard's part of a cross-node takeover (src/cluster/takeover.ts), asked by the cluster
 * layer with the takeover's id. Old node: 'export' (close the connection 0x8E, export; later
 * deliveries queue in the detached session), then 'drop' (hand over what arrived since the
 * export and delete the session) or 'resume' (the takeover failed: the session stays). New node:
 * 'install' (store the moved state, add its routes), and 'drop' to undo it.
 */
export type TakeoverRequest =
  | { op: 'export'; id: string; discard: boolean }
  | { op: 'install'; id: string; session: SessionSnapshot }
  /** `handover`: the old node's drop after `end` (refused, `ok` false, when this shard no longer
   * holds that export, e.g. it restarted: what arrived since is unknown, so the session stays). */
  | { op: 'drop'; id: string; handover: boolean }
  | { op: 'resume'; id: string }
  /** New node: what the old node took in after the export, queued ahead of what came here since
   * the install (takeArrived). No answer. */
  | { op: 'arrived'; id: string; messages: StoredMessage[] };

export type TakeoverReply =
  /** null: no session here, or it ended instead of moving (Clean Start, expiry 0). */
  | { op: 'exported'; id: string; session: SessionSnapshot | null }
  /** `ok` false: a live session with that client id is here (detail says why it was refused). */
  | { op: 'installed'; id: string; ok: boolean; detail: string }
  /** `arrived`: the copies queued since the export, in order, for the new node to deliver. */
  | { op: 'dropped'; id: string; ok: boolean; arrived: StoredMessage[] }
  | { op: 'resumed'; id: string };

/** Everything one transition asks its shell to do, in order. */
export interface SessionOutput {
  effects: SessionEffect[];
  store: StoreOp[];
}

export function newOutput(): SessionOutput {
  return { effects: [], store: [] };
}

/** The earliest timer this session needs, or null. */
export function nextDeadline(s: SessionState): number | null {
  if (s.willDueAt !== null && s.expiresAt !== null) return Math.min(s.willDueAt, s.expiresAt);
  return s.willDueAt ?? s.expiresAt;
}
