// Subscriptions end to end: topic name and filter validation, wildcard matching, `$` topics,
// overlapping subscriptions, and the MQTT 5 subscription options (No Local, Retain As Published,
// Retain Handling, Subscription Identifiers).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IClientSubscribeOptions, MqttClient } from 'mqtt';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { collector, connect, removeDir, startTestNode, type TestNode } from '../helpers/node.js';
import { WireClient } from '../unit/transport/wire.js';

let node: TestNode;
const clients: MqttClient[] = [];
const wires: WireClient[] = [];

async function client(protocolVersion: 4 | 5 = 5): Promise<MqttClient> {
  const c = await connect(node.url, { protocolVersion });
  clients.push(c);
  return c;
}

async function wire(protocolVersion: 4 | 5, clientId: string): Promise<WireClient> {
  const w = await WireClient.connect(node.handle.mqtt.port, protocolVersion);
  wires.push(w);
  await w.handshake({ clientId });
  return w;
}

/** Publishes `marker` on `topic` and waits until `c` has it: everything routed before it has arrived. */
async function fence(pub: MqttClient, c: ReturnType<typeof collector>, topic: string, marker = 'fence'): Promise<void> {
  const had = c.messages.length;
  await pub.publishAsync(topic, marker, { qos: 1 });
  // The PUBACK may come before earlier copies reach this client: wait for the marker itself.
  let n = had + 1;
  while (!c.messages.slice(had).some((m) => m.payload === marker)) await c.until(n++);
  assert.equal(c.messages.at(-1)!.payload, marker, 'the fence arrives last');
}

function subIds(p: { properties?: { subscriptionIdentifier?: number | number[] } }): number[] {
  const id = p.properties?.subscriptionIdentifier;
  return id === undefined ? [] : Array.isArray(id) ? [...id].sort((a, b) => a - b) : [id];
}

before(async () => {
  node = await startTestNode();
});

after(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => {});
  for (const w of wires) w.destroy();
  await node.stop();
  removeDir(node.dataDir);
});

describe('topic validation', () => {
  it('v5 PUBLISH to a topic with a wildcard → DISCONNECT 0x90 and close; other clients unaffected', async () => {
    const bystander = await client(5);
    const got = collector(bystander);
    await bystander.subscribeAsync('val/#', { qos: 1 });
    for (const topic of ['val/+', 'val/#', 'val/a+']) {
      const w = await wire(5, `val-bad-pub`);
      w.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
      const d = await w.expect('disconnect');
      assert.equal(d.reasonCode, ReasonCode.TopicNameInvalid, topic); // [MQTT-3.3.2-2]
      await w.waitClosed();
    }
    const pub = await client(5);
    await pub.publishAsync('val/ok', 'still works', { qos: 1 });
    await got.until(1);
    assert.deepEqual(got.messages.map((m) => [m.topic, m.payload]), [['val/ok', 'still works']]);
  });

  it('v3.1.1 PUBLISH to a topic with a wildcard closes the connection', async () => {
    const w = await wire(4, 'val-bad-pub-v4');
    w.send({ cmd: 'publish', topic: 'val/#', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    await w.waitClosed();
    assert.equal(w.packets.filter((p) => p.cmd !== 'connack').length, 0, 'no packet to a 3.1.1 client');
  });

  for (const version of [4, 5] as const) {
    it(`v${version === 4 ? '3.1.1' : '5'} SUBSCRIBE with empty/invalid filters: those get ${version === 5 ? '0x8F' : '0x80'}, the others are granted and work`, async () => {
      const w = await wire(version, `val-sub-${version}`);
      const filters = [`vs${version}/ok`, '', 'a/#/b', 'a+', `vs${version}/+/ok`, '#/a', 'a/b#'];
      w.send({ cmd: 'subscribe', messageId: 3, subscriptions: filters.map((topic) => ({ topic, qos: 1 as const })) });
      const suback = await w.expect('suback');
      const bad = version === 5 ? ReasonCode.TopicFilterInvalid : 0x80;
      assert.deepEqual(suback.granted, [1, bad, bad, bad, 1, bad, bad]);
      const pub = await client(5);
      await pub.publishAsync(`vs${version}/ok`, 'a', { qos: 1 });
      await pub.publishAsync(`vs${version}/x/ok`, 'b', { qos: 1 });
      const p1 = await w.expect('publish');
      w.send({ cmd: 'puback', messageId: p1.messageId! });
      const p2 = await w.expect('publish');
      w.send({ cmd: 'puback', messageId: p2.messageId! });
      assert.deepEqual([p1.topic, p2.topic], [`vs${version}/ok`, `vs${version}/x/ok`]);
    });
  }
});

describe('wildcard matching', () => {
  it("'+' matches exactly one level, '#' any number including the parent; '$' topics only by filters naming them", async () => {
    const filters = ['wm/+/c', 'wm/#', 'wm/a/#', 'wm/+', '+/a/c', '#', '$wm/#', '+/+'];
    const subs = new Map<string, ReturnType<typeof collector>>();
    for (const f of filters) {
      const c = await client(5);
      await c.subscribeAsync(f, { qos: 1 });
      subs.set(f, collector(c));
    }
    const pub = await client(5);
    const topics = ['wm/a/c', 'wm/a', 'wm', 'wm/a/b/c', 'wm/b/c', 'wm//c', '$wm/a', '$wm'];
    for (const t of topics) await pub.publishAsync(t, t, { qos: 1 });
    const expected: Record<string, string[]> = {
      'wm/+/c': ['wm/a/c', 'wm/b/c', 'wm//c'],
      'wm/#': ['wm/a/c', 'wm/a', 'wm', 'wm/a/b/c', 'wm/b/c', 'wm//c'],
      'wm/a/#': ['wm/a/c', 'wm/a', 'wm/a/b/c'],
      'wm/+': ['wm/a'],
      '+/a/c': ['wm/a/c'],
      // [MQTT-4.7.2-1] wildcards at the first level do not match `$` topics
      '#': ['wm/a/c', 'wm/a', 'wm', 'wm/a/b/c', 'wm/b/c', 'wm//c'],
      '$wm/#': ['$wm/a', '$wm'],
      '+/+': ['wm/a'],
    };
    for (const [f, want] of Object.entries(expected)) {
      const c = subs.get(f)!;
      await c.until(want.length);
      // The wildcard subscribers may also see messages of other tests; only this test's topics count.
      await fence(pub, c, fenceTopic(f));
      const mine = c.messages.map((m) => m.topic).filter((t) => topics.includes(t));
      assert.deepEqual(mine, want, `filter ${f}`);
    }
  });
});

/** A topic that `f` matches and that is none of the test topics: the fence for that subscriber. */
function fenceTopic(f: string): string {
  return f.split('/').map((l) => (l === '+' || l === '#' ? 'fence' : l)).join('/');
}

describe('overlapping subscriptions (v5)', () => {
  it('one copy at the highest granted QoS, carrying every matching Subscription Identifier', async () => {
    const c = await client(5);
    const got = collector(c);
    const sub = (f: string, o: IClientSubscribeOptions) => c.subscribeAsync(f, o);
    await sub('ov/#', { qos: 0, properties: { subscriptionIdentifier: 11 } });
    await sub('ov/+', { qos: 2, properties: { subscriptionIdentifier: 7 } });
    await sub('ov/a', { qos: 1 }); // no identifier
    await sub('ov/b', { qos: 1, properties: { subscriptionIdentifier: 99 } });
    const pub = await client(5);
    await pub.publishAsync('ov/a', 'both', { qos: 2 });
    await pub.publishAsync('ov/b', 'three', { qos: 1 });
    await pub.publishAsync('ov/x/y', 'one', { qos: 2 });
    await got.until(3);
    await fence(pub, got, 'ov/a/fence');
    // Order holds per QoS level only (MQTT 4.6): the QoS 0 copy may overtake the QoS 1/2 ones.
    const byPayload = (p: string) => got.messages.find((m) => m.payload === p);
    const [a, b, xy] = [byPayload('both'), byPayload('three'), byPayload('one')];
    assert.equal(a!.payload, 'both');
    assert.equal(a!.packet.qos, 2); // [MQTT-3.3.4-2]
    assert.deepEqual(subIds(a!.packet), [7, 11]); // [MQTT-3.3.4-3]
    assert.equal(b!.payload, 'three');
    assert.equal(b!.packet.qos, 1);
    assert.deepEqual(subIds(b!.packet), [7, 11, 99]);
    assert.equal(xy!.payload, 'one');
    assert.equal(xy!.packet.qos, 0);
    assert.deepEqual(subIds(xy!.packet), [11]);
    assert.equal(got.messages.length, 4, 'one copy per message');
  });

  it('retained messages sent on subscribe carry that subscription\'s identifier', async () => {
    const pub = await client(5);
    await pub.publishAsync('sidr/t', 'kept', { qos: 1, retain: true });
    const c = await client(5);
    const got = collector(c);
    await c.subscribeAsync('sidr/#', { qos: 1, properties: { subscriptionIdentifier: 42 } });
    await got.until(1);
    assert.equal(got.messages[0]!.payload, 'kept');
    assert.deepEqual(subIds(got.messages[0]!.packet), [42]);
    await pub.publishAsync('sidr/t', '', { qos: 1, retain: true });
  });

  it('a subscription identifier can be replaced by re-subscribing, and dropped', async () => {
    const c = await client(5);
    const got = collector(c);
    const pub = await client(5);
    await c.subscribeAsync('sid/t', { qos: 1, properties: { subscriptionIdentifier: 5 } });
    await pub.publishAsync('sid/t', '1', { qos: 1 });
    await got.until(1);
    await c.subscribeAsync('sid/t', { qos: 1, properties: { subscriptionIdentifier: 6 } });
    await pub.publishAsync('sid/t', '2', { qos: 1 });
    await got.until(2);
    await c.subscribeAsync('sid/t', { qos: 1 });
    await pub.publishAsync('sid/t', '3', { qos: 1 });
    await got.until(3);
    assert.deepEqual(got.messages.map((m) => subIds(m.packet)), [[5], [6], []]);
  });
});

describe('subscription options (v5)', () => {
  it('No Local: a client does not get its own messages on that subscription; others do', async () => {
    const self = await client(5);
    const other = await client(5);
    const mine = collector(self);
    const theirs = collector(other);
    await self.subscribeAsync('nl/t', { qos: 1, nl: true });
    await other.subscribeAsync('nl/t', { qos: 1, nl: true });
    await self.publishAsync('nl/t', 'from-self', { qos: 1 });
    await other.publishAsync('nl/t', 'from-other', { qos: 1 });
    await theirs.until(1);
    await mine.until(1);
    // One more round so a late own message would show.
    await other.publishAsync('nl/t', 'from-other-2', { qos: 1 });
    await mine.until(2);
    assert.deepEqual(mine.messages.map((m) => m.payload), ['from-other', 'from-other-2']);
    assert.deepEqual(theirs.messages.map((m) => m.payload), ['from-self']);
  });

  it('No Local on one subscription does not stop an overlapping one without it', async () => {
    const self = await client(5);
    const got = collector(self);
    await self.subscribeAsync('nl2/t', { qos: 1, nl: true, properties: { subscriptionIdentifier: 1 } });
    await self.subscribeAsync('nl2/#', { qos: 1, properties: { subscriptionIdentifier: 2 } });
    await self.publishAsync('nl2/t', 'own', { qos: 1 });
    await got.until(1);
    assert.deepEqual(subIds(got.messages[0]!.packet), [2]);
  });

  it('Retain As Published keeps the retain flag on normal forwarding; without it the flag is cleared', async () => {
    const rap = await client(5);
    const plain = await client(5);
    const v3 = await client(4);
    const gotRap = collector(rap);
    const gotPlain = collector(plain);
    const gotV3 = collector(v3);
    await rap.subscribeAsync('rap/t', { qos: 1, rap: true });
    await plain.subscribeAsync('rap/t', { qos: 1, rap: false });
    await v3.subscribeAsync('rap/t', { qos: 1 });
    const pub = await client(5);
    await pub.publishAsync('rap/t', 'r', { qos: 1, retain: true });
    await pub.publishAsync('rap/t', 'n', { qos: 1, retain: false });
    for (const c of [gotRap, gotPlain, gotV3]) await c.until(2);
    assert.deepEqual(gotRap.messages.map((m) => [m.payload, m.packet.retain]), [['r', true], ['n', false]]);
    assert.deepEqual(gotPlain.messages.map((m) => [m.payload, m.packet.retain]), [['r', false], ['n', false]]);
    // [MQTT-3.3.1-12] 3.1.1 has no option: the flag is cleared on normal forwarding
    assert.deepEqual(gotV3.messages.map((m) => [m.payload, m.packet.retain]), [['r', false], ['n', false]]);
    // Retained messages sent because of a subscription always carry retain=1 [MQTT-3.3.1-8].
    const late = await client(5);
    const gotLate = collector(late);
    await late.subscribeAsync('rap/t', { qos: 1, rap: false });
    await gotLate.until(1);
    assert.equal(gotLate.messages[0]!.packet.retain, true);
    await pub.publishAsync('rap/t', '', { qos: 1, retain: true });
  });

  it('Retain Handling 0 sends retained on every subscribe, 1 only for a new subscription, 2 never', async () => {
    const pub = await client(5);
    await pub.publishAsync('rh/t', 'kept', { qos: 1, retain: true });
    const runs: Record<0 | 1 | 2, boolean[]> = { 0: [], 1: [], 2: [] };
    for (const rh of [0, 1, 2] as const) {
      const c = await client(5);
      const got = collector(c);
      for (let round = 0; round < 2; round++) {
        const had = got.messages.length;
        await c.subscribeAsync('rh/t', { qos: 1, rh });
        // QoS 1 both ways: the retained copy and the fence both pass the session in order.
        await fence(pub, got, 'rh/t', `fence-${round}`);
        runs[rh].push(got.messages.slice(had).some((m) => m.payload === 'kept' && m.packet.retain));
      }
    }
    assert.deepEqual(runs, { 0: [true, true], 1: [true, false], 2: [false, false] }); // [MQTT-3.3.1-9..11]
    await pub.publishAsync('rh/t', '', { qos: 1, retain: true });
  });

  it('Retain Handling 1: a re-subscribe after UNSUBSCRIBE is new again', async () => {
    const pub = await client(5);
    await pub.publishAsync('rh1/t', 'kept', { qos: 1, retain: true });
    const c = await client(5);
    const got = collector(c);
    await c.subscribeAsync('rh1/t', { qos: 1, rh: 1 });
    await got.until(1);
    await c.unsubscribeAsync('rh1/t');
    await c.subscribeAsync('rh1/t', { qos: 1, rh: 1 });
    await got.until(2);
    assert.deepEqual(got.messages.map((m) => [m.payload, m.packet.retain]), [['kept', true], ['kept', true]]);
    await pub.publishAsync('rh1/t', '', { qos: 1, retain: true });
  });
});
