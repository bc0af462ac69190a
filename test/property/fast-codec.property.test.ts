// The hand-written fast paths (src/protocol/fast-codec.ts, fast-connect.ts) against mqtt-packet itself: wherever a
// fast path answers, its packet (decode) or bytes (encode) are exactly mqtt-packet's, for valid
// frames, mutated frames and arbitrary bodies under every fixed header of the types it handles.
// Counters make sure the fast paths do answer for the common shapes (the property is not vacuous).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { fastDecode, fastEncodeAck, fastEncodePublish } from '../../src/protocol/fast-codec.js';
import { fastDecodeConnect } from '../../src/protocol/fast-connect.js';
import { readFixedHeader } from '../../src/protocol/codec.js';
import { propertyParams } from './harness.js';

type Version = 3 | 4 | 5;
const version = fc.constantFrom(3 as const, 4 as const, 5 as const);
const qos = fc.constantFrom(0 as const, 1 as const, 2 as const);
const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((u) => Buffer.from(u));
const ackCmd = fc.constantFrom('puback' as const, 'pubrec' as const, 'pubrel' as const, 'pubcomp' as const);

/**
 * mqtt-packet's reading of one frame: the packet as a plain object, or 'error'. No level for a
 * CONNECT, which is parsed before one is known (as the decoder's connect parser does).
 */
function reference(frame: Buffer, v: Version | null): Record<string, unknown> | 'error' {
  const parser = v === null ? mqttPacket.parser() : mqttPacket.parser({ protocolVersion: v });
  let packet: Packet | null = null;
  let failed = false;
  parser.on('packet', (p: Packet) => (packet = p));
  parser.on('error', () => (failed = true));
  let left = -1;
  try {
    left = parser.parse(frame);
  } catch {
    failed = true;
  }
  if (failed || packet === null || left !== 0) return 'error';
  return { ...(packet as object) };
}

function frameOf(type: number, flags: number, body: Buffer): Buffer {
  const len = body.length;
  const header = len < 128 ? Buffer.from([(type << 4) | flags, len]) : Buffer.from([(type << 4) | flags, (len & 0x7f) | 0x80, len >> 7]);
  return Buffer.concat([header, body]);
}

/** Checks one frame; returns whether the fast path answered. */
function agrees(frame: Buffer, v: Version): boolean {
  const h = readFixedHeader(frame, 0);
  assert.equal(h.kind, 'header');
  if (h.kind !== 'header') return false;
  const fast = fastDecode(frame, h.type, h.flags, h.headerLength, v);
  if (fast === null) return false;
  const ref = reference(frame, v);
  assert.notEqual(ref, 'error', `fast path accepted a frame mqtt-packet rejects: ${frame.toString('hex')} (v${v})`);
  assert.deepStrictEqual({ ...(fast as object) }, ref, `frame ${frame.toString('hex')} (v${v})`);
  return true;
}

/** Checks one frame under the CONNECT fast path; returns whether it answered. */
function agreesConnect(frame: Buffer): boolean {
  const h = readFixedHeader(frame, 0);
  assert.equal(h.kind, 'header');
  if (h.kind !== 'header') return false;
  const fast = fastDecodeConnect(frame, h.flags, h.headerLength);
  if (fast === null) return false;
  const ref = reference(frame, null);
  assert.notEqual(ref, 'error', `CONNECT fast path accepted a frame mqtt-packet rejects: ${frame.toString('hex')}`);
  assert.deepStrictEqual({ ...(fast as object) }, ref, `CONNECT frame ${frame.toString('hex')}`);
  return true;
}

const text = (max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom('a', 'Z', '/', 'é', '😀', '\u0000'), maxLength: max });

/** Every CONNECT property (§3.1.2.11): the fast path's numeric ones and the others it leaves alone. */
const connectPropertiesArb = fc.record(
  {
    sessionExpiryInterval: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff })),
    receiveMaximum: fc.integer({ min: 0, max: 0xffff }),
    maximumPacketSize: fc.integer({ min: 0, max: 0xffffffff }),
    topicAliasMaximum: fc.integer({ min: 0, max: 0xffff }),
    requestResponseInformation: fc.boolean(),
    requestProblemInformation: fc.boolean(),
    userProperties: fc.dictionary(fc.constantFrom('k', 'x'), fc.string({ maxLength: 3 }), { minKeys: 1, maxKeys: 2 }),
    authenticationMethod: fc.string({ maxLength: 4 }),
  },
  { requiredKeys: [] },
);

const connectArb = fc.record({
  version,
  clientId: text(12),
  clean: fc.boolean(),
  keepalive: fc.integer({ min: 0, max: 0xffff }),
  will: fc.option(
    fc.record({
      topic: text(8),
      payload: bytes(20),
      qos,
      retain: fc.boolean(),
      properties: fc.option(fc.record({ willDelayInterval: fc.nat(), contentType: fc.string({ maxLength: 3 }) }, { requiredKeys: [] }), { nil: undefined }),
    }),
    { nil: undefined },
  ),
  username: fc.option(text(6), { nil: undefined }),
  password: fc.option(bytes(10), { nil: undefined }),
  properties: fc.option(connectPropertiesArb, { nil: undefined }),
});

/** A length-prefixed field (§1.5.4, §1.5.6). */
function field(b: Buffer): Buffer {
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

/** Property ids the fast path reads (and a few it leaves to mqtt-packet), with their widths. */
const PROPERTY_WIDTHS: Record<number, number> = { 0x11: 4, 0x21: 2, 0x27: 4, 0x22: 2, 0x19: 1, 0x17: 1, 0x18: 4, 0x01: 1, 0x23: 2 };

/**
 * CONNECT bodies written byte by byte, where mqtt-packet's encoder cannot go: any connect flags
 * (reserved bit, will QoS/retain without a will, password without username), any byte values for
 * boolean properties, repeated properties, other protocol name/level pairs and trailing bytes.
 */
const rawConnectArb = fc
  .record({
    // Mostly what the fast path answers for, so that its answers cover these corners.
    name: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(['MQTT', 4], ['MQTT', 5], ['MQIsdp', 3]) },
      { weight: 1, arbitrary: fc.constantFrom(['MQTT', 3], ['MQIsdp', 4], ['MQTT', 0x84], ['MQTT', 6]) },
    ),
    flags: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(0x00, 0x02, 0xc2, 0x06, 0x2e, 0x36, 0x42) },
      { weight: 1, arbitrary: fc.oneof(fc.constantFrom(0x18, 0x20, 0x01, 0x03), fc.integer({ min: 0, max: 255 })) },
    ),
    keepalive: fc.integer({ min: 0, max: 0xffff }),
    props: fc.array(
      fc.tuple(
        // Two ids often, so that repeated properties are common.
        fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom(0x11, 0x19) },
          { weight: 2, arbitrary: fc.constantFrom(0x11, 0x21, 0x27, 0x22, 0x19, 0x17) },
          { weight: 1, arbitrary: fc.constantFrom(0x18, 0x01, 0x23) },
        ),
        fc.constantFrom(0, 1, 2, 255),
        fc.constantFrom(false, false, false, true),
      ),
      { maxLength: 4 },
    ),
    willProps: fc.constantFrom([], [0x18, 0, 0, 0, 5], [0x01, 1]),
    clientId: text(6),
    willTopic: text(4),
    willPayload: bytes(6),
    username: text(4),
    password: bytes(4),
    trailing: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: bytes(3) }),
  })
  .map((r) => {
    const [name, level] = r.name as [string, number];
    const parts: Buffer[] = [field(Buffer.from(name, 'latin1')), Buffer.from([level, r.flags, r.keepalive >> 8, r.keepalive & 0xff])];
    if ((level & 0x7f) === 5) {
      const props = Buffer.concat(r.props.map(([id, value, short]) => Buffer.concat([Buffer.from([id]), Buffer.alloc(PROPERTY_WIDTHS[id]! - (short ? 1 : 0), value)])));
      parts.push(Buffer.from([props.length]), props);
    }
    parts.push(field(Buffer.from(r.clientId)));
    if ((r.flags & 0x04) !== 0) {
      if ((level & 0x7f) === 5) parts.push(Buffer.from([r.willProps.length, ...r.willProps]));
      parts.push(field(Buffer.from(r.willTopic)), field(r.willPayload));
    }
    if ((r.flags & 0x80) !== 0) parts.push(field(Buffer.from(r.username)));
    if ((r.flags & 0x40) !== 0) parts.push(field(r.password));
    if (r.trailing !== undefined) parts.push(r.trailing);
    return frameOf(1, 0, Buffer.concat(parts));
  });

type ConnectInput = typeof connectArb extends fc.Arbitrary<infer T> ? T : never;

/** A CONNECT as a client would encode it, or null for a combination mqtt-packet will not encode. */
function encodeConnect(c: ConnectInput): Buffer | null {
  const v5 = c.version === 5;
  const packet = {
    cmd: 'connect',
    protocolId: c.version === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: c.version,
    clientId: c.clientId,
    clean: c.clean,
    keepalive: c.keepalive,
    ...(c.will ? { will: { ...c.will, properties: v5 ? c.will.properties : undefined } } : {}),
    ...(c.username !== undefined ? { username: c.username } : {}),
    ...(c.password !== undefined ? { password: c.password } : {}),
    ...(v5 && c.properties ? { properties: c.properties } : {}),
  } as Packet;
  try {
    const out = mqttPacket.generate(packet, { protocolVersion: c.version });
    return out.length >= 2 ? out : null;
  } catch {
    return null; // e.g. a password without a username before 5.0
  }
}

const publishArb = fc.record({
  cmd: fc.constant('publish' as const),
  topic: fc.string({ unit: fc.constantFrom('a', '/', 'é', '😀', '+'), maxLength: 8 }),
  payload: bytes(40),
  qos,
  retain: fc.boolean(),
  dup: fc.boolean(),
  messageId: fc.integer({ min: 1, max: 0xffff }),
  properties: fc.option(fc.record({ contentType: fc.string({ maxLength: 4 }), messageExpiryInterval: fc.nat() }, { requiredKeys: [] }), { nil: undefined }),
});

const ackArb = fc.record({
  cmd: ackCmd,
  messageId: fc.integer({ min: 0, max: 0xffff }),
  dup: fc.boolean(),
  reasonCode: fc.option(fc.constantFrom(0, 0x10, 0x80, 0x92), { nil: undefined }),
  properties: fc.option(fc.record({ reasonString: fc.string({ maxLength: 4 }) }), { nil: undefined }),
});

/** The shape every QoS 1/2 message makes: 2-byte acks, v5 reason code Success, no properties. */
const hotAckArb = fc.record({
  cmd: ackCmd,
  messageId: fc.integer({ min: 0, max: 0xffff }),
  dup: fc.constant(false),
  reasonCode: fc.constant(0),
  properties: fc.constant(undefined),
});

describe('fast codec property: identical to mqtt-packet wherever it answers', () => {
  it('decodes valid, mutated and arbitrary PUBLISH and ack frames exactly as mqtt-packet does', () => {
    let answered = 0;
    let total = 0;
    fc.assert(
      fc.property(
        version,
        fc.oneof(publishArb, ackArb, hotAckArb),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.integer({ min: 3, max: 7 }),
        fc.integer({ min: 0, max: 15 }),
        bytes(24),
        (v, packet, mutations, rawType, rawFlags, rawBody) => {
          const props = v === 5 ? packet.properties : undefined;
          // mqtt-packet throws generating a PUBREL with dup set (its flags are fixed, §3.6.1).
          const dup = packet.cmd === 'pubrel' ? false : packet.dup;
          const valid = mqttPacket.generate({ ...packet, dup, properties: props } as Packet, { protocolVersion: v });
          total++;
          if (agrees(valid, v)) answered++;
          // The same frame with body bytes overwritten (the header keeps framing it).
          const mutated = Buffer.from(valid);
          const header = readFixedHeader(mutated, 0);
          const bodyStart = header.kind === 'header' ? header.headerLength : 2;
          for (const [at, value] of mutations) if (mutated.length > bodyStart) mutated[bodyStart + (at % (mutated.length - bodyStart))] = value;
          agrees(mutated, v);
          // Any flags and any body under a handled packet type.
          agrees(frameOf(rawType, rawFlags, rawBody), v);
        },
      ),
      propertyParams(),
    );
    // Most generated PUBLISH and 2-byte acks are the shapes the fast path exists for.
    assert.ok(answered > total / 4, `the fast path answered ${answered} of ${total} valid frames`);
  });

  it('decodes valid, mutated, truncated and arbitrary CONNECT frames exactly as mqtt-packet does', () => {
    let answered = 0;
    let total = 0;
    let rawAnswered = 0;
    let rawTotal = 0;
    fc.assert(
      fc.property(
        connectArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.nat(),
        fc.integer({ min: 0, max: 15 }),
        bytes(40),
        rawConnectArb,
        (c, mutations, cut, rawFlags, rawBody, raw) => {
          const valid = encodeConnect(c);
          if (valid !== null) {
            total++;
            if (agreesConnect(valid)) answered++;
            const header = readFixedHeader(valid, 0);
            const bodyStart = header.kind === 'header' ? header.headerLength : 2;
            // Body bytes overwritten (flags, lengths, property ids, ...) under the same header.
            const mutated = Buffer.from(valid);
            for (const [at, value] of mutations) if (mutated.length > bodyStart) mutated[bodyStart + (at % (mutated.length - bodyStart))] = value;
            agreesConnect(mutated);
            // The body cut short, or with bytes after its last field, re-framed.
            const body = valid.subarray(bodyStart);
            agreesConnect(frameOf(1, 0, body.subarray(0, cut % (body.length + 1))));
            agreesConnect(frameOf(1, 0, Buffer.concat([body, rawBody.subarray(0, 1 + (cut % 3))])));
          }
          // Any flags and any body.
          agreesConnect(frameOf(1, rawFlags, rawBody));
          rawTotal++;
          if (agreesConnect(raw)) rawAnswered++;
        },
      ),
      propertyParams(),
    );
    assert.ok(rawAnswered > rawTotal / 5, `the CONNECT fast path answered ${rawAnswered} of ${rawTotal} hand-built frames`);
    // Plain 3.1/3.1.1 connects and 5.0 ones without string properties are what it exists for.
    assert.ok(answered > total / 4, `the CONNECT fast path answered ${answered} of ${total} valid frames`);
  });

  it('agrees with mqtt-packet on CONNECT corners random frames may miss', () => {
    // Bodies after the fixed header, in hex: protocol name and level, flags, keep alive, ...
    const bodies = [
      '00044d5154540402003c000178', // 3.1.1, clean, client id "x"
      '00064d514973647003c2003c00017800017500017070', // 3.1 with username and password
      '00044d5154540442003c00017800027070', // password without username (mqtt-packet accepts it)
      '00044d5154540526003c000178000174000270ff', // will, QoS 0, retain... flags 0x26
      '00044d5154540500003c0a11000000011100000002000178', // Session Expiry Interval twice
      '00044d5154540500003c0419011902000178', // Request Response Information twice (true, true)
      '00044d5154540500003c0419001901000178', // ... (false, true): mqtt-packet overwrites the first
      '00044d5154540500003c05110000000a000178', // a property running past the section
      '00044d5154540402003c000178ff', // a byte after the last field
      '00044d5154540418003c000178', // will QoS without the will flag
      '00044d5154540403003c000178', // reserved flag bit
      '00044d5154548402003c000178', // bridge bit on the level
      '00044d5154540302003c000178', // "MQTT" with level 3
      '00044d5154540402003c000278', // a client id longer than what is left
    ];
    for (const hex of bodies) agreesConnect(frameOf(1, 0, Buffer.from(hex, 'hex')));
  });

  it('encodes PUBLISH byte for byte as mqtt-packet does', () => {
    let answered = 0;
    const bigPayload = fc.integer({ min: 0, max: 20_000 }).map((n) => Buffer.alloc(n, 7));
    fc.assert(
      fc.property(
        version,
        publishArb,
        fc.option(bigPayload, { nil: undefined }),
        fc.constantFrom<'none' | 'empty' | 'given'>('none', 'empty', 'given'),
        (v, p, big, props) => {
          // Payload sizes across the 1-, 2- and 3-byte remaining-length boundaries.
          const packet = {
            ...p,
            payload: big ?? p.payload,
            properties: props === 'none' ? undefined : props === 'empty' ? {} : p.properties,
          } as Packet;
          const fast = fastEncodePublish(packet, v);
          if (fast === null) return;
          answered++;
          assert.deepStrictEqual(fast, mqttPacket.generate(packet, { protocolVersion: v }), `${JSON.stringify({ ...packet, payload: undefined })} v${v}`);
        },
      ),
      propertyParams(),
    );
    assert.ok(answered > 0, 'the PUBLISH fast path answered at least once');
  });

  it('encodes acks byte for byte as mqtt-packet does', () => {
    let answered = 0;
    fc.assert(
      fc.property(version, ackArb, (v, packet) => {
        const fast = fastEncodeAck(packet as Packet, v);
        if (fast === null) return;
        answered++;
        // PUBREL's flags are fixed [MQTT-3.6.1-1]: dup is ignored (mqtt-packet throws on it).
        const ref = { ...packet, dup: packet.cmd === 'pubrel' ? false : packet.dup } as Packet;
        assert.deepStrictEqual(fast, mqttPacket.generate(ref, { protocolVersion: v }), `${JSON.stringify(packet)} v${v}`);
      }),
      propertyParams(),
    );
    assert.ok(answered > 0, 'the ack fast path answered at least once');
  });
});
