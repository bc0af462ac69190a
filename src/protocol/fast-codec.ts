// Hand-written decode and encode for the packets every QoS 1/2 message makes (PUBLISH without v5
// properties, and the 2-byte acks), used before mqtt-packet. Profiles of the QoS 1 path showed
// ~18 % of a pinned core in mqtt-packet's generic parse (its `debug` calls and BufferList) and
// an EventEmitter allocated per generated ack. Each function returns null for anything outside
// its narrow shape, and mqtt-packet handles it, errors included; a property test checks that the
// output is exactly mqtt-packet's wherever these answer.
import type { Packet } from 'mqtt-packet';
import type { ProtocolVersion } from './message.js';

const ACK_CMDS = [null, null, null, null, 'puback', 'pubrec', 'pubrel', 'pubcomp'] as const;
/** Table 2.2 (§2.2.2): the fixed-header flags each ack must carry [MQTT-2.2.2-1]. */
const ACK_FLAGS = [0, 0, 0, 0, 0x0, 0x0, 0x2, 0x0];

/**
 * One complete frame (`headerLength` bytes of fixed header, then exactly the remaining length)
 * as mqtt-packet's parser would produce it, or null to let mqtt-packet decide.
 */
export function fastDecode(frame: Buffer, type: number, flags: number, headerLength: number, version: ProtocolVersion): Packet | null {
  const length = frame.length - headerLength;
  if (type === 3) {
    const qos = (flags >> 1) & 3;
    if (qos === 3 || length < 2) return null;
    const topicEnd = headerLength + 2 + ((frame[headerLength]! << 8) | frame[headerLength + 1]!);
    let pos = topicEnd;
    if (qos > 0) pos += 2;
    if (version === 5) {
      // Only an empty property section (one 0 byte); anything else goes to mqtt-packet.
      if (pos >= frame.length || frame[pos] !== 0) return null;
      pos += 1;
    }
    if (pos > frame.length) return null;
    const packet = {
      cmd: 'publish',
      retain: (flags & 1) !== 0,
      qos,
      dup: (flags & 8) !== 0,
      length,
      topic: frame.toString('utf8', headerLength + 2, topicEnd),
      payload: frame.subarray(pos),
    } as Record<string, unknown>;
    if (qos > 0) packet.messageId = (frame[topicEnd]! << 8) | frame[topicEnd + 1]!;
    return packet as unknown as Packet;
  }
  if (type >= 4 && type <= 7) {
    if (length !== 2 || flags !== ACK_FLAGS[type]) return null;
    const packet: Record<string, unknown> = {
      cmd: ACK_CMDS[type],
      retain: false,
      qos: (flags >> 1) & 3,
      dup: false,
      length: 2,
      topic: null,
      payload: null,
      messageId: (frame[headerLength]! << 8) | frame[headerLength + 1]!,
    };
    if (version === 5) packet.reasonCode = 0; // §3.4.2.1: absent means Success
    return packet as unknown as Packet;
  }
  return null;
}

/**
 * PUBACK, PUBREC, PUBREL or PUBCOMP in their 2-byte form (3.1.1 always; 5.0 when the reason code
 * is Success and there are no properties, §3.4.2.1), or null.
 */
export function fastEncodeAck(packet: Packet, version: ProtocolVersion): Buffer | null {
  let type: number;
  switch (packet.cmd) {
    case 'puback': type = 4; break;
    case 'pubrec': type = 5; break;
    case 'pubrel': type = 6; break;
    case 'pubcomp': type = 7; break;
    default: return null;
  }
  const id = packet.messageId;
  if (typeof id !== 'number' || !(id >= 0 && id <= 0xffff) || !Number.isInteger(id)) return null;
  if (version === 5 && ((packet as { reasonCode?: number }).reasonCode !== 0 || packet.properties !== undefined)) return null;
  const out = Buffer.allocUnsafe(4);
  out[0] = (type << 4) | (type === 6 ? 0x02 : 0); // PUBREL's flags are fixed at 0010 [MQTT-3.6.1-1], dup or not
  out[1] = 2;
  out[2] = id >> 8;
  out[3] = id & 0xff;
  return out;
}

/** Largest value of a Variable Byte Integer, so the largest remaining length (§1.5.5). */
export const MAX_REMAINING_LENGTH = 268_435_455;

function hasOwnKeys(o: object): boolean {
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) return true;
  return false;
}

/**
 * A PUBLISH with a string topic, a Buffer payload and no v5 properties (an empty properties
 * object counts as none), written into one buffer; or null. Uncached QoS 1/2 deliveries (each
 * has its own packet id) are encoded here once per subscriber.
 */
export function fastEncodePublish(packet: Packet, version: ProtocolVersion): Buffer | null {
  if (packet.cmd !== 'publish') return null;
  const { topic, payload, qos } = packet;
  if (typeof topic !== 'string' || !Buffer.isBuffer(payload) || (qos !== 0 && qos !== 1 && qos !== 2)) return null;
  if (version === 5 && packet.properties !== undefined && (packet.properties === null || hasOwnKeys(packet.properties))) return null;
  const id = packet.messageId;
  if (qos > 0 && (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffff)) return null;
  const topicLength = Buffer.byteLength(topic);
  if (topicLength > 0xffff) return null;
  const remaining = 2 + topicLength + (qos > 0 ? 2 : 0) + (version === 5 ? 1 : 0) + payload.length;
  if (remaining > MAX_REMAINING_LENGTH) return null;
  const lengthBytes = remaining < 0x80 ? 1 : remaining < 0x4000 ? 2 : remaining < 0x200000 ? 3 : 4;
  const out = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  out[0] = 0x30 | (packet.dup ? 0x08 : 0) | (qos << 1) | (packet.retain ? 0x01 : 0);
  let pos = 1;
  let n = remaining;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n > 0) byte |= 0x80;
    out[pos++] = byte;
  } while (n > 0);
  out[pos++] = topicLength >> 8;
  out[pos++] = topicLength & 0xff;
  pos += out.write(topic, pos, topicLength, 'utf8');
  if (qos > 0) {
    out[pos++] = id! >> 8;
    out[pos++] = id! & 0xff;
  }
  if (version === 5) out[pos++] = 0; // property length 0
  payload.copy(out, pos);
  return out;
}
