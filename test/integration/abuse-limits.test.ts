// The abuse limits end to end over real TCP (docs/operations/limits.md): connections in all and
// per source address and the connection rate per address (closed at accept, nothing sent), topic
// levels and length (PUBLISH: v5 DISCONNECT 0x90, 3.1.1 close; SUBSCRIBE: SUBACK 0x8F / 0x80;
// will: CONNACK 0x90), and the publish rate per client (QoS 0 dropped, v5 QoS 1/2 answered 0x97,
// 3.1.1 QoS 1/2 slowed down by not reading, nothing lost). Per-address tests connect from
// distinct loopback addresses (127.0.0.0/8 is all loopback on Linux).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import type { IConnackPacket, IDisconnectPacket, IPubackPacket, IPublishPacket, IPubrecPacket, ISubackPacket, Packet } from 'mqtt-packet';
import type { NodeEvents } from '../../src/node.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { removeDir, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { RawClient } from '../helpers/raw-client.js';

const nodes: TestNode[] = [];
const raws: RawClient[] = [];

async function node(overrides: Record<string, unknown>): Promise<TestNode> {
  const n = await startTestNode(overrides, { inMemory: true });
  nodes.push(n);
  return n;
}

async function raw(n: TestNode, version: 4 | 5 = 5, localAddress?: string): Promise<RawClient> {
  const r = await RawClient.open(n.handle.mqtt.port, version, localAddress);
  raws.push(r);
  return r;
}

/** A raw client that completed CONNECT/CONNACK as `clientId`. */
async function connected(n: TestNode, clientId: string, version: 4 | 5 = 5, localAddress?: string): Promise<RawClient> {
  const r = await raw(n, version, localAddress);
  await r.handshake(clientId);
  return r;
}

function refusedNext(n: TestNode): Promise<NodeEvents['connection.refused'][0]> {
  return waitFor<NodeEvents['connection.refused']>(n.handle.events, 'connection.refused').then(([e]) => e);
}

/** The socket is closed by the broker without a byte sent, and the node says why. */
async function expectRefused(n: TestNode, cause: string, localAddress?: string): Promise<void> {
  const refused = refusedNext(n);
  const r = await raw(n, 5, localAddress);
  r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'refused', clean: true, keepalive: 0 });
  await r.waitClosed();
  assert.deepEqual(r.packets, [], 'no CONNACK: closed at accept');
  const e = await refused;
  assert.equal(e.cause, cause);
  if (localAddress !== undefined) assert.equal(e.address, localAddress);
  const line = n.logs.find((l) => l.event === 'connection.refused' && l.cause === cause);
  assert.ok(line, 'a connection.refused log line');
  assert.equal(line.level, 'warn');
}

function closedClient(n: TestNode, clientId: string): Promise<void> {
  return waitFor<NodeEvents['client.disconnected']>(n.handle.events, 'client.disconnected', (e) => e.clientId === clientId).then(() => undefined);
}

after(async () => {
  for (const r of raws) r.destroy();
  for (const n of nodes) {
    await n.stop();
    removeDir(n.dataDir);
  }
});

describe('connection limits (closed at accept)', () => {
  it('--max-connections 3: the 4th is closed at once; a close makes room', async () => {
    const n = await node({ maxConnections: 3 });
    const held = [await connected(n, 'mc-1'), await connected(n, 'mc-2'), await raw(n)]; // the 3rd never sends CONNECT: it counts
    await expectRefused(n, 'max-connections');
    const gone = waitFor<NodeEvents['client.disconnected']>(n.handle.events, 'client.disconnected', (e) => e.clientId === 'mc-1');
    held[0]!.destroy();
    await gone;
    await connected(n, 'mc-4');
  });

  it('--max-connections-per-address 2: a third from one address is refused, another address is not', async () => {
    const n = await node({ maxConnectionsPerAddress: 2 });
    const a = [await connected(n, 'pa-1', 5, '127.0.0.2'), await connected(n, 'pa-2', 4, '127.0.0.2')];
    await expectRefused(n, 'max-connections-per-address', '127.0.0.2');
    await connected(n, 'pa-3', 5, '127.0.0.3');
    const gone = closedClient(n, 'pa-1');
    a[0]!.destroy();
    await gone;
    await connected(n, 'pa-4', 5, '127.0.0.2');
  });

  it('--max-connection-rate 3: the 4th new connection within the second is refused, other addresses are not', async () => {
    const n = await node({ maxConnectionRate: 3 });
    for (let i = 0; i < 3; i++) {
      const c = await connected(n, `rate-${i}`, 5, '127.0.0.4');
      c.destroy(); // closing does not give the token back: the rate counts new connections
    }
    await expectRefused(n, 'connection-rate', '127.0.0.4');
    await connected(n, 'rate-other', 5, '127.0.0.5');
  });
});

describe('topic limits (--max-topic-levels 4, --max-topic-length 32)', () => {
  let n: TestNode;
  before(async () => {
    n = await node({ maxTopicLevels: 4, maxTopicLength: 32 });
  });

  it('v5 PUBLISH past the levels: DISCONNECT 0x90 naming the limit; at the limit it is delivered', async () => {
    const sub = await connected(n, 'tl-sub');
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 0 }] });
    assert.equal((await sub.next('SUBACK')).cmd, 'suback');
    const c = await connected(n, 'tl-pub');
    c.send({ cmd: 'publish', topic: 'a/b/c/d', payload: Buffer.from('ok'), qos: 0, dup: false, retain: false });
    const got = (await sub.next('PUBLISH')) as IPublishPacket;
    assert.equal(got.topic, 'a/b/c/d');
    const closed = closedClient(n, 'tl-pub');
    c.send({ cmd: 'publish', topic: 'a/b/c/d/e', payload: Buffer.from('deep'), qos: 1, messageId: 1, dup: false, retain: false });
    const d = (await c.next('DISCONNECT')) as IDisconnectPacket;
    assert.equal(d.cmd, 'disconnect');
    assert.equal(d.reasonCode, ReasonCode.TopicNameInvalid);
    assert.match(d.properties?.reasonString ?? '', /5 levels, more than this server's limit of 4 \(max-topic-levels\)/);
    await c.waitClosed();
    await closed;
  });

  it('3.1.1 PUBLISH past the length: closed without a packet; nothing delivered', async () => {
    const c = await connected(n, 'tl-v3', 4);
    const closed = closedClient(n, 'tl-v3');
    c.send({ cmd: 'publish', topic: 'a/' + 'x'.repeat(31), payload: Buffer.from('long'), qos: 0, dup: false, retain: false });
    await c.waitClosed();
    assert.deepEqual(c.packets, []);
    await closed;
    assert.ok(n.logs.some((l) => l.event === 'client.disconnected' && l.clientId === 'tl-v3' && /33 bytes .*max-topic-length/.test(String(l.detail))));
  });

  it('SUBSCRIBE: a filter past either limit is refused alone (v5 0x8F, 3.1.1 0x80)', async () => {
    for (const version of [5, 4] as const) {
      const c = await connected(n, `tl-subs-${version}`, version);
      c.send({
        cmd: 'subscribe',
        messageId: 3,
        subscriptions: [
          { topic: 'a/+/c/#', qos: 1 },
          { topic: 'a/+/c/d/#', qos: 1 },
          { topic: 'y'.repeat(33), qos: 1 },
          { topic: '$share/g/a/b/c/d', qos: 1 },
        ],
      });
      const s = (await c.next('SUBACK')) as ISubackPacket;
      const refused = version === 5 ? ReasonCode.TopicFilterInvalid : 0x80;
      assert.deepEqual(s.granted, [1, refused, refused, 1]);
    }
  });

  it('v5 will topic past the levels: CONNACK 0x90', async () => {
    const c = await raw(n);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'tl-will', clean: true, keepalive: 0, will: { topic: 'w/1/2/3/4', payload: Buffer.from('x'), qos: 0, retain: false } });
    const ack = (await c.next('CONNACK')) as IConnackPacket;
    assert.equal(ack.reasonCode, ReasonCode.TopicNameInvalid);
    await c.waitClosed();
  });
});

describe('publish rate (--max-publish-rate 10)', () => {
  const RATE = 10;
  let n: TestNode;
  let sub: RawClient;
  before(async () => {
    n = await node({ maxPublishRate: RATE });
    sub = await connected(n, 'pr-sub');
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'pr/#', qos: 1 }] });
    assert.equal((await sub.next('SUBACK')).cmd, 'suback');
  });

  /** Bytes of `count` PUBLISH packets on `topic`, in one write so they arrive as one burst. */
  function burst(topic: string, count: number, qos: 0 | 1 | 2, version: 4 | 5): Buffer {
    return Buffer.concat(
      Array.from({ length: count }, (_, i) =>
        mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(String(i)), qos, messageId: qos > 0 ? i + 1 : undefined, dup: false, retain: false }, { protocolVersion: version }),
      ),
    );
  }

  /** Receives (and acknowledges) subscriber messages on `topic` until `fence` arrives. */
  async function receivedUntilFence(topic: string): Promise<string[]> {
    const payloads: string[] = [];
    for (;;) {
      const p = (await sub.next(`PUBLISH on ${topic}`)) as IPublishPacket;
      if (p.messageId !== undefined) sub.send({ cmd: 'puback', messageId: p.messageId });
      if (p.topic !== topic) continue;
      if (p.payload.toString() === 'fence') return payloads;
      payloads.push(p.payload.toString());
    }
  }

  it('v5 QoS 0 past the rate is dropped and counted; the client stays connected', async () => {
    const c = await connected(n, 'pr-q0');
    const droppedBefore = n.handle.stats().messagesDropped;
    const events: NodeEvents['publish.rate.exceeded'][0][] = [];
    const onEvent = (e: NodeEvents['publish.rate.exceeded'][0]): void => void events.push(e);
    n.handle.events.on('publish.rate.exceeded', onEvent);
    c.raw(burst('pr/q0', 30, 0, 5));
    // A fence from another client marks the end (a fence from c could itself be over the rate).
    const fencer = await connected(n, 'pr-fencer');
    fencer.send({ cmd: 'publish', topic: 'pr/q0', payload: Buffer.from('fence'), qos: 1, messageId: 1, dup: false, retain: false });
    const got = await receivedUntilFence('pr/q0');
    n.handle.events.off('publish.rate.exceeded', onEvent);
    assert.ok(got.length >= RATE && got.length < 30, `delivered ${got.length} of 30`);
    assert.equal(events.length, 30 - got.length, 'every drop is an event');
    assert.ok(events.every((e) => e.action === 'dropped' && e.clientId === 'pr-q0' && e.qos === 0));
    assert.equal(n.handle.stats().messagesDropped - droppedBefore, events.length, 'and is counted in $SYS dropped');
    assert.ok(n.logs.some((l) => l.event === 'publish.rate.exceeded' && l.action === 'dropped'));
    assert.equal(c.socket.destroyed, false);
  });

  it('v5 QoS 1 and 2 past the rate: PUBACK / PUBREC 0x97, not delivered', async () => {
    for (const qos of [1, 2] as const) {
      const c = await connected(n, `pr-q${qos}`);
      c.raw(burst(`pr/q${qos}`, 20, qos, 5));
      const answers: (IPubackPacket | IPubrecPacket)[] = [];
      while (answers.length < 20) {
        const p = await c.next(`answer ${answers.length + 1} of 20`);
        if (p.cmd === 'pubcomp') continue;
        assert.equal(p.cmd, qos === 1 ? 'puback' : 'pubrec', JSON.stringify(p));
        answers.push(p as IPubackPacket);
        if (p.cmd === 'pubrec' && (p.reasonCode ?? 0) < 0x80) c.send({ cmd: 'pubrel', messageId: p.messageId });
      }
      const accepted = answers.filter((a) => (a.reasonCode ?? 0) < 0x80).map((a) => String(a.messageId! - 1));
      const refused = answers.filter((a) => a.reasonCode === ReasonCode.QuotaExceeded);
      assert.equal(accepted.length + refused.length, 20);
      assert.ok(accepted.length >= RATE && refused.length > 0, `${accepted.length} accepted, ${refused.length} refused`);
      const fencer = await connected(n, `pr-fencer-${qos}`);
      fencer.send({ cmd: 'publish', topic: `pr/q${qos}`, payload: Buffer.from('fence'), qos: 1, messageId: 1, dup: false, retain: false });
      assert.deepEqual(await receivedUntilFence(`pr/q${qos}`), accepted, 'exactly the accepted ones are delivered');
    }
  });

  it('3.1.1 QoS 1 past the rate: not read until back under it; nothing lost, and it takes the time the rate says', async () => {
    const COUNT = 25;
    const c = await connected(n, 'pr-v3', 4);
    const started = Date.now();
    c.raw(burst('pr/v3', COUNT, 1, 4));
    const acked: number[] = [];
    while (acked.length < COUNT) {
      const p = (await c.next(`PUBACK ${acked.length + 1} of ${COUNT}`, 10_000)) as Packet;
      assert.equal(p.cmd, 'puback', JSON.stringify(p));
      acked.push(p.messageId!);
    }
    const elapsed = Date.now() - started;
    // A second's burst goes at once; the other 15 need 1.5 s of tokens. A lower bound only:
    // a slow machine takes longer, never shorter.
    const floor = ((COUNT - RATE) / RATE) * 1000 - 100;
    assert.ok(elapsed >= floor, `${COUNT} acknowledged after ${elapsed} ms, expected >= ${floor}`);
    assert.deepEqual(acked, Array.from({ length: COUNT }, (_, i) => i + 1));
    c.send({ cmd: 'publish', topic: 'pr/v3', payload: Buffer.from('fence'), qos: 1, messageId: 100, dup: false, retain: false });
    assert.deepEqual(await receivedUntilFence('pr/v3'), Array.from({ length: COUNT }, (_, i) => String(i)), 'every message delivered, in order');
    assert.ok(n.logs.some((l) => l.event === 'publish.rate.exceeded' && l.action === 'paused' && l.clientId === 'pr-v3'));
  });
});
