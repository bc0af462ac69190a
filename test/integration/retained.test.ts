// Retained messages end to end: store, replace, delete, delivery on subscribe, wildcards, restart
// survival on the same data directory, and Message Expiry.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';
import { collector, connect, removeDir, startTestNode, tempDir, type Received, type TestNode } from '../helpers/node.js';

const clients: MqttClient[] = [];

async function client(url: string, protocolVersion: 4 | 5 = 5): Promise<MqttClient> {
  const c = await connect(url, { protocolVersion });
  clients.push(c);
  return c;
}

async function closeClients(): Promise<void> {
  for (const c of clients.splice(0)) await c.endAsync(true).catch(() => {});
}

/**
 * Subscribes a fresh client to `filter` and returns the retained messages it gets. A QoS 1
 * fence published to `fenceTopic` (matched by `filter`) after the SUBACK passes the session after
 * any retained copy, so everything before it is the complete answer.
 */
async function retainedFor(url: string, filter: string, fenceTopic: string, protocolVersion: 4 | 5 = 5): Promise<Received[]> {
  const c = await client(url, protocolVersion);
  const got = collector(c);
  await c.subscribeAsync(filter, { qos: 1 });
  const pub = await client(url);
  await pub.publishAsync(fenceTopic, 'fence', { qos: 1 });
  await got.until(1);
  for (;;) {
    const i = got.messages.findIndex((m) => m.payload === 'fence' && m.topic === fenceTopic);
    if (i >= 0) {
      await c.endAsync(true);
      await pub.endAsync(true);
      return got.messages.slice(0, i);
    }
    await got.until(got.messages.length + 1);
  }
}

describe('retained messages', () => {
  let node: TestNode;
  before(async () => {
    node = await startTestNode();
  });
  after(async () => {
    await closeClients();
    await node.stop();
    removeDir(node.dataDir);
  });

  for (const version of [4, 5] as const) {
    it(`v${version === 4 ? '3.1.1' : '5'}: stored, replaced, deleted by an empty payload; delivered on subscribe with retain=1`, async () => {
      const t = `ret/${version}/t`;
      const pub = await client(node.url, version);
      await pub.publishAsync(t, 'first', { qos: 1, retain: true });
      let got = await retainedFor(node.url, t, t, version);
      assert.deepEqual(got.map((m) => [m.topic, m.payload, m.packet.retain]), [[t, 'first', true]]); // [MQTT-3.3.1-5], [MQTT-3.3.1-8]
      await pub.publishAsync(t, 'second', { qos: 1, retain: true });
      got = await retainedFor(node.url, t, t, version);
      assert.deepEqual(got.map((m) => m.payload), ['second']);
      // A non-retained publish does not touch the retained message.
      await pub.publishAsync(t, 'plain', { qos: 1, retain: false });
      got = await retainedFor(node.url, t, t, version);
      assert.deepEqual(got.map((m) => m.payload), ['second']);
      await pub.publishAsync(t, '', { qos: 1, retain: true }); // [MQTT-3.3.1-6]
      got = await retainedFor(node.url, t, t, version);
      assert.deepEqual(got, []);
    });
  }

  it('a deleting empty retained message is forwarded to current subscribers (QoS 0 too) but never stored', async () => {
    const t = 'ret/empty';
    const sub = await client(node.url);
    const got = collector(sub);
    await sub.subscribeAsync(t, { qos: 0 });
    const pub = await client(node.url);
    await pub.publishAsync(t, '', { qos: 0, retain: true });
    await got.until(1);
    assert.equal(got.messages[0]!.payload, '');
    assert.deepEqual(await retainedFor(node.url, t, t), []);
  });

  it('wildcard subscriptions get every matching retained message, at min(message QoS, granted QoS); `$` topics not by `#`', async () => {
    const pub = await client(node.url);
    await pub.publishAsync('retw/a', 'a', { qos: 2, retain: true });
    await pub.publishAsync('retw/b/c', 'bc', { qos: 0, retain: true });
    await pub.publishAsync('retw/b/d', 'bd', { qos: 1, retain: true });
    await pub.publishAsync('$retw/x', 'dollar', { qos: 1, retain: true });
    const all = await retainedFor(node.url, 'retw/#', 'retw/fence');
    assert.deepEqual(all.map((m) => [m.topic, m.packet.qos]).sort(), [['retw/a', 1], ['retw/b/c', 0], ['retw/b/d', 1]]);
    const plus = await retainedFor(node.url, 'retw/+/c', 'retw/fence/c');
    assert.deepEqual(plus.map((m) => m.topic), ['retw/b/c']);
    const root = await retainedFor(node.url, '#', 'retw/fence');
    assert.ok(!root.some((m) => m.topic.startsWith('$')), 'no `$` topic through `#` [MQTT-4.7.2-1]');
    assert.ok(root.some((m) => m.topic === 'retw/a'));
    const dollar = await retainedFor(node.url, '$retw/#', '$retw/fence');
    assert.deepEqual(dollar.map((m) => m.topic), ['$retw/x']);
    for (const t of ['retw/a', 'retw/b/c', 'retw/b/d', '$retw/x']) await pub.publishAsync(t, '', { qos: 1, retain: true });
  });

  it('v5 properties of a retained message are kept', async () => {
    const pub = await client(node.url);
    await pub.publishAsync('retp/t', '{"a":1}', {
      qos: 1,
      retain: true,
      properties: { contentType: 'application/json', payloadFormatIndicator: true, userProperties: { k: 'v' }, responseTopic: 'retp/reply', correlationData: Buffer.from([1, 2, 3]) },
    });
    const [m] = await retainedFor(node.url, 'retp/t', 'retp/t');
    assert.ok(m);
    const p = m.packet.properties!;
    assert.equal(p.contentType, 'application/json');
    assert.equal(p.payloadFormatIndicator, true);
    assert.deepEqual({ ...p.userProperties }, { k: 'v' }); // mqtt-packet parses into a null-prototype object
    assert.equal(p.responseTopic, 'retp/reply');
    assert.deepEqual([...p.correlationData!], [1, 2, 3]);
    await pub.publishAsync('retp/t', '', { qos: 1, retain: true });
  });

  it('a retained message with Message Expiry 1 s is not delivered once it expired', async () => {
    const t = 'rete/t';
    const pub = await client(node.url);
    const sentAt = Date.now();
    await pub.publishAsync(t, 'short-lived', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    const fresh = await retainedFor(node.url, t, t);
    assert.deepEqual(fresh.map((m) => m.payload), ['short-lived'], 'delivered while it lives');
    assert.equal(fresh[0]!.packet.properties?.messageExpiryInterval, 1);
    // The feature under test is time itself: nothing to await but the clock. Poll with fresh
    // subscribers, bounded, a few times a second.
    let goneAfter = -1;
    while (Date.now() - sentAt < 5000) {
      if ((await retainedFor(node.url, t, t)).length === 0) {
        goneAfter = Date.now() - sentAt;
        break;
      }
      await delay(100);
    }
    assert.ok(goneAfter >= 0, 'still delivered 5 s after a 1 s expiry');
    assert.ok(goneAfter >= 900, `gone after ${goneAfter} ms, before its expiry`); // [MQTT-3.3.2-5]
    // A message without expiry on another topic is unaffected.
    await pub.publishAsync('rete/keep', 'k', { qos: 1, retain: true });
    assert.deepEqual((await retainedFor(node.url, 'rete/keep', 'rete/keep')).map((m) => m.payload), ['k']);
    await pub.publishAsync('rete/keep', '', { qos: 1, retain: true });
  });
});

describe('retained messages across a restart', () => {
  const dataDir = tempDir('shoal-retained-');
  after(() => removeDir(dataDir));

  it('survive stop + start on the same data directory: latest value and properties kept, deleted stays deleted', async () => {
    let node = await startTestNode({}, { dataDir });
    try {
      const pub = await client(node.url);
      await pub.publishAsync('rr/a', 'a1', { qos: 1, retain: true });
      await pub.publishAsync('rr/c', 'c1', { qos: 1, retain: true });
      await pub.publishAsync('rr/c', 'c2', { qos: 2, retain: true, properties: { userProperties: { v: '2' } } });
      await pub.publishAsync('rr/b', 'b1', { qos: 1, retain: true });
      await pub.publishAsync('rr/b', '', { qos: 1, retain: true });
      await pub.publishAsync('rr/q0', 'zero', { qos: 0, retain: true });
      // QoS 0 has no acknowledgement: wait for it to be visible before stopping.
      assert.equal((await retainedFor(node.url, 'rr/q0', 'rr/q0')).length, 1);
      await closeClients();
    } finally {
      await node.stop();
    }
    node = await startTestNode({}, { dataDir });
    try {
      const got = await retainedFor(node.url, 'rr/#', 'rr/fence');
      const byTopic = Object.fromEntries(got.map((m) => [m.topic, m]));
      assert.deepEqual(Object.keys(byTopic).sort(), ['rr/a', 'rr/c', 'rr/q0']);
      assert.equal(byTopic['rr/a']!.payload, 'a1');
      assert.equal(byTopic['rr/c']!.payload, 'c2');
      assert.equal(byTopic['rr/c']!.packet.qos, 1, 'min(stored QoS 2, granted 1)');
      assert.deepEqual({ ...byTopic['rr/c']!.packet.properties?.userProperties }, { v: '2' });
      assert.ok(got.every((m) => m.packet.retain));
      await closeClients();
    } finally {
      await node.stop();
    }
  });
});
