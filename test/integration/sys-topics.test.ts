// $SYS topics end to end: published every sysIntervalSec (retained), with plausible values, and
// never matched by filters starting with a wildcard [MQTT-4.7.2-1].
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { VERSION } from '../../src/node.js';
import { collector, connect, removeDir, startTestNode, type Received, type TestNode } from '../helpers/node.js';

/** Waits for a message satisfying `pred` among those collected (past and future). */
async function firstMatching(c: ReturnType<typeof collector>, pred: (m: Received) => boolean, ms = 5000): Promise<Received> {
  const deadline = Date.now() + ms;
  for (let seen = 0; ; ) {
    for (; seen < c.messages.length; seen++) if (pred(c.messages[seen]!)) return c.messages[seen]!;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no matching message within ${ms} ms (${c.messages.length} seen)`);
    await c.until(seen + 1, left).catch(() => {});
  }
}

describe('$SYS topics', { timeout: 30_000 }, () => {
  let node: TestNode;
  const clients: MqttClient[] = [];
  before(async () => {
    node = await startTestNode({ sysIntervalSec: 1 });
  });
  after(async () => {
    for (const c of clients) await c.endAsync();
    await node.stop();
    removeDir(node.dataDir);
  });

  it('publishes broker statistics with plausible values every interval', async () => {
    const sys = await connect(node.url, { protocolVersion: 5, clientId: 'sys-reader' });
    clients.push(sys);
    const got = collector(sys);
    await sys.subscribeAsync('$SYS/broker/#', { qos: 0 });

    const pub = await connect(node.url, { protocolVersion: 4, clientId: 'sys-publisher' });
    clients.push(pub);
    for (let i = 0; i < 3; i++) await pub.publishAsync('sys-test/data', `x${i}`, { qos: 1 });

    // Retained values arrive on subscribe; a live (non-retained) round comes with the next tick.
    const connected = await firstMatching(got, (m) => m.topic === '$SYS/broker/clients/connected' && !m.packet.retain, 3000);
    assert.ok(Number(connected.payload) >= 2, `clients/connected = ${connected.payload}`);
    const live = (topic: string): Promise<Received> => firstMatching(got, (m) => m.topic === topic && !m.packet.retain, 3000);

    assert.equal((await live('$SYS/broker/version')).payload, `shoal version ${VERSION}`);
    assert.match((await live('$SYS/broker/uptime')).payload, /^\d+ seconds$/);
    const received = await firstMatching(got, (m) => m.topic === '$SYS/broker/messages/received' && Number(m.payload) >= 3, 3000);
    assert.ok(Number(received.payload) >= 3);
    assert.ok(Number((await live('$SYS/broker/clients/maximum')).payload) >= 2);
    assert.ok(Number((await live('$SYS/broker/subscriptions/count')).payload) >= 1);
    assert.ok(Number((await live('$SYS/broker/messages/sent')).payload) >= 0);
  });

  it('serves the latest values as retained messages to a new subscriber', async () => {
    const late = await connect(node.url, { protocolVersion: 4, clientId: 'sys-late' });
    clients.push(late);
    const got = collector(late);
    await late.subscribeAsync('$SYS/broker/version', { qos: 0 });
    const [m] = await got.until(1);
    assert.equal(m!.packet.retain, true);
    assert.equal(m!.payload, `shoal version ${VERSION}`);
  });

  it('does not match $SYS topics with filters starting with a wildcard [MQTT-4.7.2-1]', async () => {
    // One client, two subscriptions told apart by Subscription Identifier: a $SYS message may
    // only carry the $SYS subscription's id.
    const both = await connect(node.url, { protocolVersion: 5, clientId: 'sys-both' });
    clients.push(both);
    const bothGot = collector(both);
    await both.subscribeAsync('#', { qos: 0, properties: { subscriptionIdentifier: 1 } });
    await both.subscribeAsync('+/broker/#', { qos: 0, properties: { subscriptionIdentifier: 2 } });
    await both.subscribeAsync('$SYS/broker/uptime', { qos: 0, properties: { subscriptionIdentifier: 3 } });

    const wild = await connect(node.url, { protocolVersion: 4, clientId: 'sys-wild' });
    clients.push(wild);
    const wildGot = collector(wild);
    await wild.subscribeAsync(['#', '+/#', '+/broker/uptime'], { qos: 0 });

    // Two live rounds on the $SYS subscription prove the publisher ran while `wild` listened.
    await firstMatching(bothGot, (m) => m.topic === '$SYS/broker/uptime' && !m.packet.retain, 3000);
    const uptime = await firstMatching(bothGot, (m) => m.topic === '$SYS/broker/uptime' && !m.packet.retain && m !== bothGot.messages.find((x) => x.topic === '$SYS/broker/uptime' && !x.packet.retain), 3000);
    assert.deepEqual(uptime.packet.properties?.subscriptionIdentifier, 3);
    for (const m of bothGot.messages.filter((x) => x.topic.startsWith('$SYS'))) {
      assert.deepEqual(m.packet.properties?.subscriptionIdentifier, 3, `${m.topic} matched a wildcard filter`);
    }

    // A marker through `wild`'s own connection: every $SYS write to it would have come first.
    await wild.publishAsync('sys-marker', 'm', { qos: 1 });
    await firstMatching(wildGot, (m) => m.topic === 'sys-marker');
    assert.deepEqual(wildGot.messages.filter((m) => m.topic.startsWith('$')).map((m) => m.topic), []);
  });
});
