// Session lifecycle end to end: clean and persistent sessions (3.1.1 Clean Session, v5 Clean
// Start + Session Expiry Interval), expiry, DISCONNECT changing the expiry, survival across a
// graceful restart, redelivery with DUP, same-node takeover and the inflight window in both
// directions. MQTT.js where a normal client suffices, raw mqtt-packet sockets where the test must
// withhold acknowledgements or misbehave.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import type { IConnackPacket, IDisconnectPacket, IPubackPacket, IPublishPacket, Packet } from 'mqtt-packet';
import type { NodeEvents } from '../../src/node.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { collector, connect, removeDir, startTestNode, tempDir, waitFor, type TestNode } from '../helpers/node.js';
import { WireClient } from '../unit/transport/wire.js';

/** Connects an MQTT.js client and returns it with its CONNACK (session present, properties). */
async function openClient(url: string, opts: IClientOptions): Promise<{ client: MqttClient; connack: IConnackPacket; msgs: ReturnType<typeof collector> }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  // Attached before CONNACK: queued messages may arrive in the same read as the CONNACK.
  const msgs = collector(client);
  const failed = waitFor<[Error]>(client, 'error').then(([e]) => {
    throw e;
  });
  try {
    const [connack] = await Promise.race([waitFor<[IConnackPacket]>(client, 'connect'), failed]);
    return { client, connack, msgs };
  } catch (e) {
    client.end(true);
    throw e;
  } finally {
    failed.catch(() => {});
  }
}

function sessionEvent(node: TestNode, name: string, clientId: string, ms = 5000): Promise<NodeEvents['session.event']> {
  return waitFor<NodeEvents['session.event']>(node.handle.events, 'session.event', (e) => e.name === name && e.clientId === clientId, ms);
}

function disconnected(node: TestNode, clientId: string, ms = 5000): Promise<NodeEvents['client.disconnected']> {
  return waitFor<NodeEvents['client.disconnected']>(node.handle.events, 'client.disconnected', (e) => e.clientId === clientId, ms);
}

/** A PINGREQ round trip: every packet the server wrote before the PINGRESP has arrived. */
async function settle(w: WireClient): Promise<Packet[]> {
  const seen: Packet[] = [];
  w.send({ cmd: 'pingreq' });
  for (;;) {
    const p = await w.next();
    if (p.cmd === 'pingresp') return seen;
    seen.push(p);
  }
}

/** Publishes QoS 1 from a raw v5 connection and returns the PUBACK reason code (MQTT.js hides it). */
async function publishAckCode(port: number, topic: string, payload: string): Promise<number> {
  const w = await WireClient.connect(port, 5);
  try {
    await w.handshake({ clientId: `acker-${topic}` });
    w.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, messageId: 1, retain: false, dup: false });
    const ack = (await w.next()) as IPubackPacket;
    assert.equal(ack.cmd, 'puback');
    w.send({ cmd: 'disconnect', reasonCode: 0 });
    return ack.reasonCode ?? ReasonCode.Success;
  } finally {
    w.destroy();
  }
}

function publishes(packets: Packet[]): IPublishPacket[] {
  return packets.filter((p): p is IPublishPacket => p.cmd === 'publish');
}

describe('sessions', { timeout: 30_000 }, () => {
  let node: TestNode;
  let pub: MqttClient;
  before(async () => {
    node = await startTestNode();
    pub = await connect(node.url, { protocolVersion: 5, clientId: 'sessions-publisher' });
  });
  after(async () => {
    await pub.endAsync();
    await node.stop();
    removeDir(node.dataDir);
  });

  it('3.1.1 persistent session: session present, subscription kept, QoS 1 queued while offline', async () => {
    const id = 'v4-persistent';
    const first = await openClient(node.url, { protocolVersion: 4, clientId: id, clean: false });
    assert.equal(first.connack.sessionPresent, false);
    await first.client.subscribeAsync('v4p/t', { qos: 1 });
    const gone = disconnected(node, id);
    await first.client.endAsync();
    await gone;
    await pub.publishAsync('v4p/t', 'while away 1', { qos: 1 });
    await pub.publishAsync('v4p/t', 'while away 2', { qos: 1 });

    const second = await openClient(node.url, { protocolVersion: 4, clientId: id, clean: false });
    try {
      assert.equal(second.connack.sessionPresent, true);
      const msgs = second.msgs;
      const got = await msgs.until(2);
      assert.deepEqual(got.map((m) => [m.payload, m.packet.qos]), [['while away 1', 1], ['while away 2', 1]]);
      // The subscription itself survived: no SUBSCRIBE on this connection.
      await pub.publishAsync('v4p/t', 'live', { qos: 1 });
      assert.equal((await msgs.until(3))[2]!.payload, 'live');
    } finally {
      await second.client.endAsync();
    }
    // Clean Session 1 discards it [MQTT-3.1.2-6].
    const clean = await openClient(node.url, { protocolVersion: 4, clientId: id, clean: true });
    try {
      assert.equal(clean.connack.sessionPresent, false);
      const ack = await publishAckCode(node.handle.mqtt.port, 'v4p/t', 'nobody');
      assert.equal(ack, ReasonCode.NoMatchingSubscribers);
    } finally {
      await clean.client.endAsync();
    }
  });

  it('3.1.1 clean session: nothing kept after disconnect', async () => {
    const id = 'v4-clean';
    const first = await openClient(node.url, { protocolVersion: 4, clientId: id, clean: true });
    await first.client.subscribeAsync('v4c/t', { qos: 1 });
    const ended = sessionEvent(node, 'session.ended', id);
    await first.client.endAsync();
    await ended;
    const ack = await publishAckCode(node.handle.mqtt.port, 'v4c/t', 'nobody');
    assert.equal(ack, ReasonCode.NoMatchingSubscribers);
    const again = await openClient(node.url, { protocolVersion: 4, clientId: id, clean: false });
    assert.equal(again.connack.sessionPresent, false);
    await again.client.endAsync();
  });

  for (const [label, expiry, present] of [
    ['0 ends the session with the connection', 0, false],
    ['60 keeps it', 60, true],
    ['0xFFFFFFFF keeps it', 0xffffffff, true],
  ] as const) {
    it(`v5 Session Expiry Interval ${label}`, async () => {
      const id = `v5-expiry-${expiry}`;
      const first = await openClient(node.url, { protocolVersion: 5, clientId: id, clean: true, properties: { sessionExpiryInterval: expiry } });
      assert.equal(first.connack.sessionPresent, false);
      await first.client.subscribeAsync(`v5e/${expiry}`, { qos: 1 });
      const gone = disconnected(node, id);
      await first.client.endAsync();
      await gone;
      const ack = await publishAckCode(node.handle.mqtt.port, `v5e/${expiry}`, 'queued');
      assert.equal(ack, present ? ReasonCode.Success : ReasonCode.NoMatchingSubscribers);
      const second = await openClient(node.url, { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 0 } });
      try {
        assert.equal(second.connack.sessionPresent, present);
        if (present) {
          const [m] = await second.msgs.until(1);
          assert.equal(m!.payload, 'queued');
        }
      } finally {
        await second.client.endAsync();
      }
    });
  }

  it('v5 Clean Start discards an existing session', async () => {
    const id = 'v5-clean-start';
    const first = await openClient(node.url, { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    await first.client.subscribeAsync('v5cs/t', { qos: 1 });
    await first.client.endAsync();
    const second = await openClient(node.url, { protocolVersion: 5, clientId: id, clean: true, properties: { sessionExpiryInterval: 60 } });
    try {
      assert.equal(second.connack.sessionPresent, false);
      const ack = await publishAckCode(node.handle.mqtt.port, 'v5cs/t', 'nobody');
      assert.equal(ack, ReasonCode.NoMatchingSubscribers);
    } finally {
      await second.client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
    }
  });

  it('an expired session is gone: no session present, no queued messages, no subscriptions', async () => {
    const id = 'v5-expires';
    const w = await WireClient.connect(node.handle.mqtt.port, 5);
    try {
      await w.handshake({ clientId: id, clean: true, properties: { sessionExpiryInterval: 1 } });
      w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'exp/t', qos: 1 }] });
      assert.equal((await w.next()).cmd, 'suback');
      w.send({ cmd: 'disconnect', reasonCode: 0 });
      await w.waitClosed();
    } finally {
      w.destroy();
    }
    const ended = sessionEvent(node, 'session.ended', id, 4000);
    const ack = await publishAckCode(node.handle.mqtt.port, 'exp/t', 'queued then lost');
    assert.equal(ack, ReasonCode.Success, 'queued for the offline session');
    await ended;
    const back = await WireClient.connect(node.handle.mqtt.port, 5);
    try {
      const connack = (await back.handshake({ clientId: id, clean: false, properties: { sessionExpiryInterval: 0 } })) as IConnackPacket;
      assert.equal(connack.sessionPresent, false);
      assert.deepEqual(publishes(await settle(back)), [], 'the queued message went with the session');
      const ack2 = await publishAckCode(node.handle.mqtt.port, 'exp/t', 'nobody');
      assert.equal(ack2, ReasonCode.NoMatchingSubscribers, 'the subscription went with the session');
    } finally {
      back.destroy();
    }
  });

  it('v5 DISCONNECT with Session Expiry Interval 0 ends a persistent session', async () => {
    const id = 'v5-disconnect-expiry-0';
    const w = await WireClient.connect(node.handle.mqtt.port, 5);
    try {
      await w.handshake({ clientId: id, clean: true, properties: { sessionExpiryInterval: 300 } });
      w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'dexp0/t', qos: 1 }] });
      await w.next();
      const ended = sessionEvent(node, 'session.ended', id);
      w.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await ended;
      await w.waitClosed();
    } finally {
      w.destroy();
    }
    const again = await openClient(node.url, { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } });
    assert.equal(again.connack.sessionPresent, false);
    await again.client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
  });

  it('v5 DISCONNECT with a shorter Session Expiry Interval makes the session expire then', async () => {
    const id = 'v5-disconnect-expiry-1';
    const w = await WireClient.connect(node.handle.mqtt.port, 5);
    const started = Date.now();
    try {
      await w.handshake({ clientId: id, clean: true, properties: { sessionExpiryInterval: 3600 } });
      w.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 1 } });
      await w.waitClosed();
    } finally {
      w.destroy();
    }
    await sessionEvent(node, 'session.ended', id, 4000);
    assert.ok(Date.now() - started >= 900, 'not before the new interval');
  });

  it('redelivers an unacknowledged QoS 1 message with DUP on resume [MQTT-4.4.0-1]', async () => {
    const id = 'dup-resume';
    const port = node.handle.mqtt.port;
    const w = await WireClient.connect(port, 4);
    let first: IPublishPacket;
    try {
      await w.handshake({ clientId: id, clean: false });
      w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'dup/t', qos: 1 }] });
      await w.next();
      await pub.publishAsync('dup/t', 'ack me later', { qos: 1 });
      first = (await w.next()) as IPublishPacket;
      assert.equal(first.cmd, 'publish');
      assert.equal(first.dup, false);
    } finally {
      w.destroy(); // no PUBACK, no DISCONNECT
    }
    await disconnected(node, id);
    const back = await WireClient.connect(port, 4);
    try {
      const connack = (await back.handshake({ clientId: id, clean: false })) as IConnackPacket;
      assert.equal(connack.sessionPresent, true);
      const again = (await back.next()) as IPublishPacket;
      assert.equal(again.cmd, 'publish');
      assert.equal(again.dup, true);
      assert.equal(again.messageId, first.messageId);
      assert.equal(again.payload.toString(), 'ack me later');
      back.send({ cmd: 'puback', messageId: again.messageId! });
      assert.deepEqual(publishes(await settle(back)), []);
    } finally {
      back.destroy();
    }
    // Acknowledged now: a third connection gets nothing.
    await disconnected(node, id);
    const third = await WireClient.connect(port, 4);
    try {
      await third.handshake({ clientId: id, clean: false });
      assert.deepEqual(publishes(await settle(third)), []);
      third.send({ cmd: 'disconnect' });
    } finally {
      third.destroy();
    }
  });

  it('takeover on the same node: the old v5 connection gets DISCONNECT 0x8E, the session continues [MQTT-3.1.4-3]', async () => {
    const id = 'takeover-v5';
    const opts: IClientOptions = { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } };
    const a = await openClient(node.url, opts);
    await a.client.subscribeAsync('take/t', { qos: 1 });
    const kicked = waitFor<[IDisconnectPacket]>(a.client, 'disconnect');
    const b = await openClient(node.url, opts);
    try {
      const [packet] = await kicked;
      assert.equal(packet.reasonCode, ReasonCode.SessionTakenOver);
      assert.equal(b.connack.sessionPresent, true);
      const msgs = b.msgs;
      await pub.publishAsync('take/t', 'to the new one', { qos: 1 });
      assert.equal((await msgs.until(1))[0]!.payload, 'to the new one');
    } finally {
      a.client.end(true);
      await b.client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
    }
  });

  it('takeover on the same node: a 3.1.1 old connection is closed, the session continues', async () => {
    const id = 'takeover-v4';
    const a = await WireClient.connect(node.handle.mqtt.port, 4);
    try {
      await a.handshake({ clientId: id, clean: false });
      a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'take4/t', qos: 1 }] });
      await a.next();
      const b = await openClient(node.url, { protocolVersion: 4, clientId: id, clean: false });
      try {
        await a.waitClosed();
        assert.equal(b.connack.sessionPresent, true);
        const msgs = b.msgs;
        await pub.publishAsync('take4/t', 'to the new one', { qos: 1 });
        assert.equal((await msgs.until(1))[0]!.payload, 'to the new one');
      } finally {
        await b.client.endAsync();
      }
    } finally {
      a.destroy();
    }
  });
});

describe('inflight window', { timeout: 20_000 }, () => {
  let node: TestNode;
  let pub: MqttClient;
  before(async () => {
    node = await startTestNode({ maxInflight: 2 });
    pub = await connect(node.url, { protocolVersion: 5, clientId: 'inflight-publisher' });
  });
  after(async () => {
    await pub.endAsync();
    await node.stop();
    removeDir(node.dataDir);
  });

  async function windowOf(w: WireClient, topic: string): Promise<void> {
    w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
    assert.equal((await w.next()).cmd, 'suback');
    // The subscriber's session is persistent, so the PUBACK to the publisher comes after that
    // session has taken (and stored) each message. One at a time: MQTT.js does not hold back for
    // our Receive Maximum (2 here) by itself.
    for (const i of [1, 2, 3, 4, 5]) await pub.publishAsync(topic, `m${i}`, { qos: 1 });
    let outstanding = publishes(await settle(w));
    assert.deepEqual(outstanding.map((p) => p.payload.toString()), ['m1', 'm2'], 'at most 2 unacknowledged');
    const got: string[] = outstanding.map((p) => p.payload.toString());
    while (got.length < 5) {
      w.send({ cmd: 'puback', messageId: outstanding[0]!.messageId! });
      outstanding = outstanding.slice(1);
      const more = publishes(await settle(w));
      assert.equal(more.length, 1, 'each PUBACK opens the window by exactly one');
      outstanding.push(...more);
      got.push(...more.map((p) => p.payload.toString()));
    }
    assert.deepEqual(got, ['m1', 'm2', 'm3', 'm4', 'm5']);
  }

  it('sends at most maxInflight QoS 1 messages unacknowledged; the rest follow the PUBACKs', async () => {
    const w = await WireClient.connect(node.handle.mqtt.port, 4);
    try {
      await w.handshake({ clientId: 'window-server', clean: false });
      await windowOf(w, 'win/server');
    } finally {
      w.destroy();
    }
  });

  it('honours a v5 client Receive Maximum of 2 below our maxInflight', async () => {
    const roomy = await startTestNode({ maxInflight: 50 });
    const p = await connect(roomy.url, { protocolVersion: 5, clientId: 'rm-publisher' });
    const w = await WireClient.connect(roomy.handle.mqtt.port, 5);
    try {
      await w.handshake({ clientId: 'window-client', clean: false, properties: { receiveMaximum: 2, sessionExpiryInterval: 60 } });
      const saved = pub;
      pub = p;
      try {
        await windowOf(w, 'win/client');
      } finally {
        pub = saved;
      }
    } finally {
      w.destroy();
      await p.endAsync();
      await roomy.stop();
      removeDir(roomy.dataDir);
    }
  });

  it('disconnects a v5 publisher that exceeds our Receive Maximum with 0x93 [MQTT-3.3.4-7]', async () => {
    // A persistent subscriber makes the PUBACKs wait for its shard's commit, so all three are
    // outstanding (copies for non-persistent sessions are acknowledged at once).
    const sub = await connect(node.url, { protocolVersion: 5, clientId: 'rm-subscriber', clean: false, properties: { sessionExpiryInterval: 60 } });
    await sub.subscribeAsync('flood/t', { qos: 1 });
    const w = await WireClient.connect(node.handle.mqtt.port, 5);
    try {
      const connack = (await w.handshake({ clientId: 'rm-flooder', clean: true })) as IConnackPacket;
      assert.equal(connack.properties?.receiveMaximum, 2);
      // One write, so the server reads all three before it could acknowledge any.
      const burst = [1, 2, 3].map((id) =>
        mqttPacket.generate({ cmd: 'publish', topic: 'flood/t', payload: Buffer.from(`f${id}`), qos: 1, messageId: id, retain: false, dup: false }, { protocolVersion: 5 }),
      );
      w.raw(Buffer.concat(burst));
      let d: Packet;
      do d = await w.next();
      while (d.cmd === 'puback');
      assert.equal(d.cmd, 'disconnect');
      assert.equal((d as IDisconnectPacket).reasonCode, ReasonCode.ReceiveMaximumExceeded);
      await w.waitClosed();
      const acked = w.packets.filter((p): p is IPubackPacket => p.cmd === 'puback').length;
      assert.ok(acked <= 2);
    } finally {
      w.destroy();
      await sub.endAsync();
    }
  });
});

describe('persistent sessions across a graceful restart', { timeout: 20_000 }, () => {
  const dataDir = tempDir();
  let node: TestNode | null = null;
  after(async () => {
    await node?.stop();
    removeDir(dataDir);
  });

  it('brings back subscriptions and queued QoS 1 and QoS 2 messages', async () => {
    node = await startTestNode({}, { dataDir });
    const id = 'restart-sub';
    const first = await openClient(node.url, { protocolVersion: 4, clientId: id, clean: false });
    await first.client.subscribeAsync({ 'rs/q1': { qos: 1 }, 'rs/q2': { qos: 2 } });
    await first.client.endAsync();
    const p = await connect(node.url, { protocolVersion: 4, clientId: 'restart-pub' });
    await p.publishAsync('rs/q1', 'one', { qos: 1 });
    await p.publishAsync('rs/q2', 'two', { qos: 2 });
    await p.endAsync();
    await node.stop();

    node = await startTestNode({}, { dataDir });
    const back = await openClient(node.url, { protocolVersion: 4, clientId: id, clean: false });
    try {
      assert.equal(back.connack.sessionPresent, true);
      const msgs = back.msgs;
      const got = await msgs.until(2);
      assert.deepEqual(
        got.map((m) => [m.topic, m.payload, m.packet.qos]).sort(),
        [['rs/q1', 'one', 1], ['rs/q2', 'two', 2]],
      );
      const p2 = await connect(node.url, { protocolVersion: 4, clientId: 'restart-pub-2' });
      await p2.publishAsync('rs/q2', 'after restart', { qos: 1 });
      await p2.endAsync();
      assert.equal((await msgs.until(3))[2]!.payload, 'after restart');
    } finally {
      await back.client.endAsync();
    }
  });
});
