// Cross-node session takeover between three `shoal start` processes on 127.0.0.1 (issue 17): a
// client that reconnects to another node finds its session there, moved with its inflight window
// and its queue; two CONNECTs with one client id on two nodes leave one live session; a storm of
// clients each moving to another node loses nothing; Clean Start discards the remote session; a
// takeover whose old node does not answer (SIGSTOP) refuses with 0x89 and leaves the session whole.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import type { IConnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import { clusterSpecs, peersUp, routeVisible, startClusterProcess, type ClusterProcess } from '../helpers/cluster-process.js';
import { connect, removeDir } from '../helpers/node.js';
import { RawClient } from '../helpers/raw-client.js';

const SECRET = 'cluster-takeover-secret-9d41';
const WAIT_MS = 10_000;

function connectPacket(clientId: string, clean: boolean, props: IConnectPacket['properties'] = { sessionExpiryInterval: 600 }): IConnectPacket {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean, keepalive: 0, properties: props };
}

/** Opens a v5 raw client on `node` and sends CONNECT; resolves with the client and its CONNACK. */
async function rawConnect(node: ClusterProcess, packet: IConnectPacket): Promise<{ c: RawClient; connack: Packet }> {
  const c = await RawClient.open(node.port, 5);
  c.send(packet);
  const connack = await c.next(`CONNACK of ${packet.clientId} on ${node.spec.name}`, WAIT_MS);
  return { c, connack };
}

async function subscribe(c: RawClient, topic: string, qos: 0 | 1 | 2): Promise<void> {
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] });
  const suback = await c.next('SUBACK', WAIT_MS);
  assert.equal(suback.cmd, 'suback');
}

async function nextPublish(c: RawClient, what: string): Promise<IPublishPacket> {
  const p = await c.next(what, WAIT_MS);
  assert.equal(p.cmd, 'publish', `${what}: got ${p.cmd}`);
  return p as IPublishPacket;
}

/** QoS 1 messages "from".."to-1" on `topic`, at most 100 unacknowledged at a time (the broker's
 * Receive Maximum is 256, which MQTT.js does not count). */
async function publishRange(pub: MqttClient, topic: string, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, to - i) }, (_, k) => pub.publishAsync(topic, String(i + k), { qos: 1 })));
  }
}

describe('cross-node session takeover (three processes)', { timeout: 180_000 }, () => {
  let nodes: ClusterProcess[] = [];
  const raws: RawClient[] = [];

  before(async () => {
    const specs = await clusterSpecs(3);
    nodes = await Promise.all(specs.map((s) => startClusterProcess(s, SECRET)));
    await Promise.all(nodes.map((n) => peersUp(n, nodes.filter((o) => o !== n).map((o) => o.spec.name))));
  });

  after(async () => {
    for (const r of raws) r.destroy();
    await Promise.all(nodes.map((n) => n.stop()));
    for (const n of nodes) removeDir(n.spec.dataDir);
  });

  it('moves a session with 100 inflight and 1000 queued QoS 1 messages: none lost, inflight resent with DUP, order kept', async () => {
    const [n1, n2] = nodes as [ClusterProcess, ClusterProcess];
    const { c: old, connack } = await rawConnect(n1, connectPacket('mover', true, { sessionExpiryInterval: 600, receiveMaximum: 100 }));
    raws.push(old);
    assert.equal(connack.cmd, 'connack');
    await subscribe(old, 'mv/#', 1);
    await routeVisible([n2], 'node1', 'mv/#');

    const pub = await connect(n2.url, { clientId: 'mv-pub', protocolVersion: 5 });
    const total = 1100;
    await publishRange(pub, 'mv/t', 0, total);
    await pub.endAsync();
    // The window: 100 sent and not acknowledged; the other 1000 wait in node1's queue.
    const inflight: IPublishPacket[] = [];
    for (let i = 0; i < 100; i++) inflight.push(await nextPublish(old, `inflight ${i}`));
    assert.deepEqual(inflight.map((p) => p.payload.toString()), Array.from({ length: 100 }, (_, i) => String(i)));

    const { c: moved, connack: ack2 } = await rawConnect(n2, connectPacket('mover', false, { sessionExpiryInterval: 600, receiveMaximum: 100 }));
    raws.push(moved);
    assert.equal(ack2.cmd, 'connack');
    assert.equal((ack2 as { sessionPresent: boolean }).sessionPresent, true, 'the session moved to node2');
    const bye = await old.next('DISCONNECT of the old connection', WAIT_MS);
    assert.equal(bye.cmd, 'disconnect');
    assert.equal((bye as { reasonCode?: number }).reasonCode, 0x8e, 'Session taken over');
    await old.waitClosed(WAIT_MS);

    const got: string[] = [];
    for (let i = 0; i < total; i++) {
      const p = await nextPublish(moved, `message ${i} on node2`);
      if (i < 100) {
        assert.equal(p.dup, true, `inflight ${i} resent with DUP [MQTT-3.3.1-1]`);
        assert.equal(p.messageId, inflight[i]!.messageId, 'same packet id');
      }
      got.push(p.payload.toString());
      moved.send({ cmd: 'puback', messageId: p.messageId! });
    }
    assert.deepEqual(got, Array.from({ length: total }, (_, i) => String(i)), 'every message once, in the order published');
    const logged = await n2.waitFor('takeover done', (l) => l.event === 'cluster.takeover.done' && l.clientId === 'mover', WAIT_MS);
    assert.match(String(logged.msg), /from node1/);
    moved.send({ cmd: 'disconnect' });
  });
});
