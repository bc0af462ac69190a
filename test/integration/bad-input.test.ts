// Bad input over real TCP against a whole node (real shard workers and SQLite): each misbehaving
// raw-socket client must be closed on its own — v5 with the DISCONNECT reason code the spec names —
// while the node stays up and a well-behaved v5 bystander notices nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import mqttPacket from 'mqtt-packet';
import type { IDisconnectPacket, ISubackPacket } from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import type { NodeEvents } from '../../src/node.js';
import type { CloseReason } from '../../src/transport/connection.js';
import { collector, connect, removeDir, startTestNode, waitFor, type Received, type TestNode } from '../helpers/node.js';
import { RawClient, withTimeout } from '../helpers/raw-client.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const MB = 1024 * 1024;
const CONNECT_TIMEOUT_MS = 400;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('bad input over TCP: only the offending client is closed', () => {
  let node: TestNode;
  let bystander: MqttClient;
  let bystanderMessages: { messages: Received[]; until(n: number, ms?: number): Promise<Received[]> };
  let publisher: MqttClient;
  const bystanderTrouble: string[] = [];
  const checks: string[] = [];
  const raws: RawClient[] = [];

  before(async () => {
    node = await startTestNode({ connectTimeoutMs: CONNECT_TIMEOUT_MS });
    bystander = await connect(node.url, { protocolVersion: 5, clientId: 'bystander' });
    for (const ev of ['close', 'disconnect', 'offline', 'error'] as const) bystander.on(ev, () => bystanderTrouble.push(ev));
    bystanderMessages = collector(bystander);
    await bystander.subscribeAsync('bystander/#', { qos: 1 });
    publisher = await connect(node.url, { protocolVersion: 5, clientId: 'bystander-pub' });
  });

  after(async () => {
    for (const r of raws) r.destroy();
    bystander.end(true);
    publisher.end(true);
    await node.stop();
    removeDir(node.dataDir);
  });

  async function raw(version: 4 | 5 = 5): Promise<RawClient> {
    const r = await RawClient.open(node.handle.mqtt.port, version);
    raws.push(r);
    return r;
  }

  /** The node's close record for the next connection matching `clientId` (null before CONNECT). */
  function nextClose(clientId: string | null): Promise<CloseReason> {
    return waitFor<NodeEvents['client.disconnected']>(node.handle.events, 'client.disconnected', (e) => e.clientId === clientId, 5000).then(([e]) => e.reason);
  }

  async function expectDisconnect(c: RawClient, reasonCode: number): Promise<IDisconnectPacket> {
    const p = await c.next(`DISCONNECT ${reasonCode.toString(16)}`);
    assert.equal(p.cmd, 'disconnect', `expected DISCONNECT, got ${JSON.stringify(p)}`);
    assert.equal((p as IDisconnectPacket).reasonCode, reasonCode, `reason ${JSON.stringify(p)}`);
    await c.waitClosed();
    return p as IDisconnectPacket;
  }

  /** The bystander is still connected and receives a fresh message; nothing else arrived. */
  async function bystanderUnaffected(label: string): Promise<void> {
    checks.push(label);
    await publisher.publishAsync('bystander/check', label, { qos: 1 });
    const got = await bystanderMessages.until(checks.length);
    assert.deepEqual(got.map((m) => m.payload), checks, 'the bystander received exactly the check messages');
    assert.deepEqual(bystanderTrouble, [], 'the bystander was never disconnected');
    assert.ok(bystander.connected);
  }

  it('garbage bytes before CONNECT: closed silently', async () => {
    const closed = nextClose(null);
    const c = await raw();
    c.raw([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03]);
    await c.waitClosed();
    assert.deepEqual(c.packets, [], 'nothing is sent before a CONNECT');
    const reason = await closed;
    assert.equal(reason.kind, 'abnormal');
    assert.equal(reason.reasonCode, ReasonCode.ProtocolError, reason.detail); // [MQTT-3.1.0-1]
    await bystanderUnaffected('garbage-before-connect');
  });

  it('garbage after a valid CONNECT: DISCONNECT 0x81', async () => {
    const c = await raw();
    await c.handshake('bad-garbage-after');
    const closed = nextClose('bad-garbage-after');
    c.raw([0x00, 0x00, 0xff, 0xff, 0xff]); // packet type 0 is reserved
    await expectDisconnect(c, ReasonCode.MalformedPacket);
    assert.equal((await closed).reasonCode, ReasonCode.MalformedPacket);
    await bystanderUnaffected('garbage-after-connect');
  });

  it('garbage in the same write as the CONNECT: CONNACK, then DISCONNECT 0x81', async () => {
    const c = await raw();
    const closed = nextClose('bad-garbage-same-write');
    const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'bad-garbage-same-write', clean: true, keepalive: 0 }, { protocolVersion: 5 });
    c.raw(Buffer.concat([connect, Buffer.from([0x00, 0x00, 0xff])]));
    const connack = await c.next('CONNACK');
    assert.equal(connack.cmd, 'connack', 'bytes after CONNECT wait for the CONNACK [MQTT-3.1.4-5]');
    await expectDisconnect(c, ReasonCode.MalformedPacket);
    assert.equal((await closed).reasonCode, ReasonCode.MalformedPacket);
    await bystanderUnaffected('garbage-same-write');
  });

  it('a truncated packet then close: nothing is published', async () => {
    const c = await raw();
    await c.handshake('bad-truncated');
    const closed = nextClose('bad-truncated');
    const publish = mqttPacket.generate({ cmd: 'publish', topic: 'bystander/truncated', payload: Buffer.alloc(200, 1), qos: 0, dup: false, retain: false }, { protocolVersion: 5 });
    c.raw(publish.subarray(0, 60));
    c.socket.end();
    await c.waitClosed();
    const reason = await closed;
    assert.equal(reason.kind, 'abnormal');
    await bystanderUnaffected('truncated'); // the truncated publish would have matched bystander/#
  });

  it('a remaining length that claims more than sent, then another packet follows: DISCONNECT 0x81', async () => {
    const c = await raw();
    await c.handshake('bad-claims-more');
    const closed = nextClose('bad-claims-more');
    // SUBSCRIBE id 1, no properties, filter "x" QoS 0 is 7 bytes; the header claims 11, so the
    // frame swallows the start of the PUBLISH that follows and reads it as a filter length.
    const sub = [0x82, 11, 0x00, 0x01, 0x00, 0x00, 0x01, 0x78, 0x00];
    const next = mqttPacket.generate({ cmd: 'publish', topic: 'bystander/lie', payload: Buffer.from('hidden'), qos: 0, dup: false, retain: false }, { protocolVersion: 5 });
    c.raw(Buffer.concat([Buffer.from(sub), next]));
    await expectDisconnect(c, ReasonCode.MalformedPacket);
    assert.equal((await closed).reasonCode, ReasonCode.MalformedPacket);
    await bystanderUnaffected('claims-more');
  });

  it('a remaining length that claims less than the contents: DISCONNECT 0x81', async () => {
    for (const [clientId, bytes] of [
      // SUBSCRIBE whose filter runs past the claimed end.
      ['bad-claims-less-sub', [0x82, 5, 0x00, 0x01, 0x00, 0x00, 0x03, 0x61, 0x62, 0x63, 0x00]],
      // PUBLISH whose topic length (13) runs past the claimed 6 bytes; the rest follows as garbage.
      ['bad-claims-less-pub', [0x30, 6, 0x00, 13, ...Buffer.from('bystander/lie'), 0x00, ...Buffer.from('payload')]],
    ] as const) {
      const c = await raw();
      await c.handshake(clientId);
      const closed = nextClose(clientId);
      c.raw([...bytes]);
      await expectDisconnect(c, ReasonCode.MalformedPacket);
      assert.equal((await closed).reasonCode, ReasonCode.MalformedPacket);
    }
    await bystanderUnaffected('claims-less');
  });

  it('a 256 MB remaining length is rejected from the header, promptly and without buffering', async () => {
    const before = heapAfterGc();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
    try {
      // After CONNECT: v5 DISCONNECT 0x95 [MQTT-3.1.2-24]; the client keeps streaming body bytes.
      const c = await raw();
      await c.handshake('bad-huge');
      const closed = nextClose('bad-huge');
      const started = Date.now();
      c.raw([0x30, 0xff, 0xff, 0xff, 0x7f]); // 268,435,455 bytes announced
      const chunk = Buffer.alloc(MB, 0x41);
      let sent = 0;
      const pump = (): void => {
        while (sent < 32 * MB && !c.socket.destroyed && c.socket.write(chunk)) sent += MB;
        if (sent < 32 * MB && !c.socket.destroyed) c.socket.once('drain', () => { sent += MB; pump(); });
      };
      pump();
      await expectDisconnect(c, ReasonCode.PacketTooLarge);
      const elapsed = c.closedAt - started;
      assert.ok(elapsed < 2500, `closed within ${elapsed} ms`);
      assert.equal((await closed).reasonCode, ReasonCode.PacketTooLarge);

      // Before CONNECT: the same header on a CONNECT is closed silently.
      const d = await raw();
      const closedD = nextClose(null);
      d.raw([0x10, 0xff, 0xff, 0xff, 0x7f]);
      await d.waitClosed();
      assert.deepEqual(d.packets, []);
      assert.equal((await closedD).reasonCode, ReasonCode.PacketTooLarge);
    } finally {
      clearInterval(sampler);
    }
    const delta = peak - before;
    console.log(`256 MB header: heap peak delta ${(delta / MB).toFixed(1)} MB`);
    assert.ok(delta < 20 * MB, `heap grew by ${(delta / MB).toFixed(1)} MB`);
    await bystanderUnaffected('huge-length');
  });

  it('a PUBLISH with a wildcard topic: v5 DISCONNECT 0x90, 3.1.1 closed', async () => {
    for (const topic of ['bystander/+', 'bystander/#']) {
      const c = await raw();
      await c.handshake('bad-wildcard');
      const closed = nextClose('bad-wildcard');
      c.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, messageId: 1, dup: false, retain: false });
      await expectDisconnect(c, ReasonCode.TopicNameInvalid); // [MQTT-3.3.2-2]
      assert.equal((await closed).reasonCode, ReasonCode.TopicNameInvalid);
    }
    const v3 = await raw(4);
    await v3.handshake('bad-wildcard-v3');
    const closed = nextClose('bad-wildcard-v3');
    v3.send({ cmd: 'publish', topic: 'bystander/#', payload: Buffer.from('x'), qos: 0, dup: false, retain: false });
    await v3.waitClosed();
    assert.deepEqual(v3.packets, []);
    assert.equal((await closed).kind, 'abnormal');
    await bystanderUnaffected('wildcard-publish');
  });

  it('SUBSCRIBE with an empty filter list: DISCONNECT 0x82 [MQTT-3.8.3-3]', async () => {
    const c = await raw();
    await c.handshake('bad-sub-empty-list');
    const closed = nextClose('bad-sub-empty-list');
    c.raw([0x82, 0x03, 0x00, 0x01, 0x00]); // packet id 1, no properties, no filters
    const p = await c.next('DISCONNECT');
    assert.equal(p.cmd, 'disconnect');
    assert.equal((p as IDisconnectPacket).reasonCode, ReasonCode.ProtocolError, JSON.stringify(p));
    await c.waitClosed();
    await closed;
    await bystanderUnaffected('subscribe-empty-list');
  });

  it('SUBSCRIBE with an empty or invalid filter: that filter is refused, the valid one granted', async () => {
    for (const version of [5, 4] as const) {
      const c = await raw(version);
      const clientId = `bad-sub-filters-v${version}`;
      await c.handshake(clientId);
      c.send({
        cmd: 'subscribe',
        messageId: 7,
        subscriptions: [
          { topic: '', qos: 1 }, // [MQTT-4.7.3-1]
          { topic: 'bystander/#/x', qos: 1 }, // [MQTT-4.7.1-1] '#' must be last
          { topic: 'bystander/a+', qos: 1 }, // [MQTT-4.7.1-2] '+' must fill a whole level
          { topic: 'ok/topic', qos: 1 },
        ],
      });
      const p = await c.next('SUBACK');
      assert.equal(p.cmd, 'suback', JSON.stringify(p));
      const refused = version === 5 ? ReasonCode.TopicFilterInvalid : 0x80;
      assert.deepEqual((p as ISubackPacket).granted, [refused, refused, refused, 1]);
      // The connection stays usable: the valid subscription works.
      await publisher.publishAsync('ok/topic', `hello-v${version}`, { qos: 0 });
      const msg = await c.next('PUBLISH on the granted filter');
      assert.equal(msg.cmd, 'publish');
      const closed = nextClose(clientId);
      c.destroy();
      await closed;
    }
    await bystanderUnaffected('subscribe-invalid-filters');
  });

  it('a client that connects and sends nothing is closed after the CONNECT timeout', async () => {
    const closed = nextClose(null);
    const c = await raw();
    const started = Date.now();
    await c.waitClosed(CONNECT_TIMEOUT_MS + 3000);
    const elapsed = c.closedAt - started;
    assert.ok(elapsed >= CONNECT_TIMEOUT_MS - 50 && elapsed < CONNECT_TIMEOUT_MS + 2500, `closed after ${elapsed} ms`);
    assert.deepEqual(c.packets, []);
    const reason = await closed;
    assert.match(reason.detail, /no CONNECT/);
    await bystanderUnaffected('connect-timeout');
  });

  it('a client that trickles a CONNECT and never finishes it is closed after the CONNECT timeout', async () => {
    const closed = nextClose(null);
    const c = await raw();
    const started = Date.now();
    const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'slowloris', clean: true, keepalive: 0 }, { protocolVersion: 5 });
    let i = 0;
    // One byte every 50 ms (arriving data must not extend the deadline), never the last one.
    const trickle = setInterval(() => {
      if (i < connect.length - 1 && !c.socket.destroyed) c.raw(connect.subarray(i, ++i));
    }, 50);
    try {
      await c.waitClosed(CONNECT_TIMEOUT_MS + 3000);
    } finally {
      clearInterval(trickle);
    }
    const elapsed = c.closedAt - started;
    assert.ok(elapsed < CONNECT_TIMEOUT_MS + 2500, `closed after ${elapsed} ms`);
    assert.match((await closed).detail, /no CONNECT/);
    await bystanderUnaffected('slowloris');
  });

  it('200 connections dropped mid-CONNECT: the node stays up and memory returns near baseline', async () => {
    const N = 200;
    const connect = mqttPacket.generate(
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'x'.repeat(100), clean: true, keepalive: 30, properties: { sessionExpiryInterval: 60 } },
      { protocolVersion: 5 },
    );
    const before = heapAfterGc();
    const statsBefore = node.handle.stats();
    let closes = 0;
    const allClosed = new Promise<void>((resolve) => {
      const onClose = (e: { clientId: string | null }): void => {
        if (e.clientId !== null) return;
        if (++closes === N) {
          node.handle.events.off('client.disconnected', onClose);
          resolve();
        }
      };
      node.handle.events.on('client.disconnected', onClose);
    });
    const started = Date.now();
    const sockets = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const c = await RawClient.open(node.handle.mqtt.port);
        c.raw(connect.subarray(0, 5 + (i % (connect.length - 6)))); // a cut somewhere inside the CONNECT
        return c;
      }),
    );
    for (const c of sockets) c.destroy();
    await withTimeout(allClosed, 10_000, `${N} closes`);
    const elapsed = Date.now() - started;
    const delta = heapAfterGc() - before;
    console.log(`${N} dropped mid-CONNECT: all closed in ${elapsed} ms, heap delta after GC ${(delta / MB).toFixed(2)} MB`);
    assert.ok(delta < 5 * MB, `heap after GC grew by ${(delta / MB).toFixed(2)} MB`);
    const stats = node.handle.stats();
    assert.equal(stats.clientsConnected, statsBefore.clientsConnected, 'no half-open client is counted');
    await bystanderUnaffected('dropped-mid-connect');
  });

  it('100 clients dropped right after a complete CONNECT (CONNACK races the close): no session is left behind', async () => {
    const N = 100;
    const before = heapAfterGc();
    const statsBefore = node.handle.stats();
    const ids = new Set(Array.from({ length: N }, (_, i) => `drop-after-connect-${i}`));
    // A clean session ends with its connection [MQTT-3.1.2-5 (v3) / MQTT-3.1.2-23 (v5, expiry 0)].
    const pending = new Set(ids);
    const allEnded = new Promise<void>((resolve) => {
      const onEvent = (e: { name: string; clientId: string }): void => {
        if (e.name !== 'session.ended' || !pending.delete(e.clientId)) return;
        if (pending.size === 0) {
          node.handle.events.off('session.event', onEvent);
          resolve();
        }
      };
      node.handle.events.on('session.event', onEvent);
    });
    await Promise.all(
      [...ids].map(async (clientId, i) => {
        const c = await RawClient.open(node.handle.mqtt.port, i % 2 === 0 ? 5 : 4);
        c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: c.version, clientId, clean: true, keepalive: 0 });
        c.destroy();
      }),
    );
    await withTimeout(allEnded, 10_000, `${N} sessions to end`).catch((e: Error) => {
      throw new Error(`${e.message}; not ended: ${[...pending].slice(0, 5).join(', ')}...`);
    });
    // An id connects again normally: no session is stuck half-open.
    const again = await raw();
    await again.handshake('drop-after-connect-0');
    const ended = waitFor<NodeEvents['session.event']>(node.handle.events, 'session.event', (e) => e.name === 'session.ended' && e.clientId === 'drop-after-connect-0');
    again.destroy();
    await ended;
    await bystanderUnaffected('dropped-after-connect');
    const stats = node.handle.stats();
    assert.equal(stats.clientsConnected, statsBefore.clientsConnected);
    assert.equal(stats.clientsTotal, statsBefore.clientsTotal, 'every clean session was removed');
    const delta = heapAfterGc() - before;
    console.log(`${N} dropped after CONNECT: heap delta after GC ${(delta / MB).toFixed(2)} MB`);
    assert.ok(delta < 5 * MB, `heap after GC grew by ${(delta / MB).toFixed(2)} MB`);
  });
});
