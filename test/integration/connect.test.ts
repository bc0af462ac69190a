// CONNECT handling end to end: a real node over TCP, MQTT.js clients for what a normal client
// does, and raw mqtt-packet sockets for what MQTT.js will not send (bad first packets, second
// CONNECT, unknown protocol levels, silence).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import type { IConnackPacket, IDisconnectPacket } from 'mqtt-packet';
import type { NodeEvents } from '../../src/node.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { collector, connect, removeDir, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { WireClient } from '../unit/transport/wire.js';

describe('CONNECT over the wire', () => {
  let node: TestNode;
  let port: number;
  before(async () => {
    node = await startTestNode({ connectTimeoutMs: 300 });
    port = node.handle.mqtt.port;
  });
  after(async () => {
    await node.stop();
    removeDir(node.dataDir);
  });

  it('closes a connection whose first packet is not CONNECT, without a CONNACK [MQTT-3.1.0-1]', async () => {
    const w = await WireClient.connect(port, 4);
    try {
      w.send({ cmd: 'pingreq' });
      await w.waitClosed();
      assert.equal(w.packets.length, 0, 'nothing may be sent before a CONNECT');
    } finally {
      w.destroy();
    }
  });

  it('closes a v5 connection that sends a second CONNECT with DISCONNECT 0x82 [MQTT-3.1.0-2]', async () => {
    const w = await WireClient.connect(port, 5);
    try {
      const connack = (await w.handshake({ clientId: 'second-connect-v5' })) as IConnackPacket;
      assert.equal(connack.reasonCode, ReasonCode.Success);
      w.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'second-connect-v5', clean: true, keepalive: 0 });
      const d = (await w.next()) as IDisconnectPacket;
      assert.equal(d.cmd, 'disconnect');
      assert.equal(d.reasonCode, ReasonCode.ProtocolError);
      await w.waitClosed();
    } finally {
      w.destroy();
    }
  });

  it('closes a 3.1.1 connection that sends a second CONNECT, with nothing sent', async () => {
    const w = await WireClient.connect(port, 4);
    try {
      await w.handshake({ clientId: 'second-connect-v4' });
      w.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'second-connect-v4', clean: true, keepalive: 0 });
      await w.waitClosed();
      assert.equal(w.packets.length, 1, 'only the CONNACK');
    } finally {
      w.destroy();
    }
  });

  it('answers an unknown protocol level with CONNACK return code 1 [MQTT-3.1.2-2]', async () => {
    const w = await WireClient.connect(port, 4);
    try {
      // MQTT, level 6: mqtt-packet cannot generate it, so the bytes are written by hand.
      const body = [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x00, 0x00, 0x01, 0x61];
      w.raw([0x10, body.length, ...body]);
      await w.waitClosed();
      assert.deepEqual([...w.receivedBytes], [0x20, 0x02, 0x00, 0x01]);
    } finally {
      w.destroy();
    }
  });

  it('answers a v5 CONNECT with a mismatched protocol name with CONNACK 0x84', async () => {
    const w = await WireClient.connect(port, 5);
    try {
      w.send({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 5, clientId: 'bad-name-v5', clean: true, keepalive: 0 });
      const connack = (await w.next()) as IConnackPacket;
      assert.equal(connack.cmd, 'connack');
      assert.equal(connack.reasonCode, ReasonCode.UnsupportedProtocolVersion);
      await w.waitClosed();
    } finally {
      w.destroy();
    }
  });

  it('answers a 3.1.1 CONNECT with a mismatched protocol name with CONNACK return code 1', async () => {
    const w = await WireClient.connect(port, 4);
    try {
      w.send({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 4, clientId: 'bad-name-v4', clean: true, keepalive: 0 });
      const connack = (await w.next()) as IConnackPacket;
      assert.equal(connack.cmd, 'connack');
      assert.equal(connack.returnCode, 1);
      await w.waitClosed();
    } finally {
      w.destroy();
    }
  });

  it('assigns a client id to a v5 client with an empty one (Assigned Client Identifier) and it works', async () => {
    const c = mqtt.connect(node.url, { protocolVersion: 5, clientId: '', clean: true, reconnectPeriod: 0 });
    try {
      const [connack] = await waitFor<[IConnackPacket]>(c, 'connect');
      const id = connack.properties?.assignedClientIdentifier;
      assert.equal(typeof id, 'string');
      assert.ok(id!.length > 0);
      const msgs = collector(c);
      await c.subscribeAsync('assigned/echo', { qos: 1 });
      await c.publishAsync('assigned/echo', 'hi', { qos: 1 });
      const [m] = await msgs.until(1);
      assert.equal(m!.payload, 'hi');
      const logged = node.logs.find((l) => l.event === 'client.connected' && l.clientId === id);
      assert.ok(logged, 'the assigned id is the session id the node logs');
    } finally {
      await c.endAsync();
    }
  });

  it('accepts an empty client id from a 3.1.1 client with clean session', async () => {
    const seen = waitFor<NodeEvents['client.connected']>(node.handle.events, 'client.connected', (e) => e.clientId.startsWith('shoal-'));
    const c = await connect(node.url, { protocolVersion: 4, clientId: '', clean: true });
    try {
      const [e] = await seen;
      assert.equal(e.sessionPresent, false);
      await c.subscribeAsync('empty-id/x', { qos: 0 });
    } finally {
      await c.endAsync();
    }
  });

  it('refuses an empty client id from a 3.1.1 client with clean session 0 (return code 2) [MQTT-3.1.3-8]', async () => {
    const w = await WireClient.connect(port, 4);
    try {
      // mqtt-packet refuses to generate this CONNECT: flags 0x00 (clean session 0), empty client id.
      const body = [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00];
      w.raw([0x10, body.length, ...body]);
      const connack = (await w.next()) as IConnackPacket;
      assert.equal(connack.returnCode, 2);
      await w.waitClosed();
    } finally {
      w.destroy();
    }
  });

  it('serves an MQTT 3.1 client (MQIsdp, level 3)', async () => {
    const c = await connect(node.url, { protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'v31-client', clean: true });
    try {
      const msgs = collector(c);
      await c.subscribeAsync('v31/topic', { qos: 1 });
      await c.publishAsync('v31/topic', 'old but fine', { qos: 1 });
      const [m] = await msgs.until(1);
      assert.equal(m!.payload, 'old but fine');
      assert.equal(m!.packet.qos, 1);
    } finally {
      await c.endAsync();
    }
  });

  it('closes a connection that sends nothing within connectTimeoutMs', async () => {
    const w = await WireClient.connect(port, 4);
    const started = Date.now();
    try {
      await w.waitClosed(3000);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250, `closed after ${elapsed} ms, before the timeout`);
      assert.equal(w.packets.length, 0);
    } finally {
      w.destroy();
    }
  });

  it('logs one line per connect and per disconnect, naming client id, address and reason', async () => {
    const id = 'logged-client';
    const gone = waitFor<NodeEvents['client.disconnected']>(node.handle.events, 'client.disconnected', (e) => e.clientId === id);
    const c = await connect(node.url, { protocolVersion: 5, clientId: id });
    await c.endAsync();
    await gone;
    const connects = node.logs.filter((l) => l.event === 'client.connected' && l.clientId === id);
    const disconnects = node.logs.filter((l) => l.event === 'client.disconnected' && l.clientId === id);
    assert.equal(connects.length, 1);
    assert.equal(disconnects.length, 1);
    assert.match(String(connects[0]!.address), /127\.0\.0\.1/);
    assert.match(String(disconnects[0]!.address), /127\.0\.0\.1/);
    assert.equal(disconnects[0]!.kind, 'normal');
    assert.equal(typeof disconnects[0]!.reason, 'string');
    assert.equal(disconnects[0]!.level, 'info', 'a normal disconnect is info');
  });

  it('logs a protocol violation as a warning naming the client id', async () => {
    const id = 'violating-client';
    const w = await WireClient.connect(port, 5);
    try {
      await w.handshake({ clientId: id });
      const gone = waitFor<NodeEvents['client.disconnected']>(node.handle.events, 'client.disconnected', (e) => e.clientId === id);
      // QoS 0 PUBLISH with a packet id... mqtt-packet will not write one; a wildcard topic name will do [MQTT-3.3.2-2].
      w.send({ cmd: 'publish', topic: 'bad/+/topic', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
      const [e] = await gone;
      assert.equal(e.reason.kind, 'abnormal');
      const line = node.logs.find((l) => l.event === 'client.disconnected' && l.clientId === id);
      assert.ok(line);
      assert.equal(line.level, 'warn');
      assert.match(String(line.detail), /topic/i);
    } finally {
      w.destroy();
    }
  });
});
