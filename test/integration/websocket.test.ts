// MQTT over WebSocket (--ws) and secure WebSocket (--wss), with real sockets: MQTT.js (the client
// browsers use) over ws:// and wss:// exchanging messages both ways with a TCP client; client
// certificates and CN as username over wss; the framing
// rules (a WebSocket message may hold part of a packet or several; binary only); refused upgrades
// answered in plain HTTP; a malformed frame stream closing that client alone; and the slow-consumer
// bound applying to what the WebSocket buffers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { IConnackPacket, Packet } from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import WebSocket from 'ws';
import type { NodeEvents } from '../../src/node.js';
import { collector, connect, removeDir, startTestNode, tempDir, waitFor, type TestNode } from '../helpers/node.js';
import { makePki } from '../helpers/certs.js';
import { withTimeout } from '../helpers/raw-client.js';

const TIMEOUT_MS = 5000;

/** A raw WebSocket MQTT client: sends bytes as the test frames them, parses what comes back. */
async function rawWs(url: string, protocol = 'mqtt'): Promise<{ ws: WebSocket; packets: Packet[]; next(cmd: string): Promise<Packet>; closed: Promise<number> }> {
  const ws = new WebSocket(url, protocol);
  ws.on('error', () => {});
  const packets: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  const waiters: Array<() => void> = [];
  parser.on('packet', (p: Packet) => {
    packets.push(p);
    for (const w of waiters.splice(0)) w();
  });
  ws.on('message', (data: Buffer) => parser.parse(data));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await withTimeout(new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject)), TIMEOUT_MS, 'WebSocket open');
  const next = (cmd: string): Promise<Packet> =>
    withTimeout(
      new Promise<Packet>((resolve) => {
        const check = (): void => {
          const p = packets.find((x) => x.cmd === cmd);
          if (p !== undefined) resolve(p);
          else waiters.push(check);
        };
        check();
      }),
      TIMEOUT_MS,
      cmd,
    );
  return { ws, packets, next, closed };
}

const v5 = { protocolVersion: 5 } as const;
const connectBytes = (clientId: string): Buffer => mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 0 }, v5);

/** One HTTP exchange on a raw socket: the status line and body of the answer. */
function rawHttp(port: number, request: string): Promise<{ status: number; body: string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => s.write(request));
      let text = '';
      s.setEncoding('utf8').on('data', (d: string) => (text += d));
      s.on('error', reject);
      s.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), body: text.split('\r\n\r\n').slice(1).join('\r\n\r\n') }));
    }),
    TIMEOUT_MS,
    'HTTP answer',
  );
}

const upgradeRequest = (path: string, protocol: string | null): string =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
  `${protocol === null ? '' : `Sec-WebSocket-Protocol: ${protocol}\r\n`}\r\n`;

describe('MQTT over WebSocket and secure WebSocket', () => {
  let node: TestNode;
  let pkiDir: string;
  let ca: Buffer;
  let wsUrl: string;
  let wssUrl: string;
  let wsPort: number;
  const clients: MqttClient[] = [];

  before(async () => {
    pkiDir = tempDir('shoal-pki-');
    const pki = makePki(pkiDir);
    const server = pki.server('server', '1001');
    ca = readFileSync(pki.ca);
    // Small limits so the slow-consumer case needs little traffic.
    node = await startTestNode({ ws: '127.0.0.1:0', wss: '127.0.0.1:0', tlsCert: server.cert, tlsKey: server.key, maxPacketSize: 128 * 1024, maxWriteBufferBytes: 256 * 1024 });
    wsPort = node.handle.transports.ws!.port;
    wsUrl = `ws://127.0.0.1:${wsPort}/mqtt`;
    wssUrl = `wss://localhost:${node.handle.transports.wss!.port}/mqtt`;
  });

  after(async () => {
    for (const c of clients) c.end(true);
    await node?.stop();
    if (node) removeDir(node.dataDir);
    if (pkiDir) removeDir(pkiDir);
  });

  for (const [name, url, version] of [
    ['ws://, MQTT 3.1.1', (): string => wsUrl, 4],
    ['wss://, MQTT 5.0', (): string => wssUrl, 5],
  ] as const) {
    it(`MQTT.js over ${name} exchanges messages both ways with a TCP client`, async () => {
      const web = await connect(url(), { protocolVersion: version, ca, clientId: `web-${version}` });
      const tcp = await connect(node.url, { protocolVersion: 5, clientId: `tcp-${version}` });
      clients.push(web, tcp);
      const webGot = collector(web);
      const tcpGot = collector(tcp);
      await web.subscribeAsync(`to-web/${version}/#`, { qos: 1 });
      await tcp.subscribeAsync(`to-tcp/${version}/#`, { qos: 1 });
      await tcp.publishAsync(`to-web/${version}/a`, 'from tcp', { qos: 1 });
      await web.publishAsync(`to-tcp/${version}/b`, 'from web', { qos: 1 });
      // A payload larger than one TCP segment and than ws's read chunks.
      const big = Buffer.alloc(100 * 1024, 0x62);
      await tcp.publishAsync(`to-web/${version}/big`, big, { qos: 0 });
      const [a, b] = await Promise.all([webGot.until(2), tcpGot.until(1)]);
      assert.deepEqual(a.map((m) => [m.topic, m.payload.length]), [[`to-web/${version}/a`, 8], [`to-web/${version}/big`, big.length]]);
      assert.equal(a[0]!.payload, 'from tcp');
      assert.deepEqual(b.map((m) => [m.topic, m.payload]), [[`to-tcp/${version}/b`, 'from web']]);
    });
  }

  it('answers subprotocol mqttv3.1 too, and frames packets split across messages and several in one', async () => {
    const c = await rawWs(wsUrl, 'mqttv3.1');
    assert.equal(c.ws.protocol, 'mqttv3.1');
    const connectPacket = connectBytes('split-frames');
    // CONNECT in three binary messages, one of them a single byte.
    c.ws.send(connectPacket.subarray(0, 1));
    c.ws.send(connectPacket.subarray(1, 5));
    c.ws.send(connectPacket.subarray(5));
    assert.equal((await c.next('connack') as IConnackPacket).reasonCode, 0);
    // SUBSCRIBE and PINGREQ in one message.
    c.ws.send(Buffer.concat([mqttPacket.generate({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'frames/#', qos: 0 }] }, v5), mqttPacket.generate({ cmd: 'pingreq' }, v5)]));
    await c.next('suback');
    await c.next('pingresp');
    c.ws.close();
    await withTimeout(c.closed, TIMEOUT_MS, 'close');
  });

  it('refuses a wrong path, a missing subprotocol and plain HTTP with a clear HTTP error, and logs it', async () => {
    const wrongPath = await rawHttp(wsPort, upgradeRequest('/ws', 'mqtt'));
    assert.equal(wrongPath.status, 404);
    assert.match(wrongPath.body, /no MQTT endpoint at "\/ws"; MQTT over WebSocket is served at \/mqtt/);
    const noProtocol = await rawHttp(wsPort, upgradeRequest('/mqtt', null));
    assert.equal(noProtocol.status, 400);
    assert.match(noProtocol.body, /Sec-WebSocket-Protocol must offer mqtt or mqttv3\.1; offered: none/);
    const wrongProtocol = await rawHttp(wsPort, upgradeRequest('/mqtt?x=1', 'chat, stomp'));
    assert.equal(wrongProtocol.status, 400);
    assert.match(wrongProtocol.body, /offered: chat, stomp/);
    const badVersion = await rawHttp(wsPort, upgradeRequest('/mqtt', 'mqtt').replace('Version: 13', 'Version: 99'));
    assert.equal(badVersion.status, 400);
    assert.match(badVersion.body, /Sec-WebSocket-Version/);
    const plain = await withTimeout(
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        http.get(`http://127.0.0.1:${wsPort}/mqtt`, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      }),
      TIMEOUT_MS,
      'plain GET',
    );
    assert.equal(plain.status, 426);
    assert.match(plain.body, /MQTT over WebSocket: connect with a WebSocket to \/mqtt, subprotocol mqtt/);
    // MQTT spoken straight to the WebSocket port.
    const notHttp = await rawHttp(wsPort, connectBytes('lost').toString('latin1'));
    assert.equal(notHttp.status, 400);
    assert.match(notHttp.body, /not an HTTP request \(HPE_\w+\); this port serves MQTT over WebSocket at \/mqtt/);
    const refused = node.logs.filter((l) => l.event === 'ws.upgrade.refused').map((l) => [l.status, l.listener]);
    assert.deepEqual(refused, [[404, '--ws'], [400, '--ws'], [400, '--ws'], [400, '--ws'], [426, '--ws'], [400, '--ws']]);
  });

  it('a malformed frame stream or a text frame closes that client alone', async () => {
    const bystander = await connect(wsUrl, { protocolVersion: 5, clientId: 'bystander' });
    clients.push(bystander);
    const got = collector(bystander);
    await bystander.subscribeAsync('still/here');

    for (const [clientId, breakIt, expected] of [
      // An unmasked client frame with a reserved opcode (0x3): RFC 6455 §5.2 forbids both.
      ['bad-frames', (c: { ws: WebSocket }): void => void (c.ws as unknown as { _socket: net.Socket })._socket.write(Buffer.from([0x83, 0x02, 0x00, 0x00])), /stream error: WS_ERR_/],
      ['text-frame', (c: { ws: WebSocket }): void => c.ws.send('CONNECT?'), /text frame received; MQTT over WebSocket uses binary frames only/],
    ] as const) {
      const c = await rawWs(wsUrl);
      c.ws.send(connectBytes(clientId));
      await c.next('connack');
      const closedEvent = waitFor<NodeEvents['client.disconnected']>(node.handle.events, 'client.disconnected', (e) => e.clientId === clientId);
      breakIt(c);
      const [e] = await closedEvent;
      assert.equal(e.reason.kind, 'abnormal');
      assert.match(e.reason.detail, expected);
      await withTimeout(c.closed, TIMEOUT_MS, `${clientId} closed`);
    }
    // The other client is still served.
    const publisher = await connect(node.url, { clientId: 'after-bad-frames' });
    clients.push(publisher);
    await publisher.publishAsync('still/here', 'yes');
    assert.equal((await got.until(1))[0]!.payload, 'yes');
  });

  it('over wss with --tls-cn-as-username, the client certificate decides: one without a CN is refused with 0x87', async () => {
    const dir = tempDir('shoal-pki-cn-');
    const pki = makePki(dir);
    const server = pki.server('server-cn', '1003');
    const strict = await startTestNode({ wss: '127.0.0.1:0', tlsCert: server.cert, tlsKey: server.key, tlsCa: pki.ca, tlsRequireClientCert: true, tlsCnAsUsername: true });
    try {
      const url = `wss://localhost:${strict.handle.transports.wss!.port}/mqtt`;
      const tlsOptions = (c: { cert: string; key: string }): { ca: Buffer; cert: Buffer; key: Buffer } => ({ ca: readFileSync(pki.ca), cert: readFileSync(c.cert), key: readFileSync(c.key) });
      const named = await connect(url, { protocolVersion: 5, clientId: 'cn-ok', ...tlsOptions(pki.client('ws-named', 'sensor-1', '2101')) });
      await named.endAsync();
      await assert.rejects(connect(url, { protocolVersion: 5, clientId: 'cn-missing', ...tlsOptions(pki.client('ws-nameless', null, '2102')) }), (err: unknown) => {
        assert.equal((err as { code?: number }).code, 0x87);
        return true;
      });
      // And no client certificate at all: the TLS handshake itself fails, and is logged.
      await assert.rejects(connect(url, { protocolVersion: 5, clientId: 'no-cert', ca: readFileSync(pki.ca), connectTimeout: 3000 }));
      assert.ok(strict.logs.some((l) => l.event === 'tls.handshake.failed' && l.listener === '--wss'), 'the refused handshake is logged');
    } finally {
      await strict.stop();
      removeDir(strict.dataDir);
      removeDir(dir);
    }
  });

  it("the WebSocket's buffered bytes count against --max-write-buffer: a paused subscriber loses QoS 0 messages, not memory", async () => {
    const slow = await rawWs(wsUrl);
    slow.ws.send(connectBytes('ws-slow'));
    await slow.next('connack');
    slow.ws.send(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood/#', qos: 0 }] }, v5));
    await slow.next('suback');
    // Stops reading its socket: what the broker sends piles up in its kernel buffers, then in the
    // WebSocket's (bufferedAmount), which is where the bound must see it.
    slow.ws.pause();
    const publisher = await connect(node.url, { protocolVersion: 5, clientId: 'flood-pub' });
    clients.push(publisher);
    const dropsBefore = node.handle.stats().messagesDropped;
    const payload = Buffer.alloc(32 * 1024, 0x61);
    // 32 MB in all: far beyond loopback kernel buffers plus the 256 KiB bound. A QoS 1 publish
    // every 64 messages keeps the publisher in step with the broker.
    for (let i = 0; i < 1024; i++) {
      if (i % 64 === 63) await publisher.publishAsync(`flood/${i}`, payload, { qos: 1 });
      else publisher.publish(`flood/${i}`, payload, { qos: 0 });
    }
    await publisher.publishAsync('flood/end', 'end', { qos: 1 });
    const dropped = node.handle.stats().messagesDropped - dropsBefore;
    assert.ok(dropped > 0, `messages to the paused WebSocket subscriber were dropped (${dropped})`);
    slow.ws.terminate();
  });
});

