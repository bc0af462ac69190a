// SUBSCRIBE and UNSUBSCRIBE take effect in the order the node reads packets: for every PUBLISH it
// reads after them, on the same connection or any other, without waiting for the SUBACK (which
// still waits for durability). Real sockets; MQTT.js where it is what an application would do,
// raw mqtt-packet clients where the test must control the bytes of one write.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { collector, connect, removeDir, startTestNode, type TestNode } from '../helpers/node.js';
import { PipelinedClient, type Received } from '../helpers/pipelined-client.js';

const TRIES = 200;
let node: TestNode;
const clients: MqttClient[] = [];
const raws: PipelinedClient[] = [];

async function mqttjs(clientId: string): Promise<MqttClient> {
  const c = await connect(node.url, { protocolVersion: 5, clean: true, clientId });
  clients.push(c);
  return c;
}

async function raw(clientId: string): Promise<PipelinedClient> {
  const c = await PipelinedClient.connect(node.handle.mqtt.port, clientId);
  raws.push(c);
  return c;
}

function messageOn(c: PipelinedClient, topic: string): Promise<Received> {
  return c.until(`a PUBLISH on ${topic}`, () => c.received.find((m) => m.topic === topic));
}

/**
 * Subscribes `c` to a fence topic and publishes on it in one write: once the fence arrives, every
 * QoS 1 copy routed to `c` before it has arrived (they all pass through its session, in order).
 */
async function fence(c: PipelinedClient, name: string): Promise<void> {
  const topic = `fence/${name}`;
  await c.write([
    { cmd: 'subscribe', messageId: c.packetId(), subscriptions: [{ topic, qos: 1 }] },
    { cmd: 'publish', topic, payload: Buffer.from('fence'), qos: 1, messageId: c.packetId(), retain: false, dup: false },
  ]);
  await messageOn(c, topic);
}

before(async () => {
  node = await startTestNode();
});

after(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => {});
  for (const c of raws) c.destroy();
  await node.stop();
  removeDir(node.dataDir);
});

describe('subscriptions in read order', () => {
  it(`MQTT.js: subscribe() then publish() at once, same connection: ${TRIES} of ${TRIES} own messages arrive`, async () => {
    const c = await mqttjs('self');
    const got = collector(c);
    for (let i = 0; i < TRIES; i++) {
      const topic = `self/${i}`;
      // Not awaited: MQTT.js writes the SUBSCRIBE and the PUBLISH back to back, as an app that
      // calls subscribe() then publish() gets.
      c.subscribe(topic, { qos: 1 });
      c.publish(topic, String(i), { qos: 1 });
      await got.until(i + 1).catch(() => assert.fail(`try ${i}: own message on ${topic} missed (SUBSCRIBE not in force for the PUBLISH read after it)`));
      assert.equal(got.messages[i]!.topic, topic, `try ${i}: the message received`);
    }
  });

  it(`raw: SUBSCRIBE and PUBLISH in one write: ${TRIES} of ${TRIES} own messages arrive, once each`, async () => {
    const c = await raw('self-raw');
    for (let i = 0; i < TRIES; i++) {
      const topic = `selfraw/${i}`;
      await c.write([
        { cmd: 'subscribe', messageId: c.packetId(), subscriptions: [{ topic, qos: 1 }] },
        { cmd: 'publish', topic, payload: Buffer.from(String(i)), qos: 1, messageId: c.packetId(), retain: false, dup: false },
      ]);
      await messageOn(c, topic).catch(() => assert.fail(`try ${i}: own message on ${topic} missed`));
    }
    await fence(c, 'self-raw');
    assert.equal(c.received.filter((m) => m.topic.startsWith('selfraw/')).length, TRIES, 'one copy per try');
  });

  it(`B subscribes, A publishes as soon as B's SUBSCRIBE is written: ${TRIES} of ${TRIES} arrive`, async () => {
    const b = await raw('race-b');
    const a = await mqttjs('race-a');
    for (let i = 0; i < TRIES; i++) {
      const topic = `race/${i}`;
      await b.write([{ cmd: 'subscribe', messageId: b.packetId(), subscriptions: [{ topic, qos: 1 }] }]);
      a.publish(topic, String(i), { qos: 1 });
      await messageOn(b, topic).catch(() => assert.fail(`try ${i}: B missed A's message on ${topic} published after its SUBSCRIBE was written`));
    }
  });

  it(`overlapping subscriptions with identifiers 2 and 3, pipelined: the one copy carries both [MQTT-3.3.4-3] (${TRIES} tries)`, async () => {
    const c = await raw('ids');
    for (let i = 0; i < TRIES; i++) {
      const t = `t${i}`;
      await c.write([
        { cmd: 'subscribe', messageId: c.packetId(), subscriptions: [{ topic: t, qos: 1 }], properties: { subscriptionIdentifier: 2 } },
        { cmd: 'subscribe', messageId: c.packetId(), subscriptions: [{ topic: `${t}/#`, qos: 1 }], properties: { subscriptionIdentifier: 3 } },
        { cmd: 'publish', topic: t, payload: Buffer.from(String(i)), qos: 1, messageId: c.packetId(), retain: false, dup: false },
      ]);
      const m = await messageOn(c, t);
      assert.deepEqual(m.ids, [2, 3], `try ${i}: subscription identifiers of the copy on ${t}`);
    }
    await fence(c, 'ids');
    assert.equal(c.received.filter((m) => /^t\d+$/.test(m.topic)).length, TRIES, 'one copy per try, not one per subscription');
  });

  it('UNSUBSCRIBE then PUBLISH in one write, from another connection: no copy', async () => {
    const sub = await raw('unsub');
    const pub = await raw('unsub-pub');
    for (let i = 0; i < 20; i++) {
      const topic = `unsub/${i}`;
      await sub.write([{ cmd: 'subscribe', messageId: sub.packetId(), subscriptions: [{ topic, qos: 1 }] }]);
      await sub.barrier();
      await sub.write([{ cmd: 'unsubscribe', messageId: sub.packetId(), unsubscriptions: [topic] }]);
      await pub.write([{ cmd: 'publish', topic, payload: Buffer.from('late'), qos: 1, messageId: pub.packetId(), retain: false, dup: false }]);
    }
    await fence(sub, 'unsub');
    assert.deepEqual(sub.received.filter((m) => m.topic.startsWith('unsub/')), [], 'no copy for a PUBLISH read after the UNSUBSCRIBE');
  });

  it('retained message, then SUBSCRIBE and a new retained PUBLISH in one write: the old one, then the new one, once each (QoS 0 fast path)', async () => {
    const setter = await raw('retain-setter');
    const c = await raw('retain-sub');
    for (let i = 0; i < 20; i++) {
      const topic = `ret/${i}`;
      const id = setter.packetId();
      await setter.write([{ cmd: 'publish', topic, payload: Buffer.from('old'), qos: 1, messageId: id, retain: true, dup: false }]);
      // The PUBACK waits for the retained store: the message is retained once it comes.
      await setter.until(`PUBACK of the retained message on ${topic}`, () => setter.control.find((p) => p.cmd === 'puback' && p.messageId === id));
      await c.write([
        { cmd: 'subscribe', messageId: c.packetId(), subscriptions: [{ topic, qos: 0 }] },
        { cmd: 'publish', topic, payload: Buffer.from('new'), qos: 0, retain: true, dup: false },
      ]);
      await c.until(`two messages on ${topic}`, () => (c.received.filter((m) => m.topic === topic).length >= 2 || undefined));
    }
    await fence(c, 'retain');
    for (let i = 0; i < 20; i++) {
      const got = c.received.filter((m) => m.topic === `ret/${i}`).map((m) => m.payload);
      assert.deepEqual(got, ['old', 'new'], `ret/${i}: the retained message on subscribe, then the live one, nothing twice`);
    }
  });
});
