// Graceful shutdown end to end: handle.close() tells v5 clients 0x8B, closes 3.1.1 clients,
// stops listening and resolves with everything persistent flushed, so a node restarted on the
// same data directory finds sessions, queued messages and retained messages again.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { IConnackPacket, IDisconnectPacket } from 'mqtt-packet';
import { shardOf } from '../../src/actors/supervisor.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { collector, connect, removeDir, startTestNode, tempDir, waitFor, type TestNode } from '../helpers/node.js';
import { WireClient } from '../unit/transport/wire.js';

async function openClient(url: string, opts: IClientOptions): Promise<{ client: MqttClient; connack: IConnackPacket; msgs: ReturnType<typeof collector> }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  const msgs = collector(client); // before CONNACK: queued messages may share its read
  const [connack] = await waitFor<[IConnackPacket]>(client, 'connect');
  return { client, connack, msgs };
}

/** A client id (prefix + n) that lands on the given shard of a 2-shard node. */
function idOnShard(prefix: string, shard: number): string {
  for (let n = 0; ; n++) if (shardOf(`${prefix}${n}`, 2) === shard) return `${prefix}${n}`;
}

describe('graceful shutdown', { timeout: 30_000 }, () => {
  const dirs: string[] = [];
  const nodes: TestNode[] = [];
  after(async () => {
    for (const n of nodes) await n.stop();
    for (const d of dirs) removeDir(d);
  });

  async function start(dataDir: string): Promise<TestNode> {
    const n = await startTestNode({}, { dataDir });
    nodes.push(n);
    return n;
  }

  it('sends v5 clients DISCONNECT 0x8B, closes 3.1.1 clients, stops listening and resolves', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const node = await start(dataDir);
    const v5 = await connect(node.url, { protocolVersion: 5, clientId: 'sd-v5' });
    const v4 = await WireClient.connect(node.handle.mqtt.port, 4);
    await v4.handshake({ clientId: 'sd-v4' });
    const told = waitFor<[IDisconnectPacket]>(v5, 'disconnect');
    await node.handle.close('test shutdown');
    const [packet] = await told;
    assert.equal(packet.reasonCode, ReasonCode.ServerShuttingDown);
    await v4.waitClosed();
    assert.equal(v4.packets.length, 1, '3.1.1: only the CONNACK, never a server DISCONNECT');
    v4.destroy();
    v5.end(true);
    // A second close() is the same close.
    await node.handle.close('again');
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(node.handle.mqtt.port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    assert.equal(refused, 'ECONNREFUSED');
    assert.ok(node.logs.some((l) => l.event === 'node.stopped'));
  });

  it('flushes persistent sessions, queued QoS 1/2 messages and retained messages for the next start', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    let node = await start(dataDir);
    const offline = await openClient(node.url, { protocolVersion: 5, clientId: 'sd-offline', clean: true, properties: { sessionExpiryInterval: 3600 } });
    await offline.client.subscribeAsync({ 'sd/q1': { qos: 1 }, 'sd/q2': { qos: 2 } });
    await offline.client.endAsync();
    // Still connected at shutdown: its session must survive too.
    const online = await openClient(node.url, { protocolVersion: 4, clientId: 'sd-online', clean: false });
    await online.client.subscribeAsync('sd/q1', { qos: 1 });
    const pub = await connect(node.url, { protocolVersion: 4, clientId: 'sd-pub' });
    // Not awaited one by one: close() must still flush whatever was acknowledged.
    await Promise.all([
      pub.publishAsync('sd/q1', 'queued-1', { qos: 1 }),
      pub.publishAsync('sd/q2', 'queued-2', { qos: 2 }),
      pub.publishAsync('sd/retained', 'kept', { qos: 1, retain: true }),
    ]);
    pub.end(true);
    await node.handle.close('restart');
    online.client.end(true);

    node = await start(dataDir);
    const back = await openClient(node.url, { protocolVersion: 5, clientId: 'sd-offline', clean: false, properties: { sessionExpiryInterval: 3600 } });
    try {
      assert.equal(back.connack.sessionPresent, true);
      const got = await back.msgs.until(2);
      assert.deepEqual(got.map((m) => [m.topic, m.payload, m.packet.qos]).sort(), [['sd/q1', 'queued-1', 1], ['sd/q2', 'queued-2', 2]]);
    } finally {
      await back.client.endAsync();
    }
    const again = await openClient(node.url, { protocolVersion: 4, clientId: 'sd-online', clean: false });
    try {
      assert.equal(again.connack.sessionPresent, true);
      // It got 'queued-1' live before the shutdown; its subscription came back with the session.
      const p2 = await connect(node.url, { protocolVersion: 4, clientId: 'sd-pub-2' });
      await p2.publishAsync('sd/q1', 'after restart', { qos: 1 });
      await p2.endAsync();
      const got = await again.msgs.until(1);
      assert.deepEqual(got.map((m) => m.payload), ['after restart']);
    } finally {
      await again.client.endAsync();
    }
    const reader = await connect(node.url, { protocolVersion: 4, clientId: 'sd-reader' });
    try {
      const got = collector(reader);
      await reader.subscribeAsync('sd/retained', { qos: 1 });
      const [m] = await got.until(1);
      assert.equal(m!.payload, 'kept');
      assert.equal(m!.packet.retain, true);
    } finally {
      await reader.endAsync();
    }
  });

  it('publishes at shutdown the wills of connected clients, persistent and clean [MQTT-3.1.2-8]; an offline subscriber gets them after restart', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    let node = await start(dataDir);
    // Watcher and dying client on different shards, the dying one restored first: its will must
    // still reach a subscription restored by the other shard.
    const watcherId = idOnShard('sd-watcher-', 1);
    const dyingId = idOnShard('sd-dying-', 0);
    const watcher = await openClient(node.url, { protocolVersion: 4, clientId: watcherId, clean: false });
    await watcher.client.subscribeAsync('sd/will', { qos: 1 });
    await watcher.client.endAsync();
    const dying = await WireClient.connect(node.handle.mqtt.port, 4);
    await dying.handshake({ clientId: dyingId, clean: false, will: { topic: 'sd/will', payload: Buffer.from('gone with the node'), qos: 1, retain: false } });
    const dyingClean = await WireClient.connect(node.handle.mqtt.port, 4);
    await dyingClean.handshake({ clientId: idOnShard('sd-clean-', 0), clean: true, will: { topic: 'sd/will', payload: Buffer.from('clean gone too'), qos: 1, retain: false } });
    await node.handle.close('restart');
    dying.destroy();
    dyingClean.destroy();

    node = await start(dataDir);
    const back = await openClient(node.url, { protocolVersion: 4, clientId: watcherId, clean: false });
    try {
      assert.equal(back.connack.sessionPresent, true);
      const got = await back.msgs.until(2);
      assert.deepEqual(got.map((m) => m.payload).sort(), ['clean gone too', 'gone with the node']);
    } finally {
      await back.client.endAsync();
    }
  });
});
