// QoS 0/1/2 end to end over real TCP: MQTT.js clients (3.1.1 = protocolVersion 4, and 5) and a
// raw mqtt-packet client for the exchanges MQTT.js hides (resent QoS 2 PUBLISH, PUBREL/PUBCOMP).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { collector, connect, removeDir, startTestNode, type TestNode } from '../helpers/node.js';
import { WireClient } from '../unit/transport/wire.js';

type Version = 4 | 5;
const QOS = [0, 1, 2] as const;

let node: TestNode;
let port: number;
const clients: MqttClient[] = [];
const wires: WireClient[] = [];

async function client(protocolVersion: Version, opts: Record<string, unknown> = {}): Promise<MqttClient> {
  const c = await connect(node.url, { protocolVersion, ...opts });
  clients.push(c);
  return c;
}

async function wire(protocolVersion: Version, clientId: string, over: Record<string, unknown> = {}): Promise<{ w: WireClient; connack: Packet }> {
  const w = await WireClient.connect(port, protocolVersion);
  wires.push(w);
  const connack = await w.handshake({ clientId, ...over });
  return { w, connack };
}

/** The next packet of `cmd`, skipping none: anything else first is a test failure. */
before(async () => {
  // fsync on every commit: a QoS 2 PUBREC waits for the subscribers' commits, and the resend
  // test needs that window wide enough to land resends in it (with 'normal' it is microseconds).
  node = await startTestNode({ storageSync: 'full' });
  port = node.handle.mqtt.port;
});

after(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => {});
  for (const w of wires) w.destroy();
  await node.stop();
  removeDir(node.dataDir);
});

describe('QoS levels in both directions', () => {
  for (const subVersion of [4, 5] as const) {
    for (const pubVersion of [4, 5] as const) {
      it(`v${pubVersion === 4 ? '3.1.1' : '5'} publisher → v${subVersion === 4 ? '3.1.1' : '5'} subscriber: delivered QoS = min(publish, granted)`, async () => {
        const prefix = `qos/m/${pubVersion}-${subVersion}`;
        const sub = await client(subVersion);
        const pub = await client(pubVersion);
        const got = collector(sub);
        // One subscription per granted QoS; each publish QoS goes to each of them.
        const suback = await sub.subscribeAsync(QOS.map((q) => `${prefix}/sub${q}`).reduce<Record<string, { qos: 0 | 1 | 2 }>>((acc, f, i) => {
          acc[f] = { qos: QOS[i]! };
          return acc;
        }, {}));
        assert.deepEqual(suback.map((g) => g.qos).sort(), [0, 1, 2], 'granted QoS = requested QoS (≤ 2)');
        for (const s of QOS) for (const p of QOS) await pub.publishAsync(`${prefix}/sub${s}`, `p${p}`, { qos: p });
        const msgs = await got.until(9);
        await new Promise<void>((r) => setImmediate(r));
        assert.equal(got.messages.length, 9, 'no duplicates');
        for (const s of QOS) {
          for (const p of QOS) {
            const m = msgs.find((x) => x.topic === `${prefix}/sub${s}` && x.payload === `p${p}`);
            assert.ok(m, `missing publish QoS ${p} on subscription QoS ${s}`);
            assert.equal(m.packet.qos, Math.min(s, p), `publish QoS ${p} to subscription QoS ${s}`); // [MQTT-3.3.4-2]
          }
        }
      });
    }
  }

  it('a QoS 2 publish to a QoS 1 subscription arrives as QoS 1 (raw subscriber sees PUBLISH qos 1 and owes only PUBACK)', async () => {
    const { w } = await wire(5, 'qos-raw-downgrade');
    w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'qos/down', qos: 1 }] });
    const suback = await w.expect('suback');
    assert.deepEqual(suback.granted, [1]);
    const pub = await client(5);
    await pub.publishAsync('qos/down', 'x', { qos: 2 });
    const p = await w.expect('publish');
    assert.equal(p.qos, 1);
    assert.equal(p.payload.toString(), 'x');
    w.send({ cmd: 'puback', messageId: p.messageId! });
  });
});

describe('QoS 2 inbound exactly once', () => {
  for (const version of [4, 5] as const) {
    it(`v${version}: a resent QoS 2 PUBLISH (dup=1) before PUBREL is routed once; PUBREL → PUBCOMP`, async () => {
      const topic = `qos/once/${version}`;
      const sub = await client(5);
      const got = collector(sub);
      await sub.subscribeAsync(topic, { qos: 2 });
      const { w } = await wire(version, `qos-once-pub-${version}`);
      const publish: IPublishPacket = { cmd: 'publish', topic, payload: Buffer.from('once'), qos: 2, messageId: 42, retain: false, dup: false };
      // Back to back: the resend races the first copy through the session actor.
      w.send(publish);
      w.send({ ...publish, dup: true });
      const rec1 = await w.expect('pubrec');
      const rec2 = await w.expect('pubrec');
      assert.equal(rec1.messageId, 42);
      assert.equal(rec2.messageId, 42);
      // And once more after the PUBREC, as a client that missed it would.
      w.send({ ...publish, dup: true });
      assert.equal((await w.expect('pubrec')).messageId, 42);
      w.send({ cmd: 'pubrel', messageId: 42 });
      const comp = await w.expect('pubcomp');
      assert.equal(comp.messageId, 42);
      assert.equal(comp.reasonCode ?? 0, 0);
      // After PUBCOMP the id is free: the same id is a new message.
      w.send({ ...publish, payload: Buffer.from('second') });
      await w.expect('pubrec');
      w.send({ cmd: 'pubrel', messageId: 42 });
      await w.expect('pubcomp');
      // Same publisher, same subscription QoS: 'second' arriving means every copy of 'once' has.
      await got.until(2);
      assert.deepEqual(got.messages.map((m) => m.payload), ['once', 'second']);
    });
  }

  it('resends after the first copy was routed but before PUBREC (QoS 1/2 subscribers still committing) are not routed again', async () => {
    const topic = 'qos/once/storm';
    const subs: MqttClient[] = [];
    const counts: ReturnType<typeof collector>[] = [];
    // Persistent QoS 1/2 subscribers: PUBREC waits for their shards to commit, which is the
    // window in which a resend arrives after the first copy left the node.
    for (let i = 0; i < 4; i++) {
      const s = await client(5, { clientId: `qos-storm-sub-${i}`, clean: false, properties: { sessionExpiryInterval: 60 } });
      counts.push(collector(s));
      await s.subscribeAsync(topic, { qos: i % 2 === 0 ? 2 : 1 });
      subs.push(s);
    }
    // A QoS 0 subscriber is written to directly when the first copy is routed: the signal that
    // the resends now hit the window.
    const signal = await client(5);
    const signals = collector(signal);
    await signal.subscribeAsync(topic, { qos: 0 });
    const { w } = await wire(5, 'qos-storm-pub');
    const N = 20;
    // The same packet id every time: an id left behind in the session after PUBCOMP would make
    // the next message look like a resend and lose it.
    const id = 7;
    for (let i = 1; i <= N; i++) {
      const publish: IPublishPacket = { cmd: 'publish', topic, payload: Buffer.from(`m${i}`), qos: 2, messageId: id, retain: false, dup: false };
      const seen = w.packets.length;
      w.send(publish);
      await signals.until(i);
      // A burst of resends right away, then one per event-loop turn until PUBREC arrives.
      for (let k = 0; k < 5; k++) w.send({ ...publish, dup: true });
      while (!w.packets.slice(seen).some((p) => p.cmd === 'pubrec' && p.messageId === id)) {
        w.send({ ...publish, dup: true });
        await new Promise<void>((r) => setImmediate(r));
      }
      // Release; resends still in flight may draw more PUBRECs for this id before the PUBCOMP.
      w.send({ cmd: 'pubrel', messageId: id });
      while (!w.packets.slice(seen).some((p) => p.cmd === 'pubcomp')) await w.next();
      assert.ok(w.packets.slice(seen).every((p) => (p.cmd === 'pubrec' || p.cmd === 'pubcomp') && p.messageId === id && (p.reasonCode ?? 0) === 0));
    }
    // A marker after everything: any extra copy of m1..mN would have arrived before it.
    const pub = await client(5);
    await pub.publishAsync(topic, 'end', { qos: 2 });
    const expected = [...Array.from({ length: N }, (_, i) => `m${i + 1}`), 'end'];
    for (const c of [...counts, signals]) {
      await c.until(N + 1);
      assert.deepEqual(c.messages.map((m) => m.payload), expected);
    }
    for (const s of subs) await s.unsubscribeAsync(topic);
  });

  it('v5: PUBREL for an unknown packet id → PUBCOMP 0x92', async () => {
    const { w } = await wire(5, 'qos-pubrel-unknown');
    w.send({ cmd: 'pubrel', messageId: 999 });
    const comp = await w.expect('pubcomp');
    assert.equal(comp.messageId, 999);
    assert.equal(comp.reasonCode, ReasonCode.PacketIdentifierNotFound);
  });
});

describe('QoS 2 outbound flow', () => {
  it('PUBLISH → PUBREC → PUBREL → PUBCOMP; a subscriber reconnecting between PUBREL and PUBCOMP gets PUBREL again, not the message', async () => {
    const clientId = 'qos-out-flow';
    const { w } = await wire(4, clientId, { clean: false });
    w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'qos/out', qos: 2 }] });
    assert.deepEqual((await w.expect('suback')).granted, [2]);
    const pub = await client(5);
    await pub.publishAsync('qos/out', 'm1', { qos: 2 });
    const p = await w.expect('publish');
    assert.equal(p.qos, 2);
    assert.equal(p.dup, false);
    w.send({ cmd: 'pubrec', messageId: p.messageId! });
    const rel = await w.expect('pubrel');
    assert.equal(rel.messageId, p.messageId);
    // Drop the connection without PUBCOMP: the session must resend PUBREL [MQTT-4.4.0-1].
    w.destroy();
    await w.closed;
    const again = await wire(4, clientId, { clean: false });
    assert.equal((again.connack as { sessionPresent: boolean }).sessionPresent, true);
    const rel2 = await again.w.expect('pubrel');
    assert.equal(rel2.messageId, p.messageId);
    again.w.send({ cmd: 'pubcomp', messageId: p.messageId! });
    // The flow is done: a new message comes next, and the old one never again.
    await pub.publishAsync('qos/out', 'm2', { qos: 2 });
    const p2 = await again.w.expect('publish');
    assert.equal(p2.payload.toString(), 'm2');
    assert.equal(p2.dup, false);
    again.w.send({ cmd: 'pubrec', messageId: p2.messageId! });
    await again.w.expect('pubrel');
    again.w.send({ cmd: 'pubcomp', messageId: p2.messageId! });
    again.w.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['qos/out'] });
    await again.w.expect('unsuback');
  });

  it('an unacknowledged QoS 1 message is resent with DUP=1 on resume', async () => {
    const clientId = 'qos-out-dup';
    const { w } = await wire(5, clientId, { clean: false, properties: { sessionExpiryInterval: 60 } });
    w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'qos/dup', qos: 1 }] });
    await w.expect('suback');
    const pub = await client(4);
    await pub.publishAsync('qos/dup', 'd', { qos: 1 });
    const p = await w.expect('publish');
    assert.equal(p.dup, false);
    w.destroy();
    await w.closed;
    const again = await wire(5, clientId, { clean: false, properties: { sessionExpiryInterval: 0 } });
    const p2 = await again.w.expect('publish');
    assert.equal(p2.dup, true); // [MQTT-3.3.1-1]
    assert.equal(p2.messageId, p.messageId);
    assert.equal(p2.payload.toString(), 'd');
    again.w.send({ cmd: 'puback', messageId: p2.messageId! });
  });
});

describe('ordering', () => {
  for (const version of [4, 5] as const) {
    it(`v${version}: 1000 QoS 1 messages from one publisher arrive in publish order`, async () => {
      const topic = `qos/order/${version}`;
      const sub = await client(version);
      const got = collector(sub);
      await sub.subscribeAsync(topic, { qos: 1 });
      const pub = await client(version);
      const N = 1000;
      // v5: we announce Receive Maximum (maxInflight, 256 by default) and MQTT.js does not honour a
      // server's, so the v5 publisher keeps at most 32 unacknowledged; v3.1.1 has no such limit.
      const window = version === 5 ? 32 : N;
      for (let i = 0; i < N; i += window) {
        const batch: Promise<unknown>[] = [];
        for (let j = i; j < Math.min(N, i + window); j++) batch.push(pub.publishAsync(topic, String(j), { qos: 1 }));
        await Promise.all(batch);
      }
      const msgs = await got.until(N, 20_000);
      assert.equal(msgs.length, N);
      const order = msgs.map((m) => Number(m.payload));
      assert.deepEqual(order, Array.from({ length: N }, (_, i) => i));
      assert.ok(msgs.every((m) => m.packet.qos === 1));
    });
  }
});
