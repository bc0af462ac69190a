// MQTT 5 features end to end: topic aliases both ways, Maximum Packet Size both ways, Message
// Expiry on queued messages, forwarded PUBLISH properties, ack reason codes, CONNECT flags.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { collector, connect, removeDir, startTestNode, type TestNode, connectCollecting } from '../helpers/node.js';
import { WireClient } from '../unit/transport/wire.js';

const MAX_TOPIC_ALIAS = 4;
const MAX_PACKET_SIZE = 10_000;

let node: TestNode;
const clients: MqttClient[] = [];
const wires: WireClient[] = [];

async function client(opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await connect(node.url, { protocolVersion: 5, ...opts });
  clients.push(c);
  return c;
}

/** Connects with a collector attached before CONNECT: messages resumed right after CONNACK count. */
async function resumingClient(opts: IClientOptions): Promise<{ c: MqttClient; got: ReturnType<typeof collector> }> {
  const r = await connectCollecting(node.url, { protocolVersion: 5, ...opts });
  clients.push(r.c);
  return r;
}

async function wire(clientId: string, over: Record<string, unknown> = {}): Promise<{ w: WireClient; connack: Packet }> {
  const w = await WireClient.connect(node.handle.mqtt.port, 5);
  wires.push(w);
  const connack = await w.handshake({ clientId, ...over });
  return { w, connack };
}

function publishPacket(topic: string, payload: string | Buffer, over: Partial<IPublishPacket> = {}): IPublishPacket {
  return { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: 0, retain: false, dup: false, ...over };
}

/** Every packet `c` receives, copied as it arrives (MQTT.js later rewrites aliased topics in place). */
function packetLog(c: MqttClient): Packet[] {
  const log: Packet[] = [];
  c.on('packetreceive', (p) => log.push({ ...p, ...('properties' in p && p.properties ? { properties: { ...p.properties } } : {}) } as Packet));
  return log;
}

before(async () => {
  node = await startTestNode({ maxTopicAlias: MAX_TOPIC_ALIAS, maxPacketSize: MAX_PACKET_SIZE });
});

after(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => {});
  for (const w of wires) w.destroy();
  await node.stop();
  removeDir(node.dataDir);
});

describe('topic aliases', () => {
  it('CONNACK announces our Topic Alias Maximum and Maximum Packet Size', async () => {
    const { connack } = await wire('ta-connack');
    assert.equal((connack as { properties?: { topicAliasMaximum?: number } }).properties?.topicAliasMaximum, MAX_TOPIC_ALIAS);
    assert.equal((connack as { properties?: { maximumPacketSize?: number } }).properties?.maximumPacketSize, MAX_PACKET_SIZE);
  });

  it('client → broker: an alias is set with a topic and reused with an empty topic', async () => {
    const sub = await client();
    const got = collector(sub);
    await sub.subscribeAsync('ta/in/#', { qos: 0 });
    const { w } = await wire('ta-in');
    w.send(publishPacket('ta/in/one', 'a', { properties: { topicAlias: 1 } }));
    w.send(publishPacket('', 'b', { properties: { topicAlias: 1 } }));
    w.send(publishPacket('ta/in/two', 'c', { properties: { topicAlias: 1 } })); // redefined
    w.send(publishPacket('', 'd', { properties: { topicAlias: 1 } }));
    w.send(publishPacket('ta/in/max', 'e', { properties: { topicAlias: MAX_TOPIC_ALIAS } }));
    w.send(publishPacket('', 'f', { properties: { topicAlias: MAX_TOPIC_ALIAS } }));
    await got.until(6);
    assert.deepEqual(got.messages.map((m) => [m.topic, m.payload]), [
      ['ta/in/one', 'a'],
      ['ta/in/one', 'b'],
      ['ta/in/two', 'c'],
      ['ta/in/two', 'd'],
      ['ta/in/max', 'e'],
      ['ta/in/max', 'f'],
    ]);
    // The alias is the publisher's business: it is not forwarded.
    assert.ok(got.messages.every((m) => m.packet.properties?.topicAlias === undefined));
  });

  it('client → broker: an alias above our maximum → DISCONNECT 0x94', async () => {
    const { w } = await wire('ta-in-over');
    w.send(publishPacket('ta/in/over', 'x', { properties: { topicAlias: MAX_TOPIC_ALIAS + 1 } }));
    const d = await w.expect('disconnect');
    assert.equal(d.reasonCode, ReasonCode.TopicAliasInvalid); // [MQTT-3.3.2-9]
    await w.waitClosed();
  });

  it('client → broker: an unknown alias with an empty topic is a protocol error', async () => {
    const { w } = await wire('ta-in-unknown');
    w.send(publishPacket('', 'x', { properties: { topicAlias: 2 } }));
    const d = await w.expect('disconnect');
    assert.equal(d.reasonCode, ReasonCode.ProtocolError);
    await w.waitClosed();
  });

  it('broker → client (raw): with Topic Alias Maximum 2 the second message on a topic comes as alias only', async () => {
    const { w } = await wire('ta-out-raw', { properties: { topicAliasMaximum: 2 } });
    w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ta/out/#', qos: 0 }] });
    await w.expect('suback');
    const pub = await client();
    for (const t of ['ta/out/a', 'ta/out/a', 'ta/out/b', 'ta/out/c', 'ta/out/b', 'ta/out/c']) await pub.publishAsync(t, t, { qos: 0 });
    const seen: [string, number | undefined, string][] = [];
    for (let i = 0; i < 6; i++) {
      const p = await w.expect('publish');
      seen.push([p.topic, p.properties?.topicAlias, p.payload.toString()]);
    }
    assert.deepEqual(seen, [
      ['ta/out/a', 1, 'ta/out/a'],
      ['', 1, 'ta/out/a'],
      ['ta/out/b', 2, 'ta/out/b'],
      ['ta/out/c', undefined, 'ta/out/c'], // aliases used up: the topic goes in full
      ['', 2, 'ta/out/b'],
      ['ta/out/c', undefined, 'ta/out/c'],
    ]);
  });

  it('broker → client (MQTT.js): the packet carries the alias with an empty topic, MQTT.js resolves it', async () => {
    const sub = await client({ properties: { topicAliasMaximum: 5 } });
    const log = packetLog(sub);
    const got = collector(sub);
    await sub.subscribeAsync('ta/js', { qos: 1 });
    const pub = await client();
    await pub.publishAsync('ta/js', '1', { qos: 1 });
    await pub.publishAsync('ta/js', '2', { qos: 1 });
    await got.until(2);
    const wirePublishes = log.filter((p): p is IPublishPacket => p.cmd === 'publish');
    assert.deepEqual(wirePublishes.map((p) => [p.topic, p.properties?.topicAlias]), [['ta/js', 1], ['', 1]]);
    assert.deepEqual(got.messages.map((m) => [m.topic, m.packet.properties?.topicAlias]), [['ta/js', 1], ['ta/js', 1]]);
  });

  it('no aliases towards a client that did not announce a Topic Alias Maximum', async () => {
    const { w } = await wire('ta-out-none');
    w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ta/none', qos: 0 }] });
    await w.expect('suback');
    const pub = await client();
    await pub.publishAsync('ta/none', '1', { qos: 0 });
    await pub.publishAsync('ta/none', '2', { qos: 0 });
    for (let i = 0; i < 2; i++) {
      const p = await w.expect('publish');
      assert.equal(p.topic, 'ta/none');
      assert.equal(p.properties?.topicAlias, undefined); // [MQTT-3.3.2-10]
    }
  });
});

describe('Maximum Packet Size', () => {
  for (const qos of [0, 1] as const) {
    it(`QoS ${qos}: a message larger than a client's maximum is not sent to it; other clients get it; later ones still flow`, async () => {
      const topic = `mps/${qos}`;
      const small = await client({ properties: { maximumPacketSize: 200 } });
      const big = await client();
      const gotSmall = collector(small);
      const gotBig = collector(big);
      await small.subscribeAsync(topic, { qos });
      await big.subscribeAsync(topic, { qos });
      const pub = await client();
      await pub.publishAsync(topic, 'x'.repeat(500), { qos });
      await pub.publishAsync(topic, 'fits', { qos });
      await gotBig.until(2);
      await gotSmall.until(1);
      assert.deepEqual(gotBig.messages.map((m) => m.payload.length), [500, 4]);
      assert.deepEqual(gotSmall.messages.map((m) => m.payload), ['fits']); // [MQTT-3.1.2-25]
      // A QoS 1 message the client can never see must not block its inflight window.
      for (let i = 0; i < 3; i++) await pub.publishAsync(topic, 'y'.repeat(300), { qos });
      await pub.publishAsync(topic, 'after', { qos });
      await gotSmall.until(2);
      assert.deepEqual(gotSmall.messages.map((m) => m.payload), ['fits', 'after']);
    });
  }

  it('an inbound packet larger than our maximum → DISCONNECT 0x95', async () => {
    const sub = await client();
    const got = collector(sub);
    await sub.subscribeAsync('mps/in', { qos: 0 });
    const { w } = await wire('mps-in');
    w.send(publishPacket('mps/in', Buffer.alloc(MAX_PACKET_SIZE + 1, 1)));
    const d = await w.expect('disconnect');
    assert.equal(d.reasonCode, ReasonCode.PacketTooLarge); // [MQTT-3.2.2-15]
    await w.waitClosed();
    // Just under the limit passes.
    const { w: w2 } = await wire('mps-in-ok');
    w2.send(publishPacket('mps/in', Buffer.alloc(MAX_PACKET_SIZE - 100, 2)));
    await got.until(1);
    assert.equal(got.messages[0]!.packet.payload.length, MAX_PACKET_SIZE - 100);
  });
});

describe('Message Expiry Interval', () => {
  it('queued for an offline session: forwarded with the remaining interval; expired ones dropped', async () => {
    const clientId = 'mx-offline';
    const opts: IClientOptions = { clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
    const sub = await client(opts);
    await sub.subscribeAsync('mx/q', { qos: 1 });
    await sub.endAsync();
    const pub = await client();
    await pub.publishAsync('mx/q', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync('mx/q', 'long', { qos: 1, properties: { messageExpiryInterval: 60 } });
    await pub.publishAsync('mx/q', 'forever', { qos: 1 });
    await pub.publishAsync('mx/q', 'short0', { qos: 0, properties: { messageExpiryInterval: 1 } });
    // What is under test is elapsed time: the queued copies must age by more than 1 s.
    await delay(1200);
    const { got } = await resumingClient({ ...opts, properties: { sessionExpiryInterval: 0 } });
    await got.until(2);
    await pub.publishAsync('mx/q', 'fence', { qos: 1 });
    await got.until(3);
    assert.deepEqual(got.messages.map((m) => m.payload), ['long', 'forever', 'fence']); // [MQTT-3.3.2-5]
    const long = got.messages[0]!.packet.properties?.messageExpiryInterval;
    assert.ok(long !== undefined && long < 60 && long >= 58, `remaining expiry ${long}`); // [MQTT-3.3.2-6]
    assert.equal(got.messages[1]!.packet.properties?.messageExpiryInterval, undefined);
  });

  it('an online subscriber gets the interval it was published with (less whole seconds elapsed)', async () => {
    const sub = await client();
    const got = collector(sub);
    await sub.subscribeAsync('mx/online', { qos: 1 });
    const pub = await client();
    await pub.publishAsync('mx/online', 'a', { qos: 1, properties: { messageExpiryInterval: 30 } });
    await pub.publishAsync('mx/online', 'b', { qos: 0, properties: { messageExpiryInterval: 30 } });
    await got.until(2);
    assert.deepEqual(got.messages.map((m) => m.packet.properties?.messageExpiryInterval), [30, 30]);
  });
});

describe('forwarded properties', () => {
  const props = {
    userProperties: { a: '1', multi: ['x', 'y'] },
    contentType: 'text/plain; charset=utf-8',
    payloadFormatIndicator: true,
    responseTopic: 'fp/reply',
    correlationData: Buffer.from([0, 255, 7]),
  };

  for (const qos of [0, 1, 2] as const) {
    it(`QoS ${qos}: user properties, content type, payload format, response topic and correlation data pass unchanged`, async () => {
      const sub = await client();
      const got = collector(sub);
      await sub.subscribeAsync('fp/t', { qos });
      const pub = await client();
      await pub.publishAsync('fp/t', 'héllo', { qos, properties: props });
      await got.until(1);
      const p = got.messages[0]!.packet.properties!;
      assert.deepEqual({ ...p.userProperties }, props.userProperties); // [MQTT-3.3.2-17], [MQTT-3.3.2-18]
      assert.equal(p.contentType, props.contentType); // [MQTT-3.3.2-20]
      assert.equal(p.payloadFormatIndicator, true); // [MQTT-3.3.2-4]
      assert.equal(p.responseTopic, props.responseTopic); // [MQTT-3.3.2-15]
      assert.deepEqual(Buffer.from(p.correlationData!), props.correlationData); // [MQTT-3.3.2-16]
      assert.equal(got.messages[0]!.payload, 'héllo');
      await sub.endAsync();
    });
  }

  it('no properties arrive that were not sent', async () => {
    const sub = await client();
    const got = collector(sub);
    await sub.subscribeAsync('fp/none', { qos: 1 });
    const pub = await client();
    await pub.publishAsync('fp/none', 'x', { qos: 1 });
    await got.until(1);
    assert.deepEqual({ ...got.messages[0]!.packet.properties }, {});
  });

  it('payload format indicator 1 with invalid UTF-8 → DISCONNECT 0x99, nothing forwarded', async () => {
    const sub = await client();
    const got = collector(sub);
    await sub.subscribeAsync('fp/utf8', { qos: 0 });
    const { w } = await wire('fp-bad-utf8');
    w.send(publishPacket('fp/utf8', Buffer.from([0xc3, 0x28]), { properties: { payloadFormatIndicator: true } }));
    const d = await w.expect('disconnect');
    assert.equal(d.reasonCode, ReasonCode.PayloadFormatInvalid);
    await w.waitClosed();
    // Invalid UTF-8 without the indicator is just bytes.
    const pub = await client();
    await pub.publishAsync('fp/utf8', Buffer.from([0xc3, 0x28]), { qos: 1 });
    await got.until(1);
    assert.deepEqual([...got.messages[0]!.packet.payload], [0xc3, 0x28]);
    assert.equal(got.messages.length, 1);
  });
});

describe('ack reason codes and CONNECT flags', () => {
  it('PUBACK / PUBREC 0x10 No Matching Subscribers when nobody is subscribed, 0x00 otherwise', async () => {
    const pub = await client();
    const log = packetLog(pub);
    await pub.publishAsync('rc/nobody', 'x', { qos: 1 });
    await pub.publishAsync('rc/nobody', 'x', { qos: 2 });
    const sub = await client();
    await sub.subscribeAsync('rc/somebody', { qos: 0 });
    await pub.publishAsync('rc/somebody', 'x', { qos: 1 });
    await pub.publishAsync('rc/somebody', 'x', { qos: 2 });
    const acks = log.filter((p) => p.cmd === 'puback' || p.cmd === 'pubrec').map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode ?? 0]);
    assert.deepEqual(acks, [
      ['puback', ReasonCode.NoMatchingSubscribers],
      ['pubrec', ReasonCode.NoMatchingSubscribers],
      ['puback', 0],
      ['pubrec', 0],
    ]);
  });

  it('UNSUBACK: 0x00 for an existing subscription, 0x11 for one that did not exist', async () => {
    const { w } = await wire('rc-unsub');
    w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rc/u', qos: 0 }] });
    await w.expect('suback');
    w.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['rc/u', 'rc/never'] });
    const u = await w.expect('unsuback');
    assert.equal(u.messageId, 2);
    assert.deepEqual(u.granted, [ReasonCode.Success, ReasonCode.NoSubscriptionExisted]);
    w.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['rc/u'] });
    assert.deepEqual((await w.expect('unsuback')).granted, [ReasonCode.NoSubscriptionExisted]);
  });

  it('Request Response Information and Request Problem Information are accepted', async () => {
    for (const [rri, rpi] of [[true, false], [false, true], [true, true], [false, false]] as const) {
      const { w, connack } = await wire(`rc-flags-${rri}-${rpi}`, { properties: { requestResponseInformation: rri, requestProblemInformation: rpi } });
      assert.equal((connack as { reasonCode?: number }).reasonCode, ReasonCode.Success);
      // The connection works.
      w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rc/flags', qos: 1 }] });
      assert.deepEqual((await w.expect('suback')).granted, [1]);
      w.send({ cmd: 'disconnect', reasonCode: 0 });
      await w.waitClosed();
    }
  });
});
