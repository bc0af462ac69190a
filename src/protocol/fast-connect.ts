// Hand-written decode of the CONNECT packet, used before mqtt-packet (see fast-codec.ts for the
// same idea on PUBLISH and acks). A connect-rate profile showed mqtt-packet's generic parse (its
// BufferList slices, `debug` calls and per-field bounds bookkeeping) as the largest piece of
// Shoal's own code in a handshake, and ~2 KB of garbage per CONNECT. This answers only for the
// shapes real clients send (3.1, 3.1.1, and 5.0 with no or a few numeric properties and empty
// will properties) and returns null for everything else, errors included, so mqtt-packet still
// decides those; a property test checks that the output is exactly mqtt-packet's wherever this
// answers.
import type { IConnectPacket } from 'mqtt-packet';

/** CONNECT flag bits (§3.1.2.3). */
const USERNAME = 0x80;
const PASSWORD = 0x40;
const WILL_RETAIN = 0x20;
const WILL_QOS = 0x18;
const WILL = 0x04;
const CLEAN = 0x02;
const RESERVED = 0x01;

type ConnectProperties = NonNullable<IConnectPacket['properties']>;

/**
 * The v5 CONNECT properties handled here (§3.1.2.11), by identifier: name and width in bytes
 * (1 = a byte mqtt-packet reads as a boolean). Others (strings, User Property, authentication)
 * go to mqtt-packet.
 */
const PROPERTIES: Record<number, readonly [keyof ConnectProperties, 1 | 2 | 4]> = {
  0x11: ['sessionExpiryInterval', 4],
  0x21: ['receiveMaximum', 2],
  0x27: ['maximumPacketSize', 4],
  0x22: ['topicAliasMaximum', 2],
  0x19: ['requestResponseInformation', 1],
  0x17: ['requestProblemInformation', 1],
};

/**
 * A CONNECT frame (`headerLength` bytes of fixed header, then exactly the remaining length) as
 * mqtt-packet's parser would produce it, or null to let mqtt-packet decide.
 */
export function fastDecodeConnect(frame: Buffer, flags: number, headerLength: number): IConnectPacket | null {
  if (flags !== 0) return null; // [MQTT-2.2.2-1]; mqtt-packet reports it
  const end = frame.length;
  let pos = headerLength;
  // Protocol Name and Level: "MQTT" 4 or 5, "MQIsdp" 3 (no bridge bit, no mismatched pairs).
  let protocolId: 'MQTT' | 'MQIsdp';
  let protocolVersion: 3 | 4 | 5;
  if (end - pos >= 8 && frame[pos] === 0 && frame[pos + 1] === 4 && frame[pos + 2] === 0x4d && frame[pos + 3] === 0x51 && frame[pos + 4] === 0x54 && frame[pos + 5] === 0x54) {
    const level = frame[pos + 6]!;
    if (level !== 4 && level !== 5) return null;
    protocolId = 'MQTT';
    protocolVersion = level;
    pos += 7;
  } else if (end - pos >= 10 && frame.toString('latin1', pos, pos + 8) === '\u0000\u0006MQIsdp' && frame[pos + 8] === 3) {
    protocolId = 'MQIsdp';
    protocolVersion = 3;
    pos += 9;
  } else {
    return null;
  }
  if (end - pos < 3) return null;
  const connectFlags = frame[pos]!;
  if ((connectFlags & RESERVED) !== 0) return null; // [MQTT-3.1.2-3]
  const hasWill = (connectFlags & WILL) !== 0;
  const willQos = (connectFlags & WILL_QOS) >> 3;
  const willRetain = (connectFlags & WILL_RETAIN) !== 0;
  if (!hasWill && (willQos !== 0 || willRetain)) return null; // [MQTT-3.1.2-11], [MQTT-3.1.2-13]
  const keepalive = (frame[pos + 1]! << 8) | frame[pos + 2]!;
  pos += 3;

  let properties: ConnectProperties | undefined;
  if (protocolVersion === 5) {
    if (pos >= end) return null;
    const length = frame[pos++]!;
    if (length >= 0x80 || end - pos < length) return null; // a multi-byte length: mqtt-packet
    const propsEnd = pos + length;
    while (pos < propsEnd) {
      const known = PROPERTIES[frame[pos]!];
      if (known === undefined) return null;
      const [name, width] = known;
      pos++;
      if (propsEnd - pos < width) return null;
      properties ??= {};
      if (properties[name] !== undefined) return null; // repeated: mqtt-packet makes an array of it
      const value = width === 4 ? frame.readUInt32BE(pos) : width === 2 ? (frame[pos]! << 8) | frame[pos + 1]! : frame[pos]! !== 0;
      (properties as Record<string, number | boolean>)[name] = value;
      pos += width;
    }
  }

  const clientIdEnd = stringEnd(frame, pos);
  if (clientIdEnd < 0) return null;
  const clientId = frame.toString('utf8', pos + 2, clientIdEnd);
  pos = clientIdEnd;

  let willTopic = '';
  let willPayload: Buffer | null = null;
  if (hasWill) {
    if (protocolVersion === 5) {
      if (pos >= end || frame[pos] !== 0) return null; // will properties: only an empty section here
      pos++;
    }
    const topicEnd = stringEnd(frame, pos);
    if (topicEnd < 0) return null;
    willTopic = frame.toString('utf8', pos + 2, topicEnd);
    const payloadEnd = stringEnd(frame, topicEnd);
    if (payloadEnd < 0) return null;
    willPayload = frame.subarray(topicEnd + 2, payloadEnd);
    pos = payloadEnd;
  }

  let username: string | undefined;
  if ((connectFlags & USERNAME) !== 0) {
    const usernameEnd = stringEnd(frame, pos);
    if (usernameEnd < 0) return null;
    username = frame.toString('utf8', pos + 2, usernameEnd);
    pos = usernameEnd;
  }
  let password: Buffer | undefined;
  if ((connectFlags & PASSWORD) !== 0) {
    const passwordEnd = stringEnd(frame, pos);
    if (passwordEnd < 0) return null;
    password = frame.subarray(pos + 2, passwordEnd);
    pos = passwordEnd;
  }
  // mqtt-packet ignores bytes after the last field; such a frame is left to it.
  if (pos !== end) return null;

  // The fields, and their order, of mqtt-packet's Packet and _parseConnect.
  const packet: Record<string, unknown> = {
    cmd: 'connect',
    retain: false,
    qos: 0,
    dup: false,
    length: end - headerLength,
    topic: null,
    payload: null,
    protocolId,
    protocolVersion,
  };
  if (hasWill) packet.will = { retain: willRetain, qos: willQos, topic: willTopic, payload: willPayload };
  packet.clean = (connectFlags & CLEAN) !== 0;
  packet.keepalive = keepalive;
  if (properties !== undefined) packet.properties = properties;
  packet.clientId = clientId;
  if (username !== undefined) packet.username = username;
  if (password !== undefined) packet.password = password;
  return packet as unknown as IConnectPacket;
}

/** End of the 2-byte-length-prefixed field at `pos` (§1.5.4, §1.5.6), or -1 past the frame. */
function stringEnd(frame: Buffer, pos: number): number {
  if (frame.length - pos < 2) return -1;
  const fieldEnd = pos + 2 + ((frame[pos]! << 8) | frame[pos + 1]!);
  return fieldEnd > frame.length ? -1 : fieldEnd;
}
