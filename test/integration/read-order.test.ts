// SUBSCRIBE and UNSUBSCRIBE take effect in the order the node reads packets: for every PUBLISH it
// reads after them, on the same connection or any other, without waiting for the SUBACK (which
// still waits for durability). Real sockets; MQTT.js where it is what an application would do,
// raw mqtt-packet clients where the test must control the bytes of one write.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
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
 * Subscribes `c` to a fence topic (waiting for the SUBACK, so the fence does not depend on what is
 * tested), then publishes on it: once the fence arrives, every QoS 1 copy routed to `c` before it
 * has arrived (they all pass through its session, in order), and so has every direct QoS 0 one.
 */
async function fence(c: PipelinedClient, name: string): Promise<void> {
  const topic = `fence/${name}`;
  const id = c.packetId();
  await c.write([{ cmd: 'subscribe', messageId: id, subscriptions: [{ topic, qos: 1 }] }]);
  await c.until(`SUBACK of ${topic}`, () => c.control.find((p) => p.cmd === 'suback' && p.messageId === id));
  await c.write([{ cmd: 'publish', topic, payload: Buffer.from('fence'), qos: 1, messageId: c.packetId(), retain: false, dup: false }]);
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
    // MQTT.js writes each packet on its own; with Nagle on, the PUBLISH would wait for the ACK of
    // the SUBSCRIBE's segment, which the broker's host delays by up to 40 ms after the first try,
    // and the race would be hidden (the SUBSCRIBE long applied, even without read order).
    (c.stream as Socket).setNoDelay(true);
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

  it('quick reconnect after an expiry-0 session: the old subscription is gone, the new pipelined one in force (50 tries)', async () => {
    for (let i = 0; i < 50; i++) {
      const id = `again-${i}`;
      const old = await raw(id);
      const subId = old.packetId();
      await old.write([{ cmd: 'subscribe', messageId: subId, subscriptions: [{ topic: `again/old/${i}`, qos: 1 }] }]);
      await old.until('SUBACK', () => old.control.find((p) => p.cmd === 'suback' && p.messageId === subId));
      old.destroy();
      // Read after the old connection's close (its session ends then) or before it (a takeover,
      // which ends a session of expiry 0 too): either way the old subscription ends.
      const c = await raw(id);
      await c.write([
        { cmd: 'subscribe', messageId: c.packetId(), subscriptions: [{ topic: `again/new/${i}`, qos: 1 }] },
        { cmd: 'publish', topic: `again/new/${i}`, payload: Buffer.from('new'), qos: 1, messageId: c.packetId(), retain: false, dup: false },
        { cmd: 'publish', topic: `again/old/${i}`, payload: Buffer.from('old'), qos: 1, messageId: c.packetId(), retain: false, dup: false },
      ]);
      await messageOn(c, `again/new/${i}`);
      await fence(c, id);
      assert.deepEqual(c.received.filter((m) => m.topic.startsWith('again/')).map((m) => m.topic), [`again/new/${i}`], `try ${i}`);
      c.destroy();
    }
  });

  it('takeover with resume while the old connection keeps subscribing: router and session agree on every subscription (20 tries)', async () => {
    const port = node.handle.mqtt.port;
    for (let i = 0; i < 20; i++) {
      const id = `takeover-${i}`;
      const old = await PipelinedClient.connect(port, id, { sessionExpirySec: 60 });
      raws.push(old);
      // The old connection subscribes to takeover/i/0, /1, ... one per PINGRESP until it is taken
      // over: the last ones are read after the new CONNECT and before the takeover closes it
      // (that waits for the CONNECT's commit), so the session drops them as stale.
      let sent = 0;
      let stop = false;
      const next = (): void => {
        if (stop) return;
        const k = sent++;
        old.write([{ cmd: 'subscribe', messageId: old.packetId(), subscriptions: [{ topic: `takeover/${i}/${k}`, qos: 1 }] }, { cmd: 'pingreq' }]).catch(() => {});
        void old.until(`PINGRESP ${k}`, () => old.control.filter((p) => p.cmd === 'pingresp').length > k || undefined).then(next, () => {});
      };
      next();
      const c = await PipelinedClient.connect(port, id, { sessionExpirySec: 60 });
      raws.push(c);
      stop = true;
      assert.equal(c.sessionPresent, true, `try ${i}: the session is resumed`);
      const topics = Array.from({ length: sent }, (_, k) => `takeover/${i}/${k}`);
      // QoS 0: a resumed session's subscriptions can be many more than the Receive Maximum.
      await c.write(topics.map((topic) => ({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, retain: false, dup: false })));
      await fence(c, id);
      const unsubId = c.packetId();
      await c.write([{ cmd: 'unsubscribe', messageId: unsubId, unsubscriptions: topics }]);
      const unsuback = await c.until('UNSUBACK', () => c.control.find((p) => p.cmd === 'unsuback' && p.messageId === unsubId));
      const codes = unsuback.cmd === 'unsuback' ? (unsuback.granted as number[]) : [];
      for (let k = 0; k < sent; k++) {
        const routed = c.received.some((m) => m.topic === topics[k]);
        const stored = codes[k] === 0;
        assert.equal(routed, stored, `try ${i}, ${topics[k]}: the router ${routed ? 'had' : 'did not have'} it, the session ${stored ? 'had' : 'did not have'} it`);
      }
      // Ends the session: the next try's client id is new anyway.
      await c.write([{ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } }]);
      c.destroy();
    }
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
