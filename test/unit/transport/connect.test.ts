import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnectPacket } from 'mqtt-packet';
import mqttPacket from 'mqtt-packet';
import { validateConnect, isProtocolViolationCode, type ConnectDecision } from '../../../src/protocol/connect.js';
import { ReasonCode, connackCodeForV3 } from '../../../src/protocol/reason-codes.js';

const noLimit = { maxKeepaliveSec: 0 };
let counter = 0;
const assignId = (): string => `assigned-${++counter}`;

function connect(over: Partial<IConnectPacket> = {}): IConnectPacket {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c1', clean: true, keepalive: 60, ...over };
}

function rejected(d: ConnectDecision): { reasonCode: number; detail: string } {
  assert.equal(d.ok, false, `expected a rejection, got ${JSON.stringify(d)}`);
  return d as { reasonCode: number; detail: string };
}

describe('validateConnect: protocol name and level [MQTT-3.1.2-1,2]', () => {
  for (const [protocolId, protocolVersion] of [['MQIsdp', 3], ['MQTT', 4], ['MQTT', 5]] as const) {
    it(`accepts ${protocolId} level ${protocolVersion}`, () => {
      const d = validateConnect(connect({ protocolId, protocolVersion }), noLimit, assignId);
      assert.deepEqual(d, { ok: true, clientId: 'c1', assigned: false, keepaliveSec: 60 });
    });
  }
  for (const [protocolId, protocolVersion] of [['MQTT', 3], ['MQIsdp', 4], ['MQIsdp', 5]] as const) {
    it(`rejects ${protocolId} level ${protocolVersion} with 0x84 (3.1.1 return code 1)`, () => {
      const r = rejected(validateConnect(connect({ protocolId, protocolVersion }), noLimit, assignId));
      assert.equal(r.reasonCode, ReasonCode.UnsupportedProtocolVersion);
      assert.equal(connackCodeForV3(r.reasonCode), 1);
      assert.match(r.detail, /level/);
    });
  }
});

describe('validateConnect: client identifier [MQTT-3.1.3-6,7,8]', () => {
  it('assigns an id to an empty one with clean session on 3.1.1', () => {
    const d = validateConnect(connect({ clientId: '' }), noLimit, () => 'srv-1');
    assert.deepEqual(d, { ok: true, clientId: 'srv-1', assigned: true, keepaliveSec: 60 });
  });
  it('rejects an empty one without clean session on 3.1.1 with 0x85 (return code 2)', () => {
    const r = rejected(validateConnect(connect({ clientId: '', clean: false }), noLimit, assignId));
    assert.equal(r.reasonCode, ReasonCode.ClientIdentifierNotValid);
    assert.equal(connackCodeForV3(r.reasonCode), 2);
  });
  it('always assigns on v5, clean start or not', () => {
    for (const clean of [true, false]) {
      const d = validateConnect(connect({ protocolVersion: 5, clientId: '', clean }), noLimit, () => 'srv-2');
      assert.deepEqual(d, { ok: true, clientId: 'srv-2', assigned: true, keepaliveSec: 60 });
    }
  });
  it('rejects an empty one on MQTT 3.1', () => {
    const r = rejected(validateConnect(connect({ protocolId: 'MQIsdp', protocolVersion: 3, clientId: '' }), noLimit, assignId));
    assert.equal(r.reasonCode, ReasonCode.ClientIdentifierNotValid);
  });
  it('rejects one longer than 65535 bytes and accepts exactly 65535', () => {
    const r = rejected(validateConnect(connect({ clientId: 'é'.repeat(32768) }), noLimit, assignId));
    assert.equal(r.reasonCode, ReasonCode.ClientIdentifierNotValid);
    assert.equal(validateConnect(connect({ clientId: 'x'.repeat(65535) }), noLimit, assignId).ok, true);
  });
  it('rejects one containing U+0000', () => {
    const r = rejected(validateConnect(connect({ clientId: 'a\u0000b' }), noLimit, assignId));
    assert.equal(r.reasonCode, ReasonCode.ClientIdentifierNotValid);
    assert.match(r.detail, /U\+0000/);
  });
  it('does not call assignId when the client has an id', () => {
    validateConnect(connect(), noLimit, () => assert.fail('assignId called'));
  });
});

describe('validateConnect: will', () => {
  const will = { topic: 'a/b', payload: Buffer.from('bye'), qos: 1 as const, retain: false };
  it('accepts a valid will', () => {
    assert.equal(validateConnect(connect({ will }), noLimit, assignId).ok, true);
  });
  it('rejects will QoS 3 as a protocol error [MQTT-3.1.2-14]', () => {
    const r = rejected(validateConnect(connect({ will: { ...will, qos: 3 as unknown as 1 } }), noLimit, assignId));
    assert.equal(r.reasonCode, ReasonCode.ProtocolError);
    assert.equal(isProtocolViolationCode(r.reasonCode), true);
  });
  it('mqtt-packet itself rejects will QoS/retain without the will flag', () => {
    // Connect flags 0x10 = will QoS 2 with will flag 0; 0x20 = will retain with will flag 0.
    for (const flags of [0x12, 0x22]) {
      const p = mqttPacket.parser();
      let error: unknown = null;
      p.on('error', (e) => (error = e));
      p.parse(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, flags, 0, 60, 0, 0]));
      assert.ok(error instanceof Error, `flags ${flags.toString(16)} accepted`);
    }
  });
  it('validates the will topic with validateTopicName', () => {
    for (const topic of ['a/+', 'a/#', '', 'a\u0000']) {
      const r = rejected(validateConnect(connect({ will: { ...will, topic } }), noLimit, assignId));
      assert.equal(r.reasonCode, ReasonCode.TopicNameInvalid, topic);
      assert.match(r.detail, /will topic/);
    }
  });
  it('v5: rejects a will payload that is not UTF-8 when its format indicator says so', () => {
    const bad = { ...will, payload: Buffer.from([0xff, 0xfe]), properties: { payloadFormatIndicator: true } };
    const r = rejected(validateConnect(connect({ protocolVersion: 5, will: bad }), noLimit, assignId));
    assert.equal(r.reasonCode, ReasonCode.PayloadFormatInvalid);
    const ok = { ...bad, payload: Buffer.from('héllo') };
    assert.equal(validateConnect(connect({ protocolVersion: 5, will: ok }), noLimit, assignId).ok, true);
  });
});

describe('validateConnect: v5 properties', () => {
  it('rejects Receive Maximum 0 and Maximum Packet Size 0 with 0x82', () => {
    for (const properties of [{ receiveMaximum: 0 }, { maximumPacketSize: 0 }]) {
      const r = rejected(validateConnect(connect({ protocolVersion: 5, properties }), noLimit, assignId));
      assert.equal(r.reasonCode, ReasonCode.ProtocolError, JSON.stringify(properties));
    }
  });
  it('rejects a property that appears twice (mqtt-packet makes it an array)', () => {
    const properties = { receiveMaximum: [5, 6] as unknown as number };
    const r = rejected(validateConnect(connect({ protocolVersion: 5, properties }), noLimit, assignId));
    assert.equal(r.reasonCode, ReasonCode.ProtocolError);
    assert.match(r.detail, /receiveMaximum/);
  });
  it('rejects Authentication Data without Authentication Method', () => {
    const properties = { authenticationData: Buffer.from('x') };
    const r = rejected(validateConnect(connect({ protocolVersion: 5, properties }), noLimit, assignId));
    assert.equal(r.reasonCode, ReasonCode.ProtocolError);
  });
});

describe('validateConnect: keepalive', () => {
  const limit = { maxKeepaliveSec: 100 };
  it('keeps a keepalive within the limit, and anything when there is no limit', () => {
    assert.deepEqual(validateConnect(connect({ keepalive: 100 }), limit, assignId), { ok: true, clientId: 'c1', assigned: false, keepaliveSec: 100 });
    assert.deepEqual(validateConnect(connect({ keepalive: 65535 }), noLimit, assignId), { ok: true, clientId: 'c1', assigned: false, keepaliveSec: 65535 });
    assert.deepEqual(validateConnect(connect({ keepalive: 0, protocolVersion: 5 }), noLimit, assignId), { ok: true, clientId: 'c1', assigned: false, keepaliveSec: 0 });
  });
  it('v5: clamps a larger keepalive and announces Server Keep Alive', () => {
    assert.deepEqual(validateConnect(connect({ protocolVersion: 5, keepalive: 101 }), limit, assignId), {
      ok: true, clientId: 'c1', assigned: false, keepaliveSec: 100, serverKeepAlive: 100,
    });
  });
  it('v5: keepalive 0 (none) is replaced by the limit and announced', () => {
    assert.deepEqual(validateConnect(connect({ protocolVersion: 5, keepalive: 0 }), limit, assignId), {
      ok: true, clientId: 'c1', assigned: false, keepaliveSec: 100, serverKeepAlive: 100,
    });
  });
  it('3.1.1: clamps silently (enforced, not announced) and leaves 0 alone', () => {
    assert.deepEqual(validateConnect(connect({ keepalive: 500 }), limit, assignId), { ok: true, clientId: 'c1', assigned: false, keepaliveSec: 100 });
    assert.deepEqual(validateConnect(connect({ keepalive: 0 }), limit, assignId), { ok: true, clientId: 'c1', assigned: false, keepaliveSec: 0 });
  });
});
