// From parsed MQTT packets to Shoal's plain data: the application message of a PUBLISH, the will
// of a CONNECT, the requests of a SUBSCRIBE. Pure.
import type { IConnectPacket, IPublishPacket, ISubscribePacket } from 'mqtt-packet';
import type { SubscribeRequest } from '../actors/session-types.js';
import { compactMessage, type AppMessage, type ForwardedProperties, type QoS, type SubscriptionOptions, type WillMessage } from '../protocol/message.js';

function forwardedProperties(p: IPublishPacket['properties']): ForwardedProperties | undefined {
  if (p === undefined) return undefined;
  const out: ForwardedProperties = {};
  // [MQTT-3.3.2-4, -15..-20] forwarded unaltered
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = p.correlationData;
  if (p.userProperties !== undefined) out.userProperties = p.userProperties;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The message of an inbound PUBLISH (its payload still a view into the socket buffer). */
export function messageFromPublish(packet: IPublishPacket, publisherId: string, now: number): AppMessage {
  const message: AppMessage = {
    topic: packet.topic,
    payload: typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload,
    qos: packet.qos,
    retain: packet.retain,
    publisherId,
  };
  const fp = forwardedProperties(packet.properties);
  if (fp) message.properties = fp;
  const expiry = packet.properties?.messageExpiryInterval;
  if (expiry !== undefined) message.expiresAt = now + expiry * 1000; // [MQTT-3.3.2-5]
  return message;
}

/** The will of a CONNECT, compacted (it crosses to the shard and may be kept for long). */
export function willFromConnect(packet: IConnectPacket, clientId: string): WillMessage | null {
  const w = packet.will;
  if (!w) return null;
  const props = w.properties;
  const message: AppMessage = {
    topic: w.topic,
    payload: typeof w.payload === 'string' ? Buffer.from(w.payload) : w.payload,
    qos: (w.qos ?? 0) as QoS,
    retain: w.retain ?? false,
    publisherId: clientId,
  };
  const fp = forwardedProperties(props as IPublishPacket['properties']);
  if (fp) message.properties = fp;
  const will: WillMessage = { message: compactMessage(message), delaySec: props?.willDelayInterval ?? 0 };
  if (props?.messageExpiryInterval !== undefined) will.messageExpirySec = props.messageExpiryInterval;
  return will;
}

/** The requests of a SUBSCRIBE; its Subscription Identifier applies to every filter [MQTT-3.8.2-?]. */
export function subscribeRequests(packet: ISubscribePacket): SubscribeRequest[] {
  const subscriptionId = packet.properties?.subscriptionIdentifier;
  const id = Array.isArray(subscriptionId) ? subscriptionId[0] : subscriptionId;
  return packet.subscriptions.map((s) => {
    const options: SubscriptionOptions = {
      qos: Math.min(s.qos, 2) as QoS, // granted = min(requested, our maximum 2)
      noLocal: s.nl ?? false,
      retainAsPublished: s.rap ?? false,
      retainHandling: (s.rh ?? 0) as 0 | 1 | 2,
    };
    if (id !== undefined) options.subscriptionId = id;
    return { filter: s.topic, options };
  });
}
