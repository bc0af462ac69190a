// The one place where Shoal calls mqtt-packet. Encoding always passes the protocol level
// (mqtt-packet silently drops v5 properties and reason codes without it). Decoding frames the
// byte stream itself before mqtt-packet sees it, because mqtt-packet (9.0.2) buffers a whole
// packet of whatever remaining length the header claims, and several of its readers look past
// the end of the current packet into the next one when a length field lies. Handing it exactly
// one complete frame at a time bounds both problems.

import { isUtf8 } from 'node:buffer';
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import type { ProtocolVersion } from './message.js';
import { fastDecode, fastEncodeAck, fastEncodePublish } from './fast-codec.js';
import { fastDecodeConnect } from './fast-connect.js';
import { ReasonCode } from './reason-codes.js';

/** MQTT control packet type numbers (fixed header bits 7..4). */
export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const;

export { MAX_REMAINING_LENGTH } from './fast-codec.js';

/**
 * Encodes one packet for a client of the given protocol level. `maximumPacketSize` lets
 * mqtt-packet drop Reason String and User Properties from acks and DISCONNECT when they would
 * push the packet over the client's limit [MQTT-3.1.2-25]; callers still check the final size.
 * Throws whatever mqtt-packet throws for a packet it cannot encode.
 */
export function encodePacket(packet: Packet, protocolVersion: ProtocolVersion, maximumPacketSize?: number): Buffer {
  // Ahead of mqtt-packet: neither carries anything a maximum packet size could make us drop.
  const fast = packet.cmd === 'publish' ? fastEncodePublish(packet, protocolVersion) : fastEncodeAck(packet, protocolVersion);
  if (fast !== null) return fast;
  const out = protocolVersion === 5 ? withDefinedProperties(packet) : packet;
  const buf =
    protocolVersion === 5 && maximumPacketSize !== undefined && Number.isFinite(maximumPacketSize)
      ? mqttPacket.generate(out, { protocolVersion, properties: { maximumPacketSize } })
      : mqttPacket.generate(out, { protocolVersion });
  // Some of mqtt-packet's refusals write nothing instead of throwing.
  if (buf.length < 2) throw new Error(`mqtt-packet produced ${buf.length} bytes for ${packet.cmd}`);
  return buf;
}

/**
 * mqtt-packet counts a `null` property value as present and then fails, and silently produces
 * an empty packet for an empty User Properties object: drop both.
 */
function withDefinedProperties(packet: Packet): Packet {
  const props = (packet as { properties?: Record<string, unknown> }).properties;
  let out = packet;
  // A copy either way: mqtt-packet deletes properties from the object it is given when it
  // shrinks a packet to fit a maximum size.
  if (props !== undefined) {
    const defined = definedProperties(props);
    // No properties at all lets acks use their 2-byte form (§3.4.2.1); others encode 0 either way.
    out = { ...packet, properties: Object.keys(defined).length > 0 ? defined : undefined } as Packet;
  }
  if (out.cmd === 'connect' && out.will?.properties !== undefined) {
    out = { ...out, will: { ...out.will, properties: definedProperties(out.will.properties) } };
  }
  return out;
}

function definedProperties<T extends object>(props: T): T {
  const clean = { ...props } as Record<string, unknown>;
  for (const [key, value] of Object.entries(clean)) {
    if (value === undefined || value === null || (key === 'userProperties' && Object.keys(value as object).length === 0)) {
      delete clean[key];
    }
  }
  return clean as unknown as T;
}

export type FixedHeader =
  | { kind: 'header'; type: number; flags: number; remainingLength: number; headerLength: number }
  | { kind: 'incomplete' }
  | { kind: 'malformed'; detail: string };

const INCOMPLETE: FixedHeader = { kind: 'incomplete' };

/** Reads the fixed header at `offset`: type, flags and the remaining length (§2.1, §1.5.5). */
export function readFixedHeader(buf: Uint8Array, offset: number): FixedHeader {
  if (offset >= buf.length) return INCOMPLETE;
  const first = buf[offset]!;
  let value = 0;
  let multiplier = 1;
  for (let i = 1; i <= 4; i++) {
    if (offset + i >= buf.length) return INCOMPLETE;
    const byte = buf[offset + i]!;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      return { kind: 'header', type: first >> 4, flags: first & 0x0f, remainingLength: value, headerLength: 1 + i };
    }
    multiplier *= 128;
  }
  return { kind: 'malformed', detail: 'remaining length is longer than 4 bytes' }; // §1.5.5
}

/** Encodes `n` as a Variable Byte Integer (§1.5.5). */
export function encodeVarInt(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

export interface DecoderSink {
  /** One complete, parsed packet; `size` is its length in bytes including the fixed header. */
  onPacket(packet: Packet, size: number): void;
  /** The stream is unusable from here on; no more callbacks follow. */
  onError(reasonCode: number, detail: string): void;
}

export interface DecoderOptions {
  /** Largest accepted packet, fixed header included; checked from the header alone. */
  maxPacketSize: number;
  /** Reject the stream as soon as the first header is not CONNECT [MQTT-3.1.0-1]. */
  firstMustBeConnect: boolean;
}

/**
 * Splits a byte stream into MQTT packets. Complete frames go through one mqtt-packet parser
 * (which learns the protocol level from the CONNECT it parses, so later v5 properties decode).
 * `pause()` keeps the unprocessed bytes until `resume()`; `stop()` drops everything.
 */
/**
 * mqtt-packet parsers shared by every connection of this thread, one per protocol level (a
 * parser per connection costs ~2.6 KB, and keeps the whole CONNECT packet as its settings).
 * Sharing is safe because a parser only ever gets one complete frame and parses it
 * synchronously; a parser left with state after a failure is replaced.
 */
class SharedParser {
  private parser: ReturnType<typeof mqttPacket.parser>;
  private parsed: Packet | null = null;
  private error: unknown = null;

  constructor(private readonly protocolVersion: ProtocolVersion | null) {
    this.parser = this.create(); // in the body: parameter properties are set by now
  }

  private create(): ReturnType<typeof mqttPacket.parser> {
    const parser = this.protocolVersion === null ? mqttPacket.parser() : mqttPacket.parser({ protocolVersion: this.protocolVersion });
    parser.on('packet', (p: Packet) => (this.parsed = p));
    parser.on('error', (e: unknown) => (this.error = e ?? new Error('unknown parse error')));
    return parser;
  }

  /** Parses one complete frame: the packet, or an error. */
  parse(frame: Buffer): { packet: Packet } | { error: unknown } {
    this.parsed = null;
    this.error = null;
    let left = 0;
    try {
      left = this.parser.parse(frame);
    } catch (e) {
      this.error = e;
    }
    const packet = this.parsed;
    const error = this.error;
    this.parsed = null;
    this.error = null;
    // A failure may leave bytes or state behind: the next frame gets a fresh parser. A parser is
    // not recreated per CONNECT (its bl stream and listeners cost more than the rest of the
    // decode): mqtt-packet only reads the level from the CONNECT bytes themselves, and the
    // settings it adopts from a CONNECT (the packet, credentials included) are dropped here.
    if (error !== null || packet === null || left !== 0) this.parser = this.create();
    else if (this.protocolVersion === null) (this.parser as unknown as { settings: object }).settings = {};
    if (error !== null || packet === null || left !== 0) return { error: error ?? new Error('packet does not match its length') };
    return { packet };
  }
}

const connectParser = new SharedParser(null);
const levelParsers: Record<ProtocolVersion, SharedParser> = { 3: new SharedParser(3), 4: new SharedParser(4), 5: new SharedParser(5) };

export class PacketDecoder {
  /** Set from the CONNECT: the level every later frame is parsed at. */
  private protocolVersion: ProtocolVersion | null = null;
  /** Null while nothing waits, as on an idle connection: no array kept per connection. */
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  /** Total size of the frame being collected in `pending`, 0 while its header is incomplete. */
  private need = 0;
  private paused = false;
  private stopped = false;
  private processing = false;
  private framesSeen = 0;

  constructor(
    private readonly opts: DecoderOptions,
    private readonly sink: DecoderSink,
  ) {}

  /** Bytes received but not yet decoded (a partial frame, or everything since `pause()`). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Bytes wait, or a decode loop is running: `resume()` may decode packets right away. */
  get busy(): boolean {
    return this.processing || this.pendingBytes > 0;
  }

  push(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    if (this.pendingBytes === 0 && !this.paused) {
      this.process(chunk);
      return;
    }
    (this.pending ??= []).push(chunk);
    this.pendingBytes += chunk.length;
    if (this.paused || this.processing) return;
    if (this.need > 0 && this.pendingBytes < this.need) return;
    this.process(this.takePending());
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // Called from inside a callback of process(): its loop simply carries on.
    if (this.processing || this.stopped || this.pendingBytes === 0) return;
    this.process(this.takePending());
  }

  stop(): void {
    this.stopped = true;
    this.pending = null;
    this.pendingBytes = 0;
  }

  private takePending(): Buffer {
    const pending = this.pending ?? [];
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, this.pendingBytes);
    this.pending = null;
    this.pendingBytes = 0;
    this.need = 0;
    return all;
  }

  private stash(rest: Buffer, need: number): void {
    this.pending = [rest];
    this.pendingBytes = rest.length;
    this.need = need;
  }

  private process(buf: Buffer): void {
    this.processing = true;
    try {
      let offset = 0;
      while (offset < buf.length && !this.stopped) {
        if (this.paused) {
          this.stash(buf.subarray(offset), 0);
          return;
        }
        const h = readFixedHeader(buf, offset);
        if (h.kind === 'incomplete') {
          this.stash(buf.subarray(offset), 0);
          return;
        }
        if (h.kind === 'malformed') {
          this.fail(ReasonCode.MalformedPacket, h.detail);
          return;
        }
        if (this.framesSeen === 0 && this.opts.firstMustBeConnect && h.type !== PacketType.CONNECT) {
          this.fail(ReasonCode.ProtocolError, `first packet is ${packetTypeName(h.type)}, not CONNECT`); // [MQTT-3.1.0-1]
          return;
        }
        const total = h.headerLength + h.remainingLength;
        if (total > this.opts.maxPacketSize) {
          // Decided from the header alone: the body of an oversized packet is never buffered.
          this.fail(
            ReasonCode.PacketTooLarge,
            `${packetTypeName(h.type)} of ${total} bytes exceeds the maximum packet size ${this.opts.maxPacketSize}`,
          ); // [MQTT-3.1.2-24]
          return;
        }
        if (buf.length - offset < total) {
          this.stash(buf.subarray(offset), total);
          return;
        }
        const frame = buf.subarray(offset, offset + total);
        offset += total;
        this.framesSeen++;
        this.decodeFrame(frame, h.type, h.headerLength);
      }
    } finally {
      this.processing = false;
    }
  }

  private decodeFrame(frame: Buffer, type: number, headerLength: number): void {
    const flags = frame[0]! & 0x0f;
    let packet: Packet | null;
    if (type === PacketType.CONNECT) {
      // The fast decode answers only for levels 3, 4 and 5, so the level check can wait for a miss.
      packet = fastDecodeConnect(frame, flags, headerLength);
      const level = packet === null ? unsupportedConnectLevel(frame, headerLength) : null;
      if (level !== null) {
        this.fail(ReasonCode.UnsupportedProtocolVersion, `unsupported protocol level ${level}`); // [MQTT-3.1.2-2]
        return;
      }
    } else {
      packet = this.protocolVersion === null ? null : fastDecode(frame, type, flags, headerLength, this.protocolVersion);
    }
    if (packet === null) {
      // Before the CONNECT, and for a second CONNECT, the connect parser (its level comes from the packet).
      const parser = this.protocolVersion === null || type === PacketType.CONNECT ? connectParser : levelParsers[this.protocolVersion];
      const result = parser.parse(frame);
      if ('error' in result) {
        const why = result.error instanceof Error ? result.error.message : 'packet does not match its length';
        this.fail(ReasonCode.MalformedPacket, `malformed ${packetTypeName(type)}: ${why}`);
        return;
      }
      packet = result.packet;
    }
    if (packet.cmd === 'connect' && this.protocolVersion === null) this.protocolVersion = (packet.protocolVersion ?? 4) as ProtocolVersion;
    if (packet.cmd === 'publish' && packet.topic.includes('\ufffd')) {
      // mqtt-packet decodes ill-formed UTF-8 into U+FFFD; look at the raw bytes [MQTT-1.5.4-1].
      const len = frame.readUInt16BE(headerLength);
      if (!isUtf8(frame.subarray(headerLength + 2, headerLength + 2 + len))) {
        this.fail(ReasonCode.MalformedPacket, 'PUBLISH topic is not well-formed UTF-8');
        return;
      }
    }
    this.sink.onPacket(packet, frame.length);
  }

  private fail(reasonCode: number, detail: string): void {
    this.stop();
    this.sink.onError(reasonCode, detail);
  }
}

/**
 * For a CONNECT naming a known protocol with a level we do not speak, that level; else null
 * (mqtt-packet would report it as a parse error, but the client is owed CONNACK 0x01 first).
 */
function unsupportedConnectLevel(frame: Buffer, headerLength: number): number | null {
  if (frame.length < headerLength + 2) return null;
  const nameLength = frame.readUInt16BE(headerLength);
  const levelAt = headerLength + 2 + nameLength;
  if (levelAt >= frame.length) return null;
  const name = frame.toString('latin1', headerLength + 2, levelAt);
  if (name !== 'MQTT' && name !== 'MQIsdp') return null;
  const level = frame[levelAt]! & 0x7f; // bit 7 is the bridge flag some brokers set
  return level === 3 || level === 4 || level === 5 ? null : level;
}

const typeNames = [
  'reserved packet type 0', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP',
  'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH',
];

export function packetTypeName(type: number): string {
  return typeNames[type] ?? `packet type ${type}`;
}
