// Per-client limits end to end: maxSubscriptions (SUBACK 0x97 / 0x80 for the extra filters) and
// the offline queue caps maxQueuedMessages / maxQueuedBytes (oldest QoS 0 evicted first, then the
// new message dropped; every drop is a 'session.queue.drop' event and a log line).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { NodeEvents } from '../../src/node.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { collector, connect, removeDir, startTestNode, waitFor, type TestNode, connectCollecting } from '../helpers/node.js';
import { WireClient } from '../unit/transport/wire.js';

const MAX_SUBSCRIPTIONS = 3;
const MAX_QUEUED_MESSAGES = 5;
const MAX_QUEUED_BYTES = 1000;

let node: TestNode;
const clients: MqttClient[] = [];
const wires: WireClient[] = [];
type Drop = NodeEvents['session.event'][0];
const drops: Drop[] = [];

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

async function wire(protocolVersion: 4 | 5, clientId: string): Promise<WireClient> {
  const w = await WireClient.connect(node.handle.mqtt.port, protocolVersion);
  wires.push(w);
  await w.handshake({ clientId });
  return w;
}

/** Subscribes a persistent session to `filter` at QoS 1 and takes it offline. */
async function offlineSubscriber(opts: IClientOptions, filter: string): Promise<void> {
  const c = await client(opts);
  await c.subscribeAsync(filter, { qos: 1 });
  const gone = waitFor<NodeEvents['client.disconnected']>(node.handle.events, 'client.disconnected', (e) => e.clientId === opts.clientId);
  await c.endAsync();
  await gone;
}

function dropsOf(clientId: string): Drop[] {
  return drops.filter((d) => d.clientId === clientId && d.name === 'session.queue.drop');
}

function dropLogsOf(clientId: string): Record<string, unknown>[] {
  return node.logs.filter((l) => l.event === 'session.queue.drop' && l.clientId === clientId);
}

before(async () => {
  node = await startTestNode({ maxSubscriptions: MAX_SUBSCRIPTIONS, maxQueuedMessages: MAX_QUEUED_MESSAGES, maxQueuedBytes: MAX_QUEUED_BYTES });
  node.handle.events.on('session.event', (e) => drops.push(e));
});

after(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => {});
  for (const w of wires) w.destroy();
  await node.stop();
  removeDir(node.dataDir);
});

describe('maxSubscriptions', () => {
  for (const version of [5, 4] as const) {
    it(`v${version === 4 ? '3.1.1' : '5'}: filters beyond the limit get ${version === 5 ? '0x97' : '0x80'}; the others work; re-subscribing at the limit is fine`, async () => {
      const w = await wire(version, `lim-subs-${version}`);
      const p = `ls${version}`;
      const filters = [`${p}/a`, `${p}/b`, `${p}/c`, `${p}/d`, `${p}/e`];
      w.send({ cmd: 'subscribe', messageId: 1, subscriptions: filters.map((topic) => ({ topic, qos: 1 as const })) });
      const quota = version === 5 ? ReasonCode.QuotaExceeded : 0x80;
      assert.deepEqual((await w.expect('suback')).granted, [1, 1, 1, quota, quota]);
      // Replacing an existing subscription does not count as a new one.
      w.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: `${p}/a`, qos: 0 }, { topic: `${p}/f`, qos: 0 }] });
      assert.deepEqual((await w.expect('suback')).granted, [0, quota]);
      // Freeing one makes room.
      w.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: [`${p}/b`] });
      await w.expect('unsuback');
      w.send({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: `${p}/d`, qos: 1 }] });
      assert.deepEqual((await w.expect('suback')).granted, [1]);
      // No crash, and only granted filters deliver.
      const pub = await client();
      for (const t of ['e', 'b', 'c', 'd']) await pub.publishAsync(`${p}/${t}`, t, { qos: 1 });
      const got: string[] = [];
      for (let i = 0; i < 2; i++) {
        const m = await w.expect('publish');
        got.push(m.topic);
        w.send({ cmd: 'puback', messageId: m.messageId! });
      }
      assert.deepEqual(got, [`${p}/c`, `${p}/d`]);
      assert.equal(node.handle.stats().clientsConnected > 0, true);
    });
  }
});

describe('offline queue limits', () => {
  it(`maxQueuedMessages ${MAX_QUEUED_MESSAGES}: the oldest QoS 0 goes first, then new messages are dropped; each drop is an event and a log line`, async () => {
    const clientId = 'lim-queue-count';
    const opts: IClientOptions = { clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
    await offlineSubscriber(opts, 'lq/t');
    const pub = await client();
    const send = (payload: string, qos: 0 | 1) => pub.publishAsync('lq/t', payload, { qos });
    const droppedBefore = node.handle.stats().messagesDropped;
    await send('a0', 0);
    await send('b1', 1);
    await send('c0', 0);
    await send('d1', 1);
    await send('e1', 1); // full: a0 b1 c0 d1 e1
    assert.equal(dropsOf(clientId).length, 0);
    await send('f1', 1); // evicts a0
    await send('g1', 1); // evicts c0
    await send('h1', 1); // no QoS 0 left: h1 itself is dropped
    await send('i0', 0); // and so is a new QoS 0
    // QoS 1 is acknowledged after its session handled it; QoS 0 is not: wait for i0's drop event.
    await waitForDrops(clientId, 4);
    assert.equal(dropsOf(clientId).length, 4);
    assert.match(dropsOf(clientId)[0]!.detail, /oldest QoS 0/);
    assert.match(dropsOf(clientId)[2]!.detail, /new QoS 1/);
    assert.match(dropsOf(clientId)[3]!.detail, /new QoS 0/);
    assert.equal(dropLogsOf(clientId).length, 4, 'a log line per drop');
    assert.equal(dropLogsOf(clientId)[0]!.level, 'warn');
    assert.equal(node.handle.stats().messagesDropped - droppedBefore, 4, 'a counter per drop ($SYS/broker/publish/messages/dropped)');
    const { got } = await resumingClient({ ...opts, properties: { sessionExpiryInterval: 0 } });
    await got.until(5);
    await pub.publishAsync('lq/t', 'fence', { qos: 1 });
    await got.until(6);
    assert.deepEqual(got.messages.map((m) => m.payload), ['b1', 'd1', 'e1', 'f1', 'g1', 'fence']);
  });

  it(`maxQueuedBytes ${MAX_QUEUED_BYTES}: bytes count too; a message larger than the whole budget evicts nothing`, async () => {
    const clientId = 'lim-queue-bytes';
    const opts: IClientOptions = { clientId, clean: false, protocolVersion: 4 };
    await offlineSubscriber(opts, 'lb/t');
    const pub = await client();
    // Each message costs payload + topic bytes: 296 + 4 = 300.
    const body = (tag: string) => tag + 'x'.repeat(296 - tag.length);
    await pub.publishAsync('lb/t', body('q0'), { qos: 0 });
    await pub.publishAsync('lb/t', body('A'), { qos: 1 });
    await pub.publishAsync('lb/t', body('B'), { qos: 1 }); // 900 bytes queued
    await pub.publishAsync('lb/t', 'y'.repeat(MAX_QUEUED_BYTES + 1), { qos: 1 }); // never fits: dropped, q0 kept
    await waitForDrops(clientId, 1);
    await pub.publishAsync('lb/t', body('C'), { qos: 1 }); // 1200 > 1000: evicts q0
    await waitForDrops(clientId, 2);
    await pub.publishAsync('lb/t', body('D'), { qos: 1 }); // no QoS 0 left: dropped
    await waitForDrops(clientId, 3);
    const d = dropsOf(clientId).map((e) => e.detail);
    assert.match(d[0]!, /new QoS 1/);
    assert.match(d[1]!, /oldest QoS 0/);
    assert.match(d[2]!, /new QoS 1/);
    assert.equal(dropLogsOf(clientId).length, 3);
    const { got } = await resumingClient(opts);
    await got.until(3);
    await pub.publishAsync('lb/t', 'fence', { qos: 1 });
    await got.until(4);
    assert.deepEqual(got.messages.map((m) => m.payload.slice(0, 5)), ['Axxxx', 'Bxxxx', 'Cxxxx', 'fence']);
  });
});

/** Waits until `clientId` has at least `n` drop events. */
async function waitForDrops(clientId: string, n: number): Promise<void> {
  if (dropsOf(clientId).length >= n) return;
  await waitFor<NodeEvents['session.event']>(node.handle.events, 'session.event', () => dropsOf(clientId).length >= n, 5000);
}

describe('maxPacketSize for a 3.1.1 client (v5: mqtt5.test.ts)', () => {
  it('a packet over the limit closes the connection without a packet; one under it is delivered', async () => {
    const small = await startTestNode({ maxPacketSize: 2048 }, { inMemory: true });
    try {
      const sub = await WireClient.connect(small.handle.mqtt.port, 4);
      wires.push(sub);
      await sub.handshake({ clientId: 'mps-sub' });
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mps/#', qos: 0 }] });
      await sub.expect('suback');
      const pub = await WireClient.connect(small.handle.mqtt.port, 4);
      wires.push(pub);
      await pub.handshake({ clientId: 'mps-pub' });
      pub.send({ cmd: 'publish', topic: 'mps/ok', payload: Buffer.alloc(2000, 1), qos: 0, dup: false, retain: false });
      assert.equal((await sub.expect('publish')).payload.length, 2000);
      const closed = waitFor<NodeEvents['client.disconnected']>(small.handle.events, 'client.disconnected', (e) => e.clientId === 'mps-pub');
      pub.send({ cmd: 'publish', topic: 'mps/big', payload: Buffer.alloc(2048, 1), qos: 0, dup: false, retain: false });
      const [{ reason }] = await closed;
      assert.equal(reason.reasonCode, ReasonCode.PacketTooLarge);
      assert.match(reason.detail, /PUBLISH of 2\d\d\d bytes exceeds the maximum packet size 2048/);
      await pub.waitClosed();
      assert.equal(pub.receivedBytes.length, 4, 'only the CONNACK was ever sent (3.1.1 has no DISCONNECT)');
    } finally {
      await small.stop();
      removeDir(small.dataDir);
    }
  });
});
