// Structural checks on parsed packets that mqtt-packet lets through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';
import { checkPacket } from '../../../src/transport/inbound-checks.js';
import { ProtocolViolation } from '../../../src/transport/errors.js';

function parse5(bytes: number[]): Packet {
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  let packet: Packet | null = null;
  parser.on('packet', (p: Packet) => (packet = p));
  parser.parse(Buffer.from(bytes));
  assert.ok(packet !== null, 'mqtt-packet accepted the bytes');
  return packet;
}

test('a user property whose value runs past the packet end is malformed (found by the codec property, seed 774804352)', () => {
  // PUBCOMP id 1, reason 0, properties (6): user property "a" = string of length 3 with no bytes.
  const packet = parse5([112, 10, 0, 1, 0, 6, 38, 0, 1, 97, 0, 3]);
  assert.throws(
    () => checkPacket(packet, 5),
    (e: unknown) => e instanceof ProtocolViolation && e.reasonCode === ReasonCode.MalformedPacket && /userProperties\.a/.test(e.message),
  );
});

test('well-formed user properties, single and repeated, pass', () => {
  const bytes = mqttPacket.generate(
    { cmd: 'pubcomp', messageId: 1, reasonCode: 0, properties: { userProperties: { a: 'x', b: ['y', 'z'] } } },
    { protocolVersion: 5 },
  );
  assert.doesNotThrow(() => checkPacket(parse5([...bytes]), 5));
});
