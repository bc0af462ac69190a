// The storage contract. Each shard owns one SessionStore (one SQLite file per shard); the node
// owns one RetainedStore. Both have a memory and a SQLite implementation that pass the same
// contract suite (test/unit/storage/*.contract.ts).
import type { AppMessage, ProtocolVersion, QoS, SubscriptionOptions, WillMessage } from '../protocol/message.js';

/** Outbound message state of a persistent session, in delivery order (by seq). */
export type StoredMessageState =
  | 'queued' // waiting for the client to be online and the inflight window to open
  | 'inflight' // PUBLISH sent (QoS 1/2), waiting for PUBACK/PUBREC; resent with DUP on resume
  | 'released'; // QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP

export interface StoredMessage {
  /** Per-session, strictly increasing: the delivery order. */
  seq: number;
  state: StoredMessageState;
  /** Assigned when the message enters the inflight window; null while queued. */
  packetId: number | null;
  /** Delivery QoS (already min'd with the subscription). */
  qos: QoS;
  retain: boolean;
  subscriptionIds: number[];
  message: AppMessage;
}

export interface SessionMeta {
  clientId: string;
  /** The user the session belongs to (SessionState.username); null: anonymous. */
  username: string | null;
  protocolVersion: ProtocolVersion;
  /** Session Expiry Interval in seconds; 0xFFFFFFFF never expires. */
  expiryIntervalSec: number;
  /** Epoch ms of the last disconnect; null while connected. */
  disconnectedAt: number | null;
  /** A will still pending (delayed) when the session is offline; null otherwise. */
  will: WillMessage | null;
}

export interface StoredSession {
  meta: SessionMeta;
  subscriptions: Record<string, SubscriptionOptions>;
  /** Inbound QoS 2 packet ids that got PUBREC and wait for PUBREL. */
  inboundQos2: number[];
  /** Sorted by seq. */
  messages: StoredMessage[];
}

/** One change to a shard's persistent sessions. A batch of ops is applied in one transaction. */
export type StoreOp =
  | { op: 'putMeta'; meta: SessionMeta }
  | { op: 'deleteSession'; clientId: string } // with its subscriptions, messages and qos2 ids
  | { op: 'putSubscription'; clientId: string; filter: string; options: SubscriptionOptions }
  | { op: 'deleteSubscription'; clientId: string; filter: string }
  | { op: 'putMessage'; clientId: string; message: StoredMessage }
  /** putMessage of one StoredMessage for each of `clientIds` (a shard's 'deliver' entry to offline sessions). */
  | { op: 'putShared'; clientIds: string[]; message: StoredMessage }
  | { op: 'updateMessage'; clientId: string; seq: number; state: StoredMessageState; packetId: number | null }
  | { op: 'deleteMessage'; clientId: string; seq: number }
  | { op: 'putQos2'; clientId: string; packetId: number }
  | { op: 'deleteQos2'; clientId: string; packetId: number };

export interface SessionStore {
  /** Everything persisted, for the shard to rebuild its sessions at start. */
  loadAll(): Promise<StoredSession[]>;
  /** Applies all ops atomically (one transaction). Resolves once durable. */
  apply(ops: readonly StoreOp[]): Promise<void>;
  close(): Promise<void>;
}

export interface RetainedStore {
  loadAll(): Promise<AppMessage[]>;
  /** Replace (or with `message === null`, delete) the retained message of each topic, atomically. */
  apply(changes: readonly { topic: string; message: AppMessage | null }[]): Promise<void>;
  close(): Promise<void>;
}
