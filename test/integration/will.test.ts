// Will messages end to end [MQTT-3.1.2-8..-10], v5 Will Delay Interval [MQTT-3.1.3-9]. The
// clients that die are raw sockets (so the test decides exactly how they go); a watcher MQTT.js
// client subscribes to the will topics.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import type { IConnectPacket } from 'mqtt-packet';
import type { NodeEvents } from '../../src/node.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { collector, connect, removeDir, startTestNode, waitFor, type Received, type TestNode } from '../helpers/node.js';
import { WireClient } from '../unit/transport/wire.js';

type Will = NonNullable<IConnectPacket['will']>;

describe('will messages', { timeout: 30_000 }, () => {
  let node: TestNode;
  let watcher: MqttClient;
  let seen: { messages: Received[]; until(n: number, ms?: number): Promise<Received[]> };
  /** Every session event, to assert that a will was NOT published. */
  const events: NodeEvents['session.event'][0][] = [];

  before(async () => {
    node = await startTestNode();
    node.handle.events.on('session.event', (e) => events.push(e));
    watcher = await connect(node.url, { protocolVersion: 5, clientId: 'will-watcher' });
    seen = collector(watcher);
    await watcher.subscribeAsync('will/#', { qos: 2 });
  });
  after(async () => {
    await watcher.endAsync();
    await node.stop();
    removeDir(node.dataDir);
  });

  function willOn(topic: string, extra: Partial<Will> = {}): Will {
    return { topic, payload: Buffer.from(`${topic} died`), qos: 0, retain: false, ...extra };
  }

  async function client(clientId: string, version: 4 | 5, over: Partial<IConnectPacket>): Promise<WireClient> {
    const w = await WireClient.connect(node.handle.mqtt.port, version);
    await w.handshake({ clientId, ...over });
    return w;
  }

  function willPublished(clientId: string, ms = 5000): Promise<NodeEvents['session.event']> {
    return waitFor<NodeEvents['session.event']>(node.handle.events, 'session.event', (e) => e.name === 'session.will.published' && e.clientId === clientId, ms);
  }

  function sessionEnded(clientId: string, ms = 5000): Promise<NodeEvents['session.event']> {
    return waitFor<NodeEvents['session.event']>(node.handle.events, 'session.event', (e) => e.name === 'session.ended' && e.clientId === clientId, ms);
  }

  /** Waits until the watcher has a message on `topic`. */
  async function received(topic: string, ms = 5000): Promise<Received> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = seen.messages.find((r) => r.topic === topic);
      if (m !== undefined) return m;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message on ${topic} within ${ms} ms`);
      await seen.until(seen.messages.length + 1, left).catch(() => {});
    }
  }

  /** A round trip through the watcher's own connection: anything routed to it before has arrived. */
  async function watcherSettled(): Promise<void> {
    const marker = `will/marker/${Math.random().toString(36).slice(2)}`;
    await watcher.publishAsync(marker, 'm', { qos: 1 });
    await received(marker);
  }

  it('is published when the connection is lost (socket destroyed)', async () => {
    const w = await client('will-abnormal', 4, { will: willOn('will/abnormal') });
    const published = willPublished('will-abnormal');
    w.destroy();
    await published;
    const m = await received('will/abnormal');
    assert.equal(m.payload, 'will/abnormal died');
  });

  it('is published on keepalive timeout', async () => {
    const w = await client('will-keepalive', 4, { keepalive: 1, will: willOn('will/keepalive') });
    try {
      const started = Date.now();
      const m = await received('will/keepalive', 4000);
      assert.equal(m.payload, 'will/keepalive died');
      assert.ok(Date.now() - started >= 1400, 'not before 1.5 × keepalive');
    } finally {
      w.destroy();
    }
  });

  it('is published on v5 DISCONNECT 0x04 (Disconnect with Will Message)', async () => {
    const w = await client('will-0x04', 5, { will: willOn('will/with-will') });
    try {
      w.send({ cmd: 'disconnect', reasonCode: ReasonCode.DisconnectWithWill });
      const m = await received('will/with-will');
      assert.equal(m.payload, 'will/with-will died');
    } finally {
      w.destroy();
    }
  });

  for (const version of [4, 5] as const) {
    it(`is NOT published on a normal DISCONNECT (v${version}) [MQTT-3.1.2-10]`, async () => {
      const id = `will-normal-v${version}`;
      const w = await client(id, version, { will: willOn(`will/normal-v${version}`) });
      const ended = sessionEnded(id);
      w.send(version === 5 ? { cmd: 'disconnect', reasonCode: 0 } : { cmd: 'disconnect' });
      await w.waitClosed();
      await ended; // the will would have been routed in the same transition
      await watcherSettled();
      assert.equal(seen.messages.filter((m) => m.topic === `will/normal-v${version}`).length, 0);
      assert.equal(events.filter((e) => e.clientId === id && e.name === 'session.will.published').length, 0);
    });
  }

  it('keeps its retain flag: a later subscriber gets it as a retained message', async () => {
    const w = await client('will-retained', 4, { will: willOn('will/retained', { retain: true, qos: 1 }) });
    const published = willPublished('will-retained');
    w.destroy();
    await published;
    await received('will/retained');
    const late = await connect(node.url, { protocolVersion: 4, clientId: 'will-late-subscriber' });
    try {
      const msgs = collector(late);
      await late.subscribeAsync('will/retained', { qos: 1 });
      const [m] = await msgs.until(1);
      assert.equal(m!.payload, 'will/retained died');
      assert.equal(m!.packet.retain, true);
      assert.equal(m!.packet.qos, 1);
    } finally {
      // Clear the retained will so it does not leak into later cases.
      await late.publishAsync('will/retained', '', { qos: 1, retain: true });
      await late.endAsync();
    }
  });

  for (const qos of [1, 2] as const) {
    it(`is delivered with its QoS (${qos})`, async () => {
      const id = `will-qos-${qos}`;
      const w = await client(id, 5, { will: willOn(`will/qos${qos}`, { qos }) });
      w.destroy();
      const m = await received(`will/qos${qos}`);
      assert.equal(m.packet.qos, qos);
    });
  }

  it('v5 Will Delay Interval: reconnecting within the delay cancels the will', async () => {
    const id = 'will-delay-cancelled';
    const over = { clean: false, properties: { sessionExpiryInterval: 60 } };
    const w = await client(id, 5, { ...over, will: willOn('will/delay-cancelled', { properties: { willDelayInterval: 1 } }) });
    const gone = waitFor<NodeEvents['client.disconnected']>(node.handle.events, 'client.disconnected', (e) => e.clientId === id);
    w.destroy();
    await gone;
    const back = await client(id, 5, over);
    try {
      // The only way to see that something did not happen: wait past the delay, bounded.
      await assert.rejects(willPublished(id, 1800), /timed out/);
      await watcherSettled();
      assert.equal(seen.messages.filter((m) => m.topic === 'will/delay-cancelled').length, 0);
    } finally {
      back.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      back.destroy();
    }
  });

  it('v5 Will Delay Interval: published once the delay elapses, while the session lives on', async () => {
    const id = 'will-delay-elapses';
    const w = await client(id, 5, { clean: true, properties: { sessionExpiryInterval: 60 }, will: willOn('will/delay-elapses', { properties: { willDelayInterval: 1 } }) });
    const started = Date.now();
    let ended = false;
    const onEnd = (e: NodeEvents['session.event'][0]): void => {
      if (e.clientId === id && e.name === 'session.ended') ended = true;
    };
    node.handle.events.on('session.event', onEnd);
    try {
      w.destroy();
      const m = await received('will/delay-elapses', 4000);
      assert.equal(m.payload, 'will/delay-elapses died');
      assert.ok(Date.now() - started >= 900, 'not before the delay');
      assert.equal(ended, false, 'the session did not end');
    } finally {
      node.handle.events.off('session.event', onEnd);
    }
    const back = await client(id, 5, { clean: false, properties: { sessionExpiryInterval: 0 } });
    back.destroy();
  });

  it('v5 Will Delay Interval longer than the Session Expiry Interval: published when the session expires', async () => {
    const id = 'will-delay-expiry';
    const w = await client(id, 5, { clean: true, properties: { sessionExpiryInterval: 1 }, will: willOn('will/delay-expiry', { properties: { willDelayInterval: 30 } }) });
    const started = Date.now();
    const ended = sessionEnded(id, 4000);
    w.destroy();
    const m = await received('will/delay-expiry', 4000);
    await ended;
    const elapsed = Date.now() - started;
    assert.equal(m.payload, 'will/delay-expiry died');
    assert.ok(elapsed >= 900 && elapsed < 10_000, `published after ${elapsed} ms: at session expiry, not at the 30 s delay`);
  });

  it('is published when another connection takes over the client id [MQTT-3.1.4-3]', async () => {
    const id = 'will-takeover';
    const w = await client(id, 4, { clean: false, will: willOn('will/takeover') });
    const next = await client(id, 4, { clean: false });
    try {
      await w.waitClosed();
      const m = await received('will/takeover');
      assert.equal(m.payload, 'will/takeover died');
    } finally {
      w.destroy();
      next.send({ cmd: 'disconnect' });
      next.destroy();
    }
  });
});
