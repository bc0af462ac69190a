// Checks on packets a client sends, beyond what mqtt-packet's parser enforces. Each throws a
// ProtocolViolation; the Connection turns it into a close with that reason code.

import { isUtf8 } from 'node:buffer';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import type { ProtocolVersion } from '../protocol/message.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { repeatedProperty } from '../protocol/connect.js';
import { NO_TOPIC_LIMITS, validateTopicName, type TopicLimits } from '../routing/topic.js';
import { ProtocolViolation } from './errors.js';

/** Topic aliases a client defines towards us (client → server direction, §3.3.2.3.4). */
export class InboundTopicAliases {
  /** Created on the first alias: most connections never use one (idle memory per connection). */
  private topics: Map<number, string> | null = null;

  constructor(readonly maximum: number) {}

  get(alias: number): string | undefined {
    return this.topics?.get(alias);
  }

  set(alias: number, topic: string): void {
    (this.topics ??= new Map()).set(alias, topic);
  }
}

/** Packets only a server sends; receiving one is a protocol error. */
const serverOnly = new Set(['connack', 'suback', 'unsuback', 'pingresp']);

/** Structural checks that apply to every packet after CONNECT. */
export function checkPacket(packet: Packet, protocolVersion: ProtocolVersion): void {
  if (serverOnly.has(packet.cmd)) {
    throw new ProtocolViolation(ReasonCode.ProtocolError, `a client must not send ${packet.cmd.toUpperCase()}`);
  }
  const props = (packet as { properties?: object }).properties;
  if (protocolVersion === 5 && props !== undefined) {
    const dup = repeatedProperty(props);
    if (dup !== null) {
      throw new ProtocolViolation(ReasonCode.ProtocolError, `${packet.cmd.toUpperCase()} property ${dup} appears more than once`);
    }
    const broken = truncatedProperty(props);
    if (broken !== null) {
      throw new ProtocolViolation(ReasonCode.MalformedPacket, `${packet.cmd.toUpperCase()} property ${broken} is truncated`);
    }
  }
  switch (packet.cmd) {
    case 'publish':
      if (packet.qos > 0) requirePacketId(packet);
      break;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      requirePacketId(packet);
      break;
    case 'subscribe':
      requirePacketId(packet);
      if (packet.subscriptions.length === 0) {
        throw new ProtocolViolation(ReasonCode.ProtocolError, 'SUBSCRIBE without topic filters'); // [MQTT-3.8.3-3]
      }
      break;
    case 'unsubscribe':
      requirePacketId(packet);
      if (packet.unsubscriptions.length === 0) {
        throw new ProtocolViolation(ReasonCode.ProtocolError, 'UNSUBSCRIBE without topic filters'); // [MQTT-3.10.3-2]
      }
      break;
    default:
      break;
  }
}

function requirePacketId(packet: Packet): void {
  const id = packet.messageId;
  if (id === undefined || id === 0) {
    // [MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1])
    throw new ProtocolViolation(ReasonCode.ProtocolError, `${packet.cmd.toUpperCase()} with packet identifier 0`);
  }
}

/**
 * mqtt-packet stores a property whose value ran past the packet end as null or -1 instead of
 * failing; such a packet is malformed.
 */
function truncatedProperty(props: object): string | null {
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === -1) return key;
    if (key === 'subscriptionIdentifier' && typeof value !== 'number') return key;
    if (key === 'userProperties' && typeof value === 'object') {
      // A value that ran past the end comes back as null, alone or inside a repeated name's array.
      for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
        if (Array.isArray(v) ? v.some((x) => typeof x !== 'string') : typeof v !== 'string') return `userProperties.${name}`;
      }
    }
  }
  return null;
}

/**
 * Resolves and validates an inbound PUBLISH in place: after it returns, `packet.topic` is the
 * full topic name and the Topic Alias property is gone. A topic beyond `topicLimits` is refused
 * like an invalid one: v5 DISCONNECT 0x90 ("correctly formed, but not accepted by this Server",
 * §3.14.2.1), 3.1.1 a close; EMQX disconnects on its max_topic_levels the same way.
 */
export function checkPublish(
  packet: IPublishPacket,
  protocolVersion: ProtocolVersion,
  aliases: InboundTopicAliases,
  topicLimits: TopicLimits = NO_TOPIC_LIMITS,
): void {
  const props = packet.properties;
  if (protocolVersion === 5 && props !== undefined) {
    if (props.subscriptionIdentifier !== undefined) {
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'PUBLISH from a client carries a Subscription Identifier'); // [MQTT-3.3.4-6]
    }
    const alias = props.topicAlias;
    if (alias !== undefined) {
      if (alias === 0 || alias > aliases.maximum) {
        throw new ProtocolViolation(
          ReasonCode.TopicAliasInvalid,
          `topic alias ${alias} is outside 1..${aliases.maximum}`,
        ); // [MQTT-3.3.2-8], [MQTT-3.3.2-9]
      }
      if (packet.topic === '') {
        const known = aliases.get(alias);
        if (known === undefined) {
          throw new ProtocolViolation(ReasonCode.ProtocolError, `topic alias ${alias} used before it was set`); // §3.3.4
        }
        packet.topic = known;
      } else {
        checkTopic(packet.topic, topicLimits);
        aliases.set(alias, packet.topic);
      }
      delete props.topicAlias;
    }
  }
  checkTopic(packet.topic, topicLimits);
  if (protocolVersion === 5 && props?.payloadFormatIndicator === true) {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    if (!isUtf8(payload)) {
      // [MQTT-3.3.2-4] is the receiver's right to check; EMQX and Mosquitto disconnect too.
      throw new ProtocolViolation(ReasonCode.PayloadFormatInvalid, 'payload is not UTF-8 but its Payload Format Indicator says so');
    }
  }
}

function checkTopic(topic: string, limits: TopicLimits): void {
  const error = validateTopicName(topic, limits); // [MQTT-3.3.2-1], [MQTT-3.3.2-2]
  if (error !== null) throw new ProtocolViolation(ReasonCode.TopicNameInvalid, `PUBLISH ${error}`);
}
