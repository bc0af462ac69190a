// Graceful leave of a cluster node (issue 17), with three `shoal start` processes on 127.0.0.1:
// `shoal drain` (and SIGTERM) make a node stop accepting, refer its MQTT 5 clients to a live node
// with DISCONNECT 0x9C Use Another Server + Server Reference (0x8B when no node is left), close
// its 3.1.1 clients, move its persistent sessions (with their queued messages) to live nodes,
// leave the gossip (the others see it go at once) and exit 0, logging each step with its counts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IDisconnectPacket } from 'mqtt-packet';
import mqtt, { type MqttClient } from 'mqtt';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { routeVisible, shoalCommand, useCluster, type ClusterProcess } from '../helpers/cluster-process.js';
import { collector, connect, waitFor } from '../helpers/node.js';
import { WireClient } from '../unit/transport/wire.js';

const SECRET = 'cluster-drain-secret-7a41c9e2';
const WAIT_MS = 15_000;

const DRAIN_STEPS = [
  'node.drain.begin', 'node.drain.listeners_closed', 'node.drain.clients_disconnected', 'node.drain.sessions_pushed',
  'node.drain.forwards_settled', 'node.drain.left_gossip', 'node.drain.done',
];

/** The node.drain.* events a node logged, in order. */
function drainEvents(node: ClusterProcess): string[] {
  return node.lines.map((l) => l.event).filter((e): e is string => typeof e === 'string' && e.startsWith('node.drain.'));
}

/** Resolves with the DISCONNECT the server sends `client` (v5). */
function serverDisconnect(client: MqttClient): Promise<IDisconnectPacket> {
  return waitFor<[IDisconnectPacket]>(client, 'disconnect', () => true, WAIT_MS).then(([p]) => p);
}

describe('graceful leave of a cluster node', { timeout: 120_000 }, () => {
  const { nodes, clients } = useCluster(3, SECRET);
  const address = (n: ClusterProcess): string => `127.0.0.1:${n.port}`;

  it('shoal drain: v5 clients get 0x9C with a live node as Server Reference, 3.1.1 clients are closed, the node leaves and exits 0', async () => {
    const [n1, n2, n3] = nodes as [ClusterProcess, ClusterProcess, ClusterProcess];
    // The cluster status shows every member's MQTT address (from gossip).
    const status = await shoalCommand(n1, ['cluster', 'status', '--json'], SECRET);
    assert.equal(status.code, 0, status.stderr);
    const members = (JSON.parse(status.stdout) as { members: { node: string; mqttAddress?: string }[] }).members;
    assert.deepEqual(members.map((m) => [m.node, m.mqttAddress]).sort(), nodes.map((n) => [n.spec.name, address(n)]).sort());

    const v5 = await Promise.all(
      ['gl-a', 'gl-b', 'gl-c', 'gl-d'].map((clientId, i) => connect(n3.url, { clientId, protocolVersion: 5, clean: i % 2 === 0, properties: { sessionExpiryInterval: i % 2 === 0 ? 0 : 3600 } })),
    );
    clients.push(...v5);
    const v4 = await WireClient.connect(n3.port, 4);
    await v4.handshake({ clientId: 'gl-v4' });
    const told = v5.map(serverDisconnect);

    const drained = await shoalCommand(n3, ['drain', '--json'], SECRET);
    assert.equal(drained.code, 0, drained.stderr);
    const report = JSON.parse(drained.stdout) as Record<string, unknown>;
    assert.equal(report.node, 'node3');
    assert.equal(report.clientsRedirected, 4);
    assert.equal(report.clientsShutDown, 0);
    assert.equal(report.clientsClosed, 1);
    assert.equal(report.sessionsPushed, 2, 'the two persistent sessions moved to live nodes');
    assert.equal(report.sessionsKept, 0);
    assert.equal(report.timedOut, false);

    const live = new Set([address(n1), address(n2)]);
    const references = new Set<string>();
    for (const packet of await Promise.all(told)) {
      assert.equal(packet.reasonCode, ReasonCode.UseAnotherServer);
      const reference = packet.properties?.serverReference;
      assert.ok(reference !== undefined && live.has(reference), `Server Reference ${reference} names a live node (${[...live].join(', ')})`);
      references.add(reference);
    }
    await v4.waitClosed();
    assert.equal(v4.packets.length, 1, '3.1.1: only the CONNACK, never a server DISCONNECT');
    v4.destroy();

    assert.deepEqual(await n3.exited, { code: 0, signal: null });
    assert.deepEqual(drainEvents(n3), DRAIN_STEPS);
    const disconnected = n3.lines.find((l) => l.event === 'node.drain.clients_disconnected')!;
    assert.deepEqual([disconnected.redirected, disconnected.shutDown, disconnected.closed], [4, 0, 1]);
    // A graceful leave is seen at once, not after the failure detector's timeouts.
    await Promise.all([n1, n2].map((n) => n.waitFor('node3 down', (l) => l.event === 'cluster.member.down' && l.name === 'node3', WAIT_MS)));
    // The reference works: the client connects there.
    const moved = await connect(`mqtt://${[...references][0]!}`, { clientId: 'gl-a', protocolVersion: 5 });
    clients.push(moved);
    assert.ok(moved.connected);
  });

  it('SIGTERM drains the same way; the last node left tells v5 clients 0x8B', async () => {
    const [n1, n2] = nodes as [ClusterProcess, ClusterProcess];
    const onN2 = await connect(n2.url, { clientId: 'gl-e', protocolVersion: 5 });
    clients.push(onN2);
    const toldN2 = serverDisconnect(onN2);
    await n2.stop();
    const p2 = await toldN2;
    assert.equal(p2.reasonCode, ReasonCode.UseAnotherServer);
    assert.equal(p2.properties?.serverReference, address(n1));
    assert.deepEqual(await n2.exited, { code: 0, signal: null });
    assert.deepEqual(drainEvents(n2), DRAIN_STEPS);
    await n1.waitFor('node2 down', (l) => l.event === 'cluster.member.down' && l.name === 'node2', WAIT_MS);

    const onN1 = await connect(n1.url, { clientId: 'gl-f', protocolVersion: 5 });
    clients.push(onN1);
    const toldN1 = serverDisconnect(onN1);
    await n1.stop();
    const p1 = await toldN1;
    assert.equal(p1.reasonCode, ReasonCode.ServerShuttingDown);
    assert.equal(p1.properties?.serverReference, undefined);
    assert.deepEqual(await n1.exited, { code: 0, signal: null });
    const disconnected = n1.lines.find((l) => l.event === 'node.drain.clients_disconnected')!;
    assert.ok((disconnected.shutDown as number) >= 1);
    assert.equal(disconnected.redirected, 0);
  });
});

const PERSISTENT = { protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 3600 } };

/** A v5 persistent-session client, collecting from before CONNACK (queued messages may share its read). */
async function openPersistent(url: string, clientId: string): Promise<{ client: MqttClient; connack: IConnackPacket; msgs: ReturnType<typeof collector> }> {
  const client = mqtt.connect(url, { clientId, reconnectPeriod: 0, connectTimeout: 5000, ...PERSISTENT });
  const msgs = collector(client);
  const [connack] = await waitFor<[IConnackPacket]>(client, 'connect', () => true, WAIT_MS);
  return { client, connack, msgs };
}

describe('graceful leave moves persistent sessions', { timeout: 120_000 }, () => {
  const { nodes, clients } = useCluster(3, SECRET);

  it('an offline session with queued messages, and an online one, are usable on another node afterwards', async () => {
    const [n1, n2, n3] = nodes as [ClusterProcess, ClusterProcess, ClusterProcess];
    const offline = await openPersistent(n3.url, 'gs-offline');
    await offline.client.subscribeAsync('gs/#', { qos: 1 });
    await offline.client.endAsync();
    const online = await openPersistent(n3.url, 'gs-online');
    clients.push(online.client);
    await online.client.subscribeAsync('gs/#', { qos: 1 });
    await routeVisible([n1], 'node3', 'gs/#');
    const pub = await connect(n1.url, { clientId: 'gs-pub', protocolVersion: 5 });
    clients.push(pub);
    for (let i = 0; i < 20; i++) await pub.publishAsync('gs/q', `m${i}`, { qos: 1 });
    await online.msgs.until(20, WAIT_MS);
    const told = serverDisconnect(online.client);

    await n3.stop(); // SIGTERM
    assert.deepEqual(await n3.exited, { code: 0, signal: null });
    const pushed = n3.lines.find((l) => l.event === 'node.drain.sessions_pushed')!;
    assert.deepEqual([pushed.held, pushed.pushed, pushed.kept], [2, 2, 0]);
    const packet = await told;
    assert.equal(packet.reasonCode, ReasonCode.UseAnotherServer);
    const reference = packet.properties?.serverReference;
    assert.ok(reference === `127.0.0.1:${n1.port}` || reference === `127.0.0.1:${n2.port}`, `reference ${reference} names a live node`);
    await Promise.all([n1, n2].map((n) => n.waitFor('node3 down', (l) => l.event === 'cluster.member.down' && l.name === 'node3', WAIT_MS)));

    // The online client follows its reference: its session was moved there.
    const back = await openPersistent(`mqtt://${reference!}`, 'gs-online');
    clients.push(back.client);
    assert.equal(back.connack.sessionPresent, true);
    await pub.publishAsync('gs/q', 'after', { qos: 1 });
    assert.deepEqual((await back.msgs.until(1, WAIT_MS)).map((m) => m.payload), ['after']);

    // The offline one comes back on either live node: its 20 queued messages moved with it.
    const resumed = await openPersistent(n2.url, 'gs-offline');
    clients.push(resumed.client);
    assert.equal(resumed.connack.sessionPresent, true);
    const queued = await resumed.msgs.until(21, WAIT_MS);
    assert.deepEqual(queued.map((m) => m.payload), [...Array.from({ length: 20 }, (_, i) => `m${i}`), 'after']);
  });
});
