// Keep Alive end to end [MQTT-3.1.2-22..-24]: silent clients are cut after 1.5 × their keepalive,
// pinging ones stay, and maxKeepaliveSec clamps what clients ask for (v5: Server Keep Alive).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IDisconnectPacket } from 'mqtt-packet';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { removeDir, startTestNode, type TestNode } from '../helpers/node.js';
import { WireClient } from '../unit/transport/wire.js';

async function silentUntilClosed(w: WireClient): Promise<number> {
  const started = Date.now();
  await w.waitClosed(5000);
  return Date.now() - started;
}

describe('keepalive', { timeout: 30_000 }, () => {
  let node: TestNode;
  let port: number;
  before(async () => {
    node = await startTestNode();
    port = node.handle.mqtt.port;
  });
  after(async () => {
    await node.stop();
    removeDir(node.dataDir);
  });

  it('disconnects a silent v5 client after 1.5 × keepalive with DISCONNECT 0x8D', async () => {
    const w = await WireClient.connect(port, 5);
    try {
      const connack = (await w.handshake({ clientId: 'ka-silent-v5', keepalive: 1 })) as IConnackPacket;
      assert.equal(connack.properties?.serverKeepAlive, undefined, 'no limit configured: the client keeps its value');
      const elapsed = await silentUntilClosed(w);
      assert.ok(elapsed >= 1400 && elapsed < 3000, `closed after ${elapsed} ms`);
      const d = w.packets.at(-1) as IDisconnectPacket;
      assert.equal(d.cmd, 'disconnect');
      assert.equal(d.reasonCode, ReasonCode.KeepAliveTimeout);
      const line = node.logs.find((l) => l.event === 'client.disconnected' && l.clientId === 'ka-silent-v5');
      assert.ok(line);
      assert.match(String(line.reason), /KeepAlive/i);
    } finally {
      w.destroy();
    }
  });

  it('closes a silent 3.1.1 client after 1.5 × keepalive', async () => {
    const w = await WireClient.connect(port, 4);
    try {
      await w.handshake({ clientId: 'ka-silent-v4', keepalive: 1 });
      const elapsed = await silentUntilClosed(w);
      assert.ok(elapsed >= 1400 && elapsed < 3000, `closed after ${elapsed} ms`);
      assert.equal(w.packets.length, 1, 'only the CONNACK: 3.1.1 has no server DISCONNECT');
    } finally {
      w.destroy();
    }
  });

  it('keeps a client that sends PINGREQ within its keepalive', async () => {
    const w = await WireClient.connect(port, 5);
    let pinger: NodeJS.Timeout | undefined;
    try {
      await w.handshake({ clientId: 'ka-pinger', keepalive: 1 });
      // The client's own behaviour: a ping every 400 ms for 2.2 s, longer than 1.5 × keepalive.
      pinger = setInterval(() => w.send({ cmd: 'pingreq' }), 400);
      const started = Date.now();
      let pongs = 0;
      while (Date.now() - started < 2200) {
        const p = await w.next();
        assert.equal(p.cmd, 'pingresp');
        pongs++;
      }
      assert.ok(pongs >= 4);
      assert.equal(w.socket.destroyed, false);
    } finally {
      clearInterval(pinger);
      w.destroy();
    }
  });
});

describe('maxKeepaliveSec', { timeout: 30_000 }, () => {
  let node: TestNode;
  let port: number;
  before(async () => {
    node = await startTestNode({ maxKeepaliveSec: 1 });
    port = node.handle.mqtt.port;
  });
  after(async () => {
    await node.stop();
    removeDir(node.dataDir);
  });

  it('tells a v5 client asking for more the Server Keep Alive in CONNACK, and enforces it [MQTT-3.2.2-21]', async () => {
    const w = await WireClient.connect(port, 5);
    try {
      const connack = (await w.handshake({ clientId: 'ka-clamped-v5', keepalive: 60 })) as IConnackPacket;
      assert.equal(connack.properties?.serverKeepAlive, 1);
      const elapsed = await silentUntilClosed(w);
      assert.ok(elapsed >= 1400 && elapsed < 3000, `closed after ${elapsed} ms, by the server's keepalive`);
      assert.equal((w.packets.at(-1) as IDisconnectPacket).reasonCode, ReasonCode.KeepAliveTimeout);
    } finally {
      w.destroy();
    }
  });

  it('gives a v5 client asking for no keepalive (0) the limit as Server Keep Alive', async () => {
    const w = await WireClient.connect(port, 5);
    try {
      const connack = (await w.handshake({ clientId: 'ka-zero-v5', keepalive: 0 })) as IConnackPacket;
      assert.equal(connack.properties?.serverKeepAlive, 1);
    } finally {
      w.destroy();
    }
  });

  it('enforces the limit on a 3.1.1 client asking for more', async () => {
    const w = await WireClient.connect(port, 4);
    try {
      await w.handshake({ clientId: 'ka-clamped-v4', keepalive: 60 });
      const elapsed = await silentUntilClosed(w);
      assert.ok(elapsed >= 1400 && elapsed < 3000, `closed after ${elapsed} ms`);
    } finally {
      w.destroy();
    }
  });
});
