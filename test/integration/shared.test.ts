// Shared subscriptions `$share/{group}/{filter}` (MQTT 5.0 §4.8.2) end to end: one member per
// message, round-robin over online members, several groups, 3.1.1 members, no retained messages.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IClientOptions, MqttClient } from 'mqtt';
import { collector, connect, removeDir, startTestNode, waitFor, type TestNode, connectCollecting } from '../helpers/node.js';
import type { NodeEvents } from '../../src/node.js';

let node: TestNode;
const clients: MqttClient[] = [];

async function client(opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await connect(node.url, { protocolVersion: 5, ...opts });
  clients.push(c);
  return c;
}

type Collected = ReturnType<typeof collector>;

/** Connects with a collector attached before CONNECT: messages resumed right after CONNACK count. */
async function resumingClient(opts: IClientOptions): Promise<{ c: MqttClient; got: ReturnType<typeof collector> }> {
  const r = await connectCollecting(node.url, { protocolVersion: 5, ...opts });
  clients.push(r.c);
  return r;
}

async function publishN(pub: MqttClient, topic: string, n: number, prefix = 'm'): Promise<string[]> {
  const sent: string[] = [];
  for (let i = 0; i < n; i++) {
    await pub.publishAsync(topic, `${prefix}${i}`, { qos: 1 });
    sent.push(`${prefix}${i}`);
  }
  return sent;
}

/** Waits until the collectors hold `total` messages between them. */
async function untilTotal(cs: Collected[], total: number, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const have = cs.reduce((a, c) => a + c.messages.length, 0);
    if (have >= total) return;
    if (Date.now() > deadline) throw new Error(`timed out: ${have} of ${total} messages`);
    // Wait for the next message on any collector (bounded by the deadline).
    await Promise.race(cs.map((c) => c.until(c.messages.length + 1, Math.max(1, deadline - Date.now())).catch(() => {})));
  }
}

before(async () => {
  node = await startTestNode();
});

after(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => {});
  await node.stop();
  removeDir(node.dataDir);
});

describe('shared subscriptions', () => {
  for (const version of [5, 4] as const) {
    it(`v${version === 4 ? '3.1.1' : '5'} members: each message to exactly one member, round-robin (10 → 5/5)`, async () => {
      const topic = `sh/rr/${version}`;
      const a = await client({ protocolVersion: version });
      const b = await client({ protocolVersion: version });
      const ca = collector(a);
      const cb = collector(b);
      const sa = await a.subscribeAsync(`$share/g/${topic}`, { qos: 1 });
      await b.subscribeAsync(`$share/g/${topic}`, { qos: 1 });
      assert.equal(sa[0]!.qos, 1, 'granted');
      const pub = await client();
      const sent = await publishN(pub, topic, 10);
      await untilTotal([ca, cb], 10);
      assert.equal(ca.messages.length, 5);
      assert.equal(cb.messages.length, 5);
      // Exactly once each, and strictly alternating.
      const all = [...ca.messages, ...cb.messages].map((m) => m.payload).sort();
      assert.deepEqual(all, [...sent].sort());
      const aGotEven = ca.messages[0]!.payload === 'm0';
      const expectA = sent.filter((_, i) => (i % 2 === 0) === aGotEven);
      assert.deepEqual(ca.messages.map((m) => m.payload), expectA);
      assert.ok(ca.messages.every((m) => m.topic === topic), 'delivered on the real topic, not the $share filter');
    });
  }

  it('an offline (persistent) member is skipped: the online member gets every message', async () => {
    const topic = 'sh/offline';
    const a = await client({ clientId: 'sh-online' });
    const b = await client({ clientId: 'sh-offline', clean: false, properties: { sessionExpiryInterval: 300 } });
    const ca = collector(a);
    await a.subscribeAsync(`$share/g/${topic}`, { qos: 1 });
    await b.subscribeAsync(`$share/g/${topic}`, { qos: 1 });
    const gone = waitFor<NodeEvents['client.disconnected']>(node.handle.events, 'client.disconnected', (e) => e.clientId === 'sh-offline');
    await b.endAsync();
    await gone;
    const pub = await client();
    const sent = await publishN(pub, topic, 10);
    await ca.until(10);
    assert.deepEqual(ca.messages.map((m) => m.payload), sent);
    // Nothing was queued for the offline member either: it would arrive on resume, before the fence.
    const { c: back, got: cback } = await resumingClient({ clientId: 'sh-offline', clean: false, properties: { sessionExpiryInterval: 0 } });
    await back.subscribeAsync('sh/offline/fence', { qos: 1 });
    await pub.publishAsync('sh/offline/fence', 'fence', { qos: 1 });
    await cback.until(1);
    assert.deepEqual(cback.messages.map((m) => m.payload), ['fence']);
  });

  it('two groups on the same filter each get a copy; a plain subscription gets its own copy too', async () => {
    const topic = 'sh/groups';
    const members: [MqttClient, string][] = [];
    for (const f of [`$share/one/${topic}`, `$share/one/${topic}`, `$share/two/${topic}`, topic]) {
      const c = await client();
      await c.subscribeAsync(f, { qos: 1 });
      members.push([c, f]);
    }
    const [g1a, g1b, g2, plain] = members.map(([c]) => collector(c)) as [Collected, Collected, Collected, Collected];
    const pub = await client();
    const sent = await publishN(pub, topic, 6);
    await untilTotal([g1a, g1b], 6);
    await g2.until(6);
    await plain.until(6);
    assert.deepEqual([...g1a.messages, ...g1b.messages].map((m) => m.payload).sort(), [...sent].sort());
    assert.equal(g1a.messages.length, 3);
    assert.deepEqual(g2.messages.map((m) => m.payload), sent);
    assert.deepEqual(plain.messages.map((m) => m.payload), sent);
  });

  it('the same group name under another filter is another group', async () => {
    const x = await client();
    const y = await client();
    const cx = collector(x);
    const cy = collector(y);
    await x.subscribeAsync('$share/same/sh/f1/#', { qos: 1 });
    await y.subscribeAsync('$share/same/sh/f1/+', { qos: 1 });
    const pub = await client();
    const sent = await publishN(pub, 'sh/f1/t', 4);
    await cx.until(4);
    await cy.until(4);
    assert.deepEqual(cx.messages.map((m) => m.payload), sent);
    assert.deepEqual(cy.messages.map((m) => m.payload), sent);
  });

  it('subscribing to a shared subscription sends no retained messages', async () => {
    const topic = 'sh/retained';
    const pub = await client();
    await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });
    const c = await client();
    const got = collector(c);
    await c.subscribeAsync(`$share/g/${topic}`, { qos: 1, rh: 0 });
    // QoS 1 both ways: a retained copy would pass the session before the fence.
    await pub.publishAsync(topic, 'fence', { qos: 1 });
    await got.until(1);
    assert.deepEqual(got.messages.map((m) => [m.payload, m.packet.retain]), [['fence', false]]); // [MQTT-3.8.4-? §4.8.2]
    // A plain subscription on the same client still gets it.
    await c.subscribeAsync(topic, { qos: 1 });
    await got.until(2);
    assert.deepEqual([got.messages[1]!.payload, got.messages[1]!.packet.retain], ['kept', true]);
    await pub.publishAsync(topic, '', { qos: 1, retain: true });
  });

  it('a member that unsubscribes leaves the rotation', async () => {
    const topic = 'sh/leave';
    const a = await client();
    const b = await client();
    const ca = collector(a);
    const cb = collector(b);
    await a.subscribeAsync(`$share/g/${topic}`, { qos: 1 });
    await b.subscribeAsync(`$share/g/${topic}`, { qos: 1 });
    await b.unsubscribeAsync(`$share/g/${topic}`);
    const pub = await client();
    const sent = await publishN(pub, topic, 4);
    await ca.until(4);
    assert.deepEqual(ca.messages.map((m) => m.payload), sent);
    assert.equal(cb.messages.length, 0);
  });
});
