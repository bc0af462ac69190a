import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import type { IAuthPacket, IConnackPacket, IConnectPacket, IDisconnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import { AuthMethods, type AuthStep } from '../../../src/auth/enhanced-auth.js';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';
import type { AppMessage } from '../../../src/protocol/message.js';
import { PublishEncodeCache } from '../../../src/transport/publish-encoder.js';
import { ConnectionStateError } from '../../../src/transport/errors.js';
import { startServer, WireClient, withTimeout, type TestServer } from './wire.js';

let server: TestServer | null = null;
const clients: WireClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await server?.stop();
  server = null;
});

async function setup(limits: Parameters<typeof startServer>[0] = {}, prepare?: Parameters<typeof startServer>[1]): Promise<TestServer> {
  server = await startServer(limits, prepare);
  return server;
}

async function client(version: 3 | 4 | 5 = 5): Promise<WireClient> {
  const c = await WireClient.connect(server!.port, version);
  clients.push(c);
  return c;
}

function message(topic: string, payload: string | Buffer = 'x', extra: Partial<AppMessage> = {}): AppMessage {
  return { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 0, retain: false, publisherId: 'pub', ...extra };
}

async function expectDisconnect(c: WireClient, reasonCode: number): Promise<IDisconnectPacket> {
  const p = await c.next();
  assert.equal(p.cmd, 'disconnect', `expected DISCONNECT, got ${JSON.stringify(p)}`);
  assert.equal((p as IDisconnectPacket).reasonCode, reasonCode);
  await c.waitClosed();
  return p as IDisconnectPacket;
}

async function closeReason(s: TestServer, n = 0): Promise<{ kind: string; reasonCode: number; detail: string; sessionExpiryIntervalSec?: number }> {
  const r = await withTimeout(s.handler(n).closed, 3000, 'onClose');
  assert.equal(s.handler(n).closeCount, 1, 'onClose fires exactly once');
  assert.ok(r.detail.length > 0, 'a human detail');
  return r;
}

describe('Connection: before and around CONNECT', () => {
  it('closes silently when no CONNECT arrives in time', async () => {
    const s = await setup({ connectTimeoutMs: 150 });
    const c = await client();
    await c.waitClosed();
    assert.equal(c.receivedBytes.length, 0);
    const r = await closeReason(s);
    assert.equal(r.kind, 'abnormal');
    assert.match(r.detail, /no CONNECT within 150 ms/);
    const first = s.handler().events[0];
    assert.ok(first?.type === 'close' && first.clientId === null, 'onClose with clientId null');
  });

  it('closes silently when the first packet is not CONNECT [MQTT-3.1.0-1]', async () => {
    const s = await setup();
    const c = await client(4);
    c.send({ cmd: 'pingreq' });
    await c.waitClosed();
    assert.equal(c.receivedBytes.length, 0);
    const r = await closeReason(s);
    assert.equal(r.reasonCode, ReasonCode.ProtocolError);
    assert.match(r.detail, /PINGREQ, not CONNECT/);
  });

  it('treats a second CONNECT as a protocol error [MQTT-3.1.0-2]', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake();
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'again', clean: true, keepalive: 0 });
    await expectDisconnect(c, ReasonCode.ProtocolError);
    assert.match((await closeReason(s)).detail, /second CONNECT/);
  });

  it('answers an unsupported protocol level with return code 1 and closes [MQTT-3.1.2-2]', async () => {
    const s = await setup();
    const c = await client(4);
    // CONNECT, protocol MQTT, level 6
    c.raw([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 6, 0x02, 0, 60, 0, 0]);
    await c.waitClosed();
    assert.deepEqual([...c.receivedBytes], [0x20, 2, 0, 1]);
    assert.equal((await closeReason(s)).reasonCode, ReasonCode.UnsupportedProtocolVersion);
  });

  /** What every v5 CONNACK of a server with these limits announces (no Maximum QoS: absent means 2). */
  const announced = {
    receiveMaximum: 7,
    topicAliasMaximum: 3,
    maximumPacketSize: 5000,
    retainAvailable: true,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: true,
    sharedSubscriptionAvailable: true,
  };

  it('v5 CONNACK announces our limits and the assigned client id, no Maximum QoS', async () => {
    const s = await setup({ maxKeepaliveSec: 30, receiveMaximum: 7, topicAliasMaximum: 3, maxPacketSize: 5000 });
    const c = await client();
    const connack = (await c.handshake({ clientId: '', keepalive: 60 })) as IConnackPacket;
    const conn = await s.connection();
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.sessionPresent, false);
    assert.deepEqual(connack.properties, { ...announced, serverKeepAlive: 30, assignedClientIdentifier: conn.clientId! });
    assert.match(conn.clientId!, /^shoal-/);
    assert.equal(conn.state, 'open');
    assert.equal(conn.keepaliveSec, 30);
  });

  it('v5 CONNACK with nothing of its own client (no assigned id, no Server Keep Alive): our limits, Session Present as given', async () => {
    const s = await setup({ receiveMaximum: 7, topicAliasMaximum: 3, maxPacketSize: 5000 }, (h) => (h.onConnectMode = 'manual'));
    // These bytes are encoded once per limits and Session Present: the third reuses the first's.
    for (const [n, sessionPresent] of [[0, false], [1, true], [2, false]] as const) {
      const c = await client();
      c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: `shared-${n}`, clean: true, keepalive: 10 });
      const conn = await withTimeout(s.handler(n).connected, 2000, 'onConnect');
      conn.accept({ sessionPresent });
      const connack = (await c.next()) as IConnackPacket;
      assert.equal(connack.reasonCode, 0);
      assert.equal(connack.sessionPresent, sessionPresent);
      assert.deepEqual(connack.properties, announced);
      assert.equal(conn.keepaliveSec, 10);
    }
  });

  it('records the client limits from a v5 CONNECT', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake({ properties: { receiveMaximum: 9, maximumPacketSize: 300, topicAliasMaximum: 4 } });
    const conn = await s.connection();
    assert.equal(conn.clientReceiveMaximum, 9);
    assert.equal(conn.clientMaxPacketSize, 300);
    assert.equal(conn.clientTopicAliasMaximum, 4);
    assert.equal(conn.protocolVersion, 5);
  });

  it('keeps "no Maximum Packet Size" as the largest MQTT packet, a small integer, also for a v5 client that sends 2^32-1', async () => {
    // Infinity, or 2^32-1 in one connection, would be a heap number in every Connection (idle memory).
    const s = await setup();
    const v3 = await client(4);
    await v3.handshake();
    const v5 = await client();
    await v5.handshake({ properties: { maximumPacketSize: 0xffffffff } });
    for (const conn of [await s.connection(0), await s.connection(1)]) assert.equal(conn.clientMaxPacketSize, 1 + 4 + 268_435_455);
  });

  it('holds packets sent after CONNECT until the node accepts [MQTT-3.1.4-5]', async () => {
    const s = await setup({}, (h) => (h.onConnectMode = 'manual'));
    const c = await client();
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'early', clean: true, keepalive: 0 });
    c.send({ cmd: 'publish', topic: 'a', payload: Buffer.from('1'), qos: 0, dup: false, retain: false });
    c.send({ cmd: 'pingreq' });
    const conn = await withTimeout(s.handler().connected, 2000, 'onConnect');
    // Wait until both pipelined packets have reached the server, then check none was processed.
    await withTimeout(
      (async () => {
        while (conn.stats.bytesReceived < 3 + 17 + 2 + 7) await new Promise((r) => setImmediate(r));
      })(),
      2000,
      'pipelined bytes',
    );
    assert.equal(s.handler().publishes().length, 0);
    assert.equal(c.packets.length, 0);
    conn.accept({ sessionPresent: true });
    assert.equal(((await c.next()) as IConnackPacket).sessionPresent, true);
    assert.equal((await c.next()).cmd, 'pingresp');
    assert.deepEqual(s.handler().publishes().map((p) => p.topic), ['a']);
    assert.throws(() => conn.accept({ sessionPresent: false }), ConnectionStateError);
  });

  it('reject() sends the CONNACK code (mapped for 3.1.1) and closes once', async () => {
    for (const [version, expected] of [[5, { reasonCode: 0x87 }], [4, { returnCode: 5 }]] as const) {
      const s = await setup({}, (h) => (h.onConnectMode = 'manual'));
      const c = await client(version);
      c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId: 'x', clean: true, keepalive: 0 });
      const conn = await withTimeout(s.handler().connected, 2000, 'onConnect');
      conn.reject(ReasonCode.NotAuthorized, 'no');
      conn.reject(ReasonCode.NotAuthorized, 'twice is a no-op once closed');
      const connack = (await c.next()) as IConnackPacket;
      assert.equal(connack.cmd, 'connack');
      const codes: { reasonCode?: number; returnCode?: number } = {};
      if (connack.reasonCode !== undefined) codes.reasonCode = connack.reasonCode;
      if (connack.returnCode !== undefined) codes.returnCode = connack.returnCode;
      assert.deepEqual(codes, expected);
      await c.waitClosed();
      const r = await closeReason(s);
      assert.equal(r.reasonCode, ReasonCode.NotAuthorized);
      await s.stop();
      server = null;
    }
  });

  it('refuses an invalid CONNECT itself: v5 gets CONNACK 0x85, 3.1.1 return code 2', async () => {
    for (const version of [5, 4] as const) {
      const s = await setup();
      const c = await client(version);
      c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId: 'a\u0000b', clean: true, keepalive: 0 });
      const connack = (await c.next()) as IConnackPacket;
      assert.equal(version === 5 ? connack.reasonCode : connack.returnCode, version === 5 ? 0x85 : 2);
      await c.waitClosed();
      assert.equal(s.handler().events.filter((e) => e.type === 'connect').length, 0, 'the node never sees it');
      assert.equal((await closeReason(s)).reasonCode, ReasonCode.ClientIdentifierNotValid);
      await s.stop();
      server = null;
    }
  });
});

// Enhanced authentication driven by the Connection, with a scripted three-round method: every
// AUTH is read while the CONNECT waits, the node sees the CONNECT only once the exchange
// succeeds, and the CONNACK carries the method and its last data.

/** "1" → challenge "2", "3" → challenge "4", "5" → success as "carol" with data "6"; else refused. */
const threeRounds = new AuthMethods([
  {
    name: 'THREE',
    begin() {
      return {
        step(data): AuthStep {
          const n = Number(data?.toString());
          if (n === 1 || n === 3) return { kind: 'continue', data: Buffer.from(String(n + 1)) };
          if (n === 5) return { kind: 'success', identity: 'carol', data: Buffer.from('6') };
          return { kind: 'failure', why: 'credentials', detail: `unexpected ${String(data)}` };
        },
      };
    },
  },
]);

function authConnect(data: string): IConnectPacket {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'three', clean: true, keepalive: 0, properties: { authenticationMethod: 'THREE', authenticationData: Buffer.from(data) } };
}

function authContinue(data: string): IAuthPacket {
  return { cmd: 'auth', reasonCode: ReasonCode.ContinueAuthentication, properties: { authenticationMethod: 'THREE', authenticationData: Buffer.from(data) } };
}

describe('Connection: enhanced authentication', () => {
  it('runs every round before the node sees the CONNECT; CONNACK carries method and final data', async () => {
    const s = await setup({ authMethods: threeRounds });
    const c = await client();
    c.send(authConnect('1'));
    assert.equal((await c.expect('auth')).properties?.authenticationData?.toString(), '2');
    assert.deepEqual(s.handler().events, [], 'the node has not seen the CONNECT');
    c.send(authContinue('3'));
    assert.equal((await c.expect('auth')).properties?.authenticationData?.toString(), '4');
    c.send(authContinue('5'));
    const connack = await c.expect('connack');
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties?.authenticationMethod, 'THREE');
    assert.equal(connack.properties?.authenticationData?.toString(), '6');
    const first = s.handler().events[0];
    assert.ok(first?.type === 'connect' && first.decision.authenticationMethod === 'THREE');
  });

  it('a CONNACK without enhanced authentication carries no Authentication Method [MQTT-4.12.0-6]', async () => {
    await setup({ authMethods: threeRounds });
    const c = await client();
    const connack = await c.handshake({ clientId: 'plain' });
    assert.ok(connack.cmd === 'connack' && connack.properties?.authenticationMethod === undefined);
  });

  // Lenient, as with packets pipelined behind a CONNECT: the exchange is over when it is read.
  it('a packet pipelined behind the last AUTH waits for CONNACK, then is processed', async () => {
    await setup({ authMethods: threeRounds });
    const c = await client();
    c.send(authConnect('1'));
    await c.expect('auth');
    c.send(authContinue('3'));
    await c.expect('auth');
    c.socket.write(Buffer.concat([
      mqttPacket.generate(authContinue('5'), { protocolVersion: 5 }),
      Buffer.from([0xc0, 0x00]), // PINGREQ
    ]));
    assert.equal((await c.expect('connack')).reasonCode, 0);
    await c.expect('pingresp');
  });

  it('a client that stops answering mid-exchange is closed by the connect timeout, without CONNACK', async () => {
    const s = await setup({ authMethods: threeRounds, connectTimeoutMs: 200 });
    const c = await client();
    c.send(authConnect('1'));
    await c.expect('auth');
    c.send(authContinue('3'));
    await c.expect('auth');
    await c.waitClosed();
    const reason = await withTimeout(s.handler().closed, 3000, 'onClose');
    assert.match(reason.detail, /no AUTH to continue the authentication within 200 ms/);
    assert.deepEqual(s.handler().events.map((e) => e.type), ['close'], 'the node never saw the CONNECT');
  });
});

describe('Connection: malformed input', () => {
  it('closes with 0x81 on garbage after CONNECT', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake();
    c.raw([0x00, 0x00]); // packet type 0 is reserved
    await expectDisconnect(c, ReasonCode.MalformedPacket);
    assert.equal((await closeReason(s)).reasonCode, ReasonCode.MalformedPacket);
  });

  it('closes silently on garbage before CONNECT', async () => {
    const s = await setup();
    const c = await client();
    c.raw([0x10, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00]);
    await c.waitClosed();
    assert.equal(c.receivedBytes.length, 0);
    assert.equal((await closeReason(s)).reasonCode, ReasonCode.MalformedPacket);
  });

  it('delivers nothing from a truncated packet followed by close', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake();
    const bytes = mqttPacket.generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(100), qos: 0, dup: false, retain: false }, { protocolVersion: 5 });
    c.raw(bytes.subarray(0, 50));
    c.end();
    const r = await closeReason(s);
    assert.equal(r.kind, 'abnormal');
    assert.equal(s.handler().publishes().length, 0);
  });

  it('rejects a lying remaining length (shorter than the contents) with 0x81', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake();
    // SUBSCRIBE id 1, properties 0, topic "abc" needs 9 bytes; the header claims 5.
    c.raw([0x82, 5, 0, 1, 0, 0, 3, 0x61, 0x62, 0x63, 0]);
    await expectDisconnect(c, ReasonCode.MalformedPacket);
    assert.match((await closeReason(s)).detail, /SUBSCRIBE/);
  });

  it('rejects a 256 MB remaining length from the header alone', async () => {
    for (const beforeConnect of [false, true]) {
      const s = await setup({ maxPacketSize: 1024 });
      const c = await client();
      if (!beforeConnect) await c.handshake();
      const started = Date.now();
      c.raw([beforeConnect ? 0x10 : 0x30, 0xff, 0xff, 0xff, 0x7f]); // 268,435,455 bytes announced, none sent
      if (beforeConnect) await c.waitClosed();
      else await expectDisconnect(c, ReasonCode.PacketTooLarge);
      assert.ok(Date.now() - started < 1000);
      const conn = await s.connection();
      assert.ok(conn.stats.bytesReceived < 64, `only the header was read: ${conn.stats.bytesReceived}`);
      assert.equal((await closeReason(s)).reasonCode, ReasonCode.PacketTooLarge);
      await s.stop();
      server = null;
    }
  });

  it('rejects a remaining length longer than 4 bytes with 0x81', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake();
    c.raw([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
    await expectDisconnect(c, ReasonCode.MalformedPacket);
    await closeReason(s);
  });

  it('rejects a packet only a server sends, with 0x82', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake();
    c.send({ cmd: 'pingresp' });
    await expectDisconnect(c, ReasonCode.ProtocolError);
    assert.match((await closeReason(s)).detail, /PINGRESP/);
  });
});

describe('Connection: inbound PUBLISH', () => {
  const pub = (topic: string, extra: Partial<IPublishPacket> = {}): IPublishPacket => ({
    cmd: 'publish', topic, payload: Buffer.from('p'), qos: 0, dup: false, retain: false, ...extra,
  });

  it('rejects a wildcard topic: v5 DISCONNECT 0x90, 3.1.1 plain close', async () => {
    for (const version of [5, 4] as const) {
      const s = await setup();
      const c = await client(version);
      await c.handshake();
      c.send(pub('a/+/b'));
      if (version === 5) await expectDisconnect(c, ReasonCode.TopicNameInvalid);
      else {
        await c.waitClosed();
        assert.equal(c.packets.length, 1, 'only the CONNACK');
      }
      const r = await closeReason(s);
      assert.equal(r.reasonCode, ReasonCode.TopicNameInvalid);
      assert.match(r.detail, /wildcard/);
      assert.equal(s.handler().publishes().length, 0);
      await s.stop();
      server = null;
    }
  });

  it('resolves topic aliases: set, then reuse with an empty topic', async () => {
    const s = await setup({ topicAliasMaximum: 2 });
    const c = await client();
    await c.handshake();
    c.send(pub('sensors/1', { properties: { topicAlias: 2 } }));
    c.send(pub('', { properties: { topicAlias: 2 } }));
    c.send(pub('other', { properties: { topicAlias: 2 } }));
    c.send(pub('', { properties: { topicAlias: 2 } }));
    c.send({ cmd: 'pingreq' });
    assert.equal((await c.next()).cmd, 'pingresp');
    const got = s.handler().publishes();
    assert.deepEqual(got.map((p) => p.topic), ['sensors/1', 'sensors/1', 'other', 'other']);
    for (const p of got) assert.equal(p.properties?.topicAlias, undefined, 'alias removed before the node sees it');
  });

  for (const [name, alias, topic, code] of [
    ['alias 0', 0, 'a', ReasonCode.TopicAliasInvalid],
    ['alias above our maximum', 3, 'a', ReasonCode.TopicAliasInvalid],
    ['an alias never set', 1, '', ReasonCode.ProtocolError],
  ] as const) {
    it(`rejects ${name} with ${code.toString(16)}`, async () => {
      const s = await setup({ topicAliasMaximum: 2 });
      const c = await client();
      await c.handshake();
      c.send(pub(topic, { properties: { topicAlias: alias } }));
      await expectDisconnect(c, code);
      assert.equal((await closeReason(s)).reasonCode, code);
    });
  }

  it('rejects a payload that is not UTF-8 when the format indicator says so, with 0x99', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake();
    c.send(pub('t', { payload: Buffer.from('ok ✓'), properties: { payloadFormatIndicator: true } }));
    c.send(pub('t', { payload: Buffer.from([0xc3, 0x28]), properties: { payloadFormatIndicator: true } }));
    await expectDisconnect(c, ReasonCode.PayloadFormatInvalid);
    assert.equal((await closeReason(s)).reasonCode, ReasonCode.PayloadFormatInvalid);
    assert.equal(s.handler().publishes().length, 1);
  });

  it('closes with 0x95 on an inbound packet above maxPacketSize', async () => {
    const s = await setup({ maxPacketSize: 100 });
    const c = await client();
    await c.handshake();
    c.send(pub('t', { payload: Buffer.alloc(80) })); // 80 + 2 + 1 + 1 + 2 = 86 bytes: fine
    c.send(pub('t', { payload: Buffer.alloc(200) }));
    await expectDisconnect(c, ReasonCode.PacketTooLarge);
    assert.match((await closeReason(s)).detail, /exceeds the maximum packet size 100/);
    assert.equal(s.handler().publishes().length, 1);
  });

  it('closes with 0x93 when unacknowledged QoS 1/2 publishes exceed Receive Maximum', async () => {
    const s = await setup({ receiveMaximum: 2 });
    const c = await client();
    await c.handshake();
    c.send(pub('t', { qos: 1, messageId: 1 }));
    c.send(pub('t', { qos: 2, messageId: 2 }));
    c.send(pub('t', { qos: 1, messageId: 1, dup: true })); // a retransmission does not count
    c.send(pub('t', { qos: 1, messageId: 3 }));
    await expectDisconnect(c, ReasonCode.ReceiveMaximumExceeded);
    assert.equal((await closeReason(s)).reasonCode, ReasonCode.ReceiveMaximumExceeded);
    assert.equal(s.handler().publishes().length, 3);
  });

  it('frees Receive Maximum slots on PUBACK, PUBCOMP and a failed PUBREC', async () => {
    const s = await setup({ receiveMaximum: 1 }, (h) => {
      h.afterPublish = (conn, p) => {
        const id = p.messageId!;
        if (p.qos === 1) conn.send({ cmd: 'puback', messageId: id });
        else if (p.payload.toString() === 'fail') conn.send({ cmd: 'pubrec', messageId: id, reasonCode: 0x80 });
        else conn.send({ cmd: 'pubrec', messageId: id });
      };
    });
    const c = await client();
    await c.handshake();
    for (let i = 1; i <= 5; i++) {
      c.send(pub('t', { qos: 1, messageId: i }));
      assert.equal((await c.next()).cmd, 'puback');
    }
    c.send(pub('t', { qos: 2, messageId: 10, payload: Buffer.from('fail') }));
    const failed = (await c.next()) as { cmd: string; messageId?: number; reasonCode?: number };
    assert.deepEqual([failed.cmd, failed.messageId, failed.reasonCode], ['pubrec', 10, 0x80]);
    c.send(pub('t', { qos: 2, messageId: 11 }));
    assert.equal((await c.next()).cmd, 'pubrec');
    c.send({ cmd: 'pubrel', messageId: 11 });
    const conn = await s.connection();
    await withTimeout((async () => {
      while (!s.handler().events.some((e) => e.type === 'control')) await new Promise((r) => setImmediate(r));
    })(), 2000, 'PUBREL at the handler');
    conn.send({ cmd: 'pubcomp', messageId: 11 });
    c.send(pub('t', { qos: 1, messageId: 12 }));
    assert.equal((await c.next()).cmd, 'pubcomp');
    assert.equal((await c.next()).cmd, 'puback');
    assert.equal(conn.state, 'open');
  });
});

describe('Connection: DISCONNECT, keepalive, socket loss', () => {
  it('PINGREQ is answered here, not passed on', async () => {
    const s = await setup();
    const c = await client(4);
    await c.handshake();
    c.send({ cmd: 'pingreq' });
    assert.equal((await c.next()).cmd, 'pingresp');
    assert.equal(s.handler().events.filter((e) => e.type === 'control').length, 0);
  });

  it('v5 DISCONNECT 0x04 closes as will, carrying the session expiry; nothing is sent back', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake({ properties: { sessionExpiryInterval: 10 } });
    c.send({ cmd: 'disconnect', reasonCode: 0x04, properties: { sessionExpiryInterval: 99 } });
    await c.waitClosed();
    assert.equal(c.packets.length, 1, 'only the CONNACK');
    const r = await closeReason(s);
    assert.deepEqual({ kind: r.kind, reasonCode: r.reasonCode, expiry: r.sessionExpiryIntervalSec }, { kind: 'will', reasonCode: 4, expiry: 99 });
  });

  it('a plain DISCONNECT closes as normal', async () => {
    const s = await setup();
    const c = await client(4);
    await c.handshake();
    c.send({ cmd: 'disconnect' });
    await c.waitClosed();
    const r = await closeReason(s);
    assert.deepEqual([r.kind, r.reasonCode], ['normal', 0]);
  });

  it('DISCONNECT may not raise a session expiry of 0 [MQTT-3.14.2-2]', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake();
    c.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 5 } });
    await expectDisconnect(c, ReasonCode.ProtocolError);
    assert.equal((await closeReason(s)).kind, 'abnormal');
  });

  it('a socket closed without DISCONNECT is abnormal', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake();
    c.end();
    const r = await closeReason(s);
    assert.equal(r.kind, 'abnormal');
    assert.match(r.detail, /without DISCONNECT/);
  });

  it('closes with 0x8D after 1.5 × keepalive without packets [MQTT-3.1.2-22]', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake({ keepalive: 1 });
    const started = Date.now();
    await withTimeout(expectDisconnect(c, ReasonCode.KeepAliveTimeout), 4000, 'keepalive close');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1400 && elapsed < 2500, `closed after ${elapsed} ms`);
    const r = await closeReason(s);
    assert.deepEqual([r.kind, r.reasonCode], ['abnormal', ReasonCode.KeepAliveTimeout]);
  });

  it('close() sends DISCONNECT with a Reason String to v5 and nothing to 3.1.1', async () => {
    for (const version of [5, 4] as const) {
      const s = await setup();
      const c = await client(version);
      await c.handshake();
      const conn = await s.connection();
      conn.close(ReasonCode.SessionTakenOver, 'taken over by another connection', 'takeover');
      conn.close(ReasonCode.ServerShuttingDown, 'ignored: already closed');
      await c.waitClosed();
      if (version === 5) {
        const d = c.packets[1] as IDisconnectPacket;
        assert.deepEqual([d.cmd, d.reasonCode, d.properties?.reasonString], ['disconnect', 0x8e, 'taken over by another connection']);
      } else {
        assert.equal(c.packets.length, 1);
      }
      const r = await closeReason(s);
      assert.deepEqual([r.kind, r.reasonCode], ['takeover', 0x8e]);
      await s.stop();
      server = null;
    }
  });
});

describe('Connection: outbound', () => {
  it('assigns topic aliases to the client up to its maximum, then sends topics in full', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake({ properties: { topicAliasMaximum: 2 } });
    const conn = await s.connection();
    for (const t of ['a', 'a', 'b', 'c', 'a', 'b', 'c']) {
      assert.equal(conn.sendPublish({ message: message(t), qos: 0, dup: false, retain: false, subscriptionIds: [] }), 'sent');
    }
    const got: Array<[string, number | undefined]> = [];
    for (let i = 0; i < 7; i++) {
      const p = (await c.next()) as IPublishPacket;
      got.push([p.topic, p.properties?.topicAlias]);
    }
    assert.deepEqual(got, [['a', 1], ['', 1], ['b', 2], ['c', undefined], ['', 1], ['', 2], ['c', undefined]]);
  });

  it('never sends more than the client Maximum Packet Size, and does not define an alias in a dropped packet', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake({ properties: { maximumPacketSize: 64, topicAliasMaximum: 5 } });
    const conn = await s.connection();
    const big = { message: message('big', Buffer.alloc(100)), qos: 1 as const, packetId: 1, dup: false, retain: false, subscriptionIds: [] };
    assert.equal(conn.sendPublish(big), 'dropped-too-large');
    assert.equal(conn.sendPublish({ ...big, message: message('big', 'small') }), 'sent');
    const p = (await c.next()) as IPublishPacket;
    assert.deepEqual([p.topic, p.properties?.topicAlias], ['big', 1], 'alias 1 was not burnt on the dropped packet');
    assert.equal(conn.stats.publishesDropped, 1);
    // Acks shed their Reason String to fit [MQTT-3.1.2-25].
    conn.send({ cmd: 'puback', messageId: 7, reasonCode: 0x10, properties: { reasonString: 'r'.repeat(100) } });
    const ack = await c.next();
    assert.deepEqual([ack.cmd, ack.messageId, (ack as { properties?: unknown }).properties], ['puback', 7, undefined]);
  });

  it('rewrites Message Expiry to the remaining seconds and adds subscription identifiers', async () => {
    const s = await setup();
    const c = await client();
    await c.handshake();
    const conn = await s.connection();
    const m = message('t', 'x', {
      expiresAt: Date.now() + 10_500,
      properties: { contentType: 'text/plain', responseTopic: 'r', correlationData: new Uint8Array([1, 2]), userProperties: { k: 'v' }, payloadFormatIndicator: true },
    });
    conn.sendPublish({ message: m, qos: 1, packetId: 5, dup: false, retain: true, subscriptionIds: [3, 9] });
    const p = (await c.next()) as IPublishPacket;
    const props = { ...p.properties, userProperties: { ...p.properties?.userProperties } };
    assert.ok(props.messageExpiryInterval === 11 || props.messageExpiryInterval === 10, String(props.messageExpiryInterval));
    delete props.messageExpiryInterval;
    assert.deepEqual(props, {
      contentType: 'text/plain', responseTopic: 'r', correlationData: Buffer.from([1, 2]), userProperties: { k: 'v' },
      payloadFormatIndicator: true, subscriptionIdentifier: [3, 9],
    });
    assert.deepEqual([p.qos, p.messageId, p.retain, p.dup], [1, 5, true, false]);
  });

  it('shares encoded QoS 0 bytes between identical subscribers, not across differing ones', async () => {
    const s = await setup();
    const a = await client();
    await a.handshake({ clientId: 'a' });
    const b = await client();
    await b.handshake({ clientId: 'b' });
    const aliased = await client();
    await aliased.handshake({ clientId: 'c', properties: { topicAliasMaximum: 1 } });
    const [ca, cb, cc] = await Promise.all([s.connection(0), s.connection(1), s.connection(2)]);
    const m = message('fan/out', 'payload');
    const cache = new PublishEncodeCache(m);
    const out = { message: m, qos: 0 as const, dup: false, retain: false, subscriptionIds: [4] };
    assert.equal(ca.sendPublish(out, cache), 'sent');
    assert.equal(cb.sendPublish(out, cache), 'sent');
    assert.equal(cache.size, 1);
    assert.equal(cc.sendPublish(out, cache), 'sent');
    assert.equal(cache.size, 1, 'a connection with topic aliases encodes its own');
    cb.sendPublish({ ...out, subscriptionIds: [5] }, cache);
    assert.equal(cache.size, 2);
    const pa = (await a.next()) as IPublishPacket;
    const pb = (await b.next()) as IPublishPacket;
    const pc = (await aliased.next()) as IPublishPacket;
    assert.deepEqual([pa.topic, pa.properties], ['fan/out', { subscriptionIdentifier: 4 }]);
    assert.deepEqual([pb.topic, pb.properties], ['fan/out', { subscriptionIdentifier: 4 }]);
    assert.deepEqual([pc.topic, pc.properties], ['fan/out', { subscriptionIdentifier: 4, topicAlias: 1 }]);
  });

  it('3.1.1 clients get no v5 fields', async () => {
    const s = await setup({ maxKeepaliveSec: 10 });
    const c = await client(4);
    await c.handshake({ clientId: '', keepalive: 0 });
    const conn = await s.connection();
    assert.deepEqual([...c.receivedBytes], [0x20, 2, 0, 0], 'CONNACK without properties');
    const m = message('t', 'x', { expiresAt: Date.now() + 5000, properties: { contentType: 'c', userProperties: { a: 'b' } } });
    conn.sendPublish({ message: m, qos: 1, packetId: 2, dup: false, retain: false, subscriptionIds: [7] });
    conn.send({ cmd: 'puback', messageId: 3, reasonCode: 0x10, properties: { reasonString: 'x' } });
    conn.send({ cmd: 'suback', messageId: 4, granted: [1, 0x87] });
    conn.send({ cmd: 'unsuback', messageId: 5, granted: [0x11] });
    conn.send({ cmd: 'auth', reasonCode: 0x18 });
    conn.send({ cmd: 'disconnect', reasonCode: 0x8b });
    conn.send({ cmd: 'pingresp' });
    const expected = Buffer.concat([
      Buffer.from([0x20, 2, 0, 0]),
      mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, messageId: 2, dup: false, retain: false }, { protocolVersion: 4 }),
      Buffer.from([0x40, 2, 0, 3]),
      Buffer.from([0x90, 4, 0, 4, 1, 0x80]),
      Buffer.from([0xb0, 2, 0, 5]),
      Buffer.from([0xd0, 0]),
    ]);
    await withTimeout((async () => {
      while (c.receivedBytes.length < expected.length) await new Promise((r) => setImmediate(r));
    })(), 2000, 'all packets');
    assert.deepEqual([...c.receivedBytes], [...expected]);
    assert.equal(conn.keepaliveSec, 0, '3.1.1 keepalive 0 stays 0');
  });

  it('slow consumer: QoS 0 dropped above half the buffer, closed above it, memory bounded', async () => {
    const max = 256 * 1024;
    const s = await setup({ maxWriteBufferBytes: max });
    const c = await client();
    await c.handshake();
    const conn = await s.connection();
    c.socket.pause(); // never reads again: the kernel buffers fill, then ours
    const payload = Buffer.alloc(8 * 1024, 1);
    const out = (qos: 0 | 1, id?: number): Parameters<typeof conn.sendPublish>[0] =>
      ({ message: message('slow', payload), qos, packetId: id, dup: false, retain: false, subscriptionIds: [] });
    const packetSize = 8 * 1024 + 20;
    let maxSeen = 0;
    let droppedSlow = 0;
    for (let i = 0; i < 20_000 && droppedSlow < 20; i++) {
      if (conn.sendPublish(out(0)) === 'dropped-slow') droppedSlow++;
      maxSeen = Math.max(maxSeen, conn.stream.writableLength);
      if (i % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    assert.equal(droppedSlow, 20, 'QoS 0 publishes were dropped');
    assert.ok(maxSeen <= max / 2, `QoS 0 kept the buffer under half: ${maxSeen}`);
    assert.equal(conn.state, 'open');
    let id = 1;
    while (conn.state === 'open' && id < 10_000) {
      conn.sendPublish(out(1, id++));
      if (conn.state === 'open') maxSeen = Math.max(maxSeen, conn.stream.writableLength);
    }
    assert.equal(conn.state, 'closed');
    assert.ok(maxSeen <= max, `never beyond the limit: ${maxSeen}`);
    assert.ok(conn.stream.writableLength <= max + packetSize, 'plus at most the DISCONNECT');
    const r = await closeReason(s);
    assert.deepEqual([r.kind, r.reasonCode], ['abnormal', ReasonCode.QuotaExceeded]);
    assert.ok(conn.stats.publishesDropped >= 21);
  });

  it('send() before CONNECT and after close is ignored', async () => {
    const s = await setup();
    const c = await client();
    const conn = await s.connection();
    conn.send({ cmd: 'pingresp' });
    await c.handshake();
    conn.close(ReasonCode.NormalDisconnection, 'bye');
    conn.send({ cmd: 'pingresp' });
    assert.equal(conn.sendPublish({ message: message('t'), qos: 0, dup: false, retain: false, subscriptionIds: [] }), 'dropped-slow');
    await c.waitClosed();
    assert.deepEqual(c.packets.map((p: Packet) => p.cmd), ['connack', 'disconnect']);
  });
});

describe('Connection: pending requests', () => {
  it('stops reading at maxPendingRequests unanswered SUBSCRIBE/UNSUBSCRIBE/PUBREL, and reads on once half are answered', async () => {
    const s = await setup({ maxPendingRequests: 4 });
    const h = s.handler();
    let waiter: { n: number; resolve: () => void } | null = null;
    h.afterControl = () => {
      if (waiter !== null && h.controls().length >= waiter.n) queueMicrotask(waiter.resolve);
    };
    // Resolves in a microtask after the control packet that reaches n: if reading had not stopped,
    // the rest of the same read would have been decoded by then.
    const controls = (n: number): Promise<Packet[]> =>
      withTimeout(new Promise<void>((resolve) => (h.controls().length >= n ? resolve() : (waiter = { n, resolve }))), 2000, `${n} control packets`).then(() => h.controls());
    const c = await client(4);
    await c.handshake();
    const conn = await s.connection();
    // One write: 6 SUBSCRIBEs, 2 UNSUBSCRIBEs, 2 PUBRELs, then a PINGREQ (answered by the connection itself).
    const requests: Packet[] = [
      ...Array.from({ length: 6 }, (_, i): Packet => ({ cmd: 'subscribe', messageId: i + 1, subscriptions: [{ topic: `f/${i}`, qos: 1 }] })),
      { cmd: 'unsubscribe', messageId: 7, unsubscriptions: ['f/0'] },
      { cmd: 'unsubscribe', messageId: 8, unsubscriptions: ['f/1'] },
      { cmd: 'pubrel', messageId: 9 },
      { cmd: 'pubrel', messageId: 10 },
    ];
    c.raw(Buffer.concat([...requests, { cmd: 'pingreq' } as Packet].map((p) => mqttPacket.generate(p, { protocolVersion: 4 }))));
    assert.deepEqual((await controls(4)).map((p) => p.messageId), [1, 2, 3, 4], 'read stops at 4 unanswered');
    const answer = (p: Packet): void => {
      const id = p.messageId!;
      if (p.cmd === 'subscribe') conn.send({ cmd: 'suback', messageId: id, granted: [1] });
      else if (p.cmd === 'unsubscribe') conn.send({ cmd: 'unsuback', messageId: id, granted: [] });
      else conn.send({ cmd: 'pubcomp', messageId: id });
    };
    answer(h.controls()[0]!); // 3 pending: more than half, still not read
    answer(h.controls()[1]!); // 2 pending: half, reading resumes
    assert.deepEqual((await controls(6)).map((p) => p.messageId), [1, 2, 3, 4, 5, 6], 'two more read, up to 4 unanswered again');
    for (const p of h.controls().slice(2, 4)) answer(p);
    assert.deepEqual((await controls(8)).map((p) => p.cmd), ['subscribe', 'subscribe', 'subscribe', 'subscribe', 'subscribe', 'subscribe', 'unsubscribe', 'unsubscribe']);
    for (const p of h.controls().slice(4, 8)) answer(p);
    await controls(10);
    for (const p of h.controls().slice(8)) answer(p);
    // The PINGREQ after them is read last: everything before it was decoded.
    const cmds: string[] = [];
    for (let i = 0; i < 11; i++) cmds.push((await c.next()).cmd);
    assert.deepEqual(cmds.filter((x) => x === 'pingresp'), ['pingresp']);
    assert.equal(cmds.indexOf('pingresp') >= 8, true, `PINGRESP only once the requests before it were read (${cmds.join(' ')})`);
    assert.equal(h.closeCount, 0);
  });
});
