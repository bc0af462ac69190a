// The hand-written fast paths (src/protocol/fast-codec.ts) against mqtt-packet itself: wherever a
// fast path answers, its packet (decode) or bytes (encode) are exactly mqtt-packet's, for valid
// frames, mutated frames and arbitrary bodies under every fixed header of the types it handles.
// Counters make sure the fast paths do answer for the common shapes (the property is not vacuous).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { fastDecode, fastEncodeAck, fastEncodePublish } from '../../src/protocol/fast-codec.js';
import { readFixedHeader } from '../../src/protocol/codec.js';
import { propertyParams } from './harness.js';

type Version = 3 | 4 | 5;
const version = fc.constantFrom(3 as const, 4 as const, 5 as const);
const qos = fc.constantFrom(0 as const, 1 as const, 2 as const);
const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((u) => Buffer.from(u));
const ackCmd = fc.constantFrom('puback' as const, 'pubrec' as const, 'pubrel' as const, 'pubcomp' as const);

/** mqtt-packet's reading of one frame: the packet as a plain object, or 'error'. */
function reference(frame: Buffer, v: Version): Record<string, unknown> | 'error' {
  const parser = mqttPacket.parser({ protocolVersion: v });
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
