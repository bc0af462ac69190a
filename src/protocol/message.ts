// The application message as it travels through Shoal: plain data only, so it crosses the
// thread boundary (structured clone) and, later, the cluster's gRPC boundary unchanged.

export type QoS = 0 | 1 | 2;
export type ProtocolVersion = 3 | 4 | 5;
export type UserProperties = Record<string, string | string[]>;

/** PUBLISH properties that are forwarded to subscribers unchanged [MQTT-3.3.2-15..20]. */
export interface ForwardedProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Uint8Array;
  userProperties?: UserProperties;
}

export interface AppMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  properties?: ForwardedProperties;
  /** Epoch ms after which the message is dropped; from v5 Message Expiry Interval. */
  expiresAt?: number;
  /** Client id of the publisher: No Local [MQTT-3.8.3-3] and logs. */
  publisherId: string;
}

export interface SubscriptionOptions {
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  /** v5 Subscription Identifier (1..268,435,455), absent when none was given. */
  subscriptionId?: number;
}

/** What the router decides for one session and one published message. A session matched through
 * non-shared subscriptions gets one Delivery carrying all their identifiers; each shared group
 * it is picked for adds a separate Delivery (shared subscriptions are independent copies). */
export interface Delivery {
  clientId: string;
  /** min(message QoS, highest granted QoS among the matching subscriptions) [MQTT-3.3.4-2]. */
  qos: QoS;
  /** Retain flag to send: message.retain only if a matching subscription has Retain As Published. */
  retain: boolean;
  /** v5: identifiers of every matching subscription that has one [MQTT-3.3.4-3]. */
  subscriptionIds: number[];
}

/** The will of a session, with its topic already validated. */
export interface WillMessage {
  /** `expiresAt` is unset: the will's expiry counts from when it is published. */
  message: AppMessage;
  /** v5 Will Delay Interval in seconds (0 for 3.1.1). */
  delaySec: number;
  /** v5 Message Expiry Interval of the will, in seconds, applied when it is published. */
  messageExpirySec?: number;
}

/** Remaining message expiry in whole seconds, at least 1, for forwarding [MQTT-3.3.2-6]. */
export function remainingExpirySec(expiresAt: number, now: number): number {
  return Math.max(1, Math.ceil((expiresAt - now) / 1000));
}

/**
 * A copy of `m` whose payload and correlation data own exactly their bytes. Parsed packets are
 * views into the socket's read buffer (64 KiB): postMessage clones a view's whole underlying
 * ArrayBuffer, and a stored view keeps the whole buffer alive. Use before either.
 */
export function compactMessage(m: AppMessage): AppMessage {
  // A copy in its own exactly sized ArrayBuffer. A Buffer, so a main-thread shard's deliveries
  // are written without wrapping (across a thread it arrives as a plain Uint8Array either way).
  const payload = Buffer.allocUnsafeSlow(m.payload.byteLength);
  payload.set(m.payload);
  const cd = m.properties?.correlationData;
  if (cd === undefined) return { ...m, payload };
  return { ...m, payload, properties: { ...m.properties, correlationData: new Uint8Array(cd) } };
}
