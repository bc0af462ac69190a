// Outgoing PUBLISH packets: building them from an AppMessage, and a per-message cache so a QoS 0
// fan-out encodes identical packets once. Two subscribers get identical bytes when they share the
// protocol family (v5, or 3.1/3.1.1 which encode PUBLISH alike), the retain flag, the subscription
// identifiers and the remaining expiry in seconds; the cache key is exactly that tuple.

import type { IPublishPacket } from 'mqtt-packet';
import type { AppMessage, ProtocolVersion, QoS } from '../protocol/message.js';
import { remainingExpirySec } from '../protocol/message.js';
import { encodePacket } from '../protocol/codec.js';

export interface OutgoingPublish {
  message: AppMessage;
  qos: QoS;
  /** Required when qos > 0. */
  packetId?: number;
  dup: boolean;
  retain: boolean;
  /** v5 Subscription Identifiers of the matching subscriptions [MQTT-3.3.4-3]. */
  subscriptionIds: number[];
}

export type SendResult = 'sent' | 'dropped-too-large' | 'dropped-slow';

/** How the topic travels: in full, in full while defining an alias, or as an alias alone. */
export interface TopicAliasUse {
  alias: number;
  /** False when the alias is already known to the client: the topic is sent empty. */
  sendTopic: boolean;
}

/**
 * Bytes of QoS 0 PUBLISH packets for ONE message, shared by every connection it is fanned out to
 * during one delivery pass. Create one per message; do not keep it (it holds the encoded bytes).
 */
export class PublishEncodeCache {
  private readonly encoded = new Map<string, Buffer>();

  constructor(readonly message: AppMessage) {}

  get size(): number {
    return this.encoded.size;
  }

  /** Encoded bytes for this key, encoding them with `encode` the first time. */
  getOrEncode(key: string, encode: () => Buffer): Buffer {
    let buf = this.encoded.get(key);
    if (buf === undefined) {
      buf = encode();
      this.encoded.set(key, buf);
    }
    return buf;
  }
}

export function publishCacheKey(protocolVersion: ProtocolVersion, p: OutgoingPublish, expirySec: number | undefined): string {
  // 3.1 and 3.1.1 PUBLISH packets carry no properties: only the retain flag matters.
  if (protocolVersion !== 5) return p.retain ? 'v4|r' : 'v4|-';
  return `v5|${p.retain ? 'r' : '-'}|${p.subscriptionIds.join(',')}|${expirySec ?? ''}`;
}

/** Seconds of Message Expiry Interval to send, or undefined when the message does not expire. */
export function expiryToSend(protocolVersion: ProtocolVersion, message: AppMessage, now: number): number | undefined {
  if (protocolVersion !== 5 || message.expiresAt === undefined) return undefined;
  return remainingExpirySec(message.expiresAt, now); // [MQTT-3.3.2-6]
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** The mqtt-packet PUBLISH for one subscriber; v3 clients get no properties at all. */
export function buildPublishPacket(
  p: OutgoingPublish,
  protocolVersion: ProtocolVersion,
  expirySec: number | undefined,
  alias?: TopicAliasUse,
): IPublishPacket {
  const m = p.message;
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic: alias !== undefined && !alias.sendTopic ? '' : m.topic,
    payload: toBuffer(m.payload),
    qos: p.qos,
    dup: p.qos > 0 && p.dup, // [MQTT-3.3.1-2]
    retain: p.retain,
  };
  if (p.qos > 0) packet.messageId = p.packetId;
  if (protocolVersion !== 5) return packet;

  const props: NonNullable<IPublishPacket['properties']> = {};
  const f = m.properties;
  if (f !== undefined) {
    // Forwarded unchanged [MQTT-3.3.2-4], [MQTT-3.3.2-17], [MQTT-3.3.2-18], [MQTT-3.3.2-19], [MQTT-3.3.2-20]
    if (f.payloadFormatIndicator !== undefined) props.payloadFormatIndicator = f.payloadFormatIndicator;
    if (f.contentType !== undefined) props.contentType = f.contentType;
    if (f.responseTopic !== undefined) props.responseTopic = f.responseTopic;
    if (f.correlationData !== undefined) props.correlationData = toBuffer(f.correlationData);
    if (f.userProperties !== undefined) props.userProperties = f.userProperties;
  }
  if (expirySec !== undefined) props.messageExpiryInterval = expirySec;
  if (alias !== undefined) props.topicAlias = alias.alias;
  if (p.subscriptionIds.length === 1) props.subscriptionIdentifier = p.subscriptionIds[0]!;
  else if (p.subscriptionIds.length > 1) props.subscriptionIdentifier = p.subscriptionIds.slice();
  packet.properties = props;
  return packet;
}

export function encodePublish(
  p: OutgoingPublish,
  protocolVersion: ProtocolVersion,
  expirySec: number | undefined,
  alias?: TopicAliasUse,
): Buffer {
  return encodePacket(buildPublishPacket(p, protocolVersion, expirySec, alias), protocolVersion);
}

/**
 * Topic aliases this server assigns towards one client (server → client direction, §3.3.2.3.4).
 * Policy: the first `maximum` distinct topics get aliases 1..maximum for the life of the
 * connection; once all are used the mapping never changes and further topics go in full.
 * No eviction keeps it deterministic and avoids re-sending full topics for hot ones.
 */
export class OutboundTopicAliases {
  private readonly byTopic = new Map<string, number>();

  constructor(private readonly maximum: number) {}

  /** What to send for `topic`; call `commit` once that packet was actually written. */
  lookup(topic: string): TopicAliasUse | undefined {
    const known = this.byTopic.get(topic);
    if (known !== undefined) return { alias: known, sendTopic: false };
    if (this.byTopic.size < this.maximum) return { alias: this.byTopic.size + 1, sendTopic: true };
    return undefined;
  }

  commit(topic: string, use: TopicAliasUse): void {
    if (use.sendTopic) this.byTopic.set(topic, use.alias);
  }
}
