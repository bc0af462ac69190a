// Three Shoal nodes in separate processes, joined by one seed list over real UDP gossip and real
// gRPC on 127.0.0.1, behave as one broker to MQTT clients: cross-node delivery at QoS 0/1/2 with
// `+` and `#`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { clusterSpecs, peersUp, routeVisible, startClusterProcess, type ClusterProcess } from '../helpers/cluster-process.js';
import { collector, connect, removeDir } from '../helpers/node.js';

const SECRET = 'cluster-integration-secret-51c2';
const WAIT_MS = 10_000;

describe('cluster of three processes', { timeout: 120_000 }, () => {
  let nodes: ClusterProcess[] = [];
  const clients: MqttClient[] = [];

  before(async () => {
    const specs = await clusterSpecs(3);
    nodes = await Promise.all(specs.map((s) => startClusterProcess(s, SECRET)));
    await Promise.all(nodes.map((n) => peersUp(n, nodes.filter((o) => o !== n).map((o) => o.spec.name))));
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
    await Promise.all(nodes.map((n) => n.stop()));
    for (const n of nodes) removeDir(n.spec.dataDir);
  });

  it('delivers a PUBLISH on one node to subscribers on the others at QoS 0/1/2, with + and #', async () => {
    const [n1, n2, n3] = nodes as [ClusterProcess, ClusterProcess, ClusterProcess];
    const s2 = await connect(n2.url, { clientId: 'sub-plus', protocolVersion: 5 });
    const s3 = await connect(n3.url, { clientId: 'sub-hash', protocolVersion: 4 });
    const pub = await connect(n1.url, { clientId: 'pub-1', protocolVersion: 5 });
    clients.push(s2, s3, pub);
    const got2 = collector(s2);
    const got3 = collector(s3);
    await s2.subscribeAsync('sensors/+/temp', { qos: 2 });
    await s3.subscribeAsync('sensors/#', { qos: 1 });
    await routeVisible([n1], 'node2', 'sensors/+/temp');
    await routeVisible([n1], 'node3', 'sensors/#');

    for (const qos of [0, 1, 2] as const) await pub.publishAsync('sensors/a/temp', `t${qos}`, { qos });
    await pub.publishAsync('sensors/b/humidity', 'h', { qos: 1 });

    const m2 = await got2.until(3, WAIT_MS);
    const m3 = await got3.until(4, WAIT_MS);
    assert.deepEqual(m2.map((m) => [m.topic, m.payload, m.packet.qos]), [
      ['sensors/a/temp', 't0', 0],
      ['sensors/a/temp', 't1', 1],
      ['sensors/a/temp', 't2', 2],
    ]);
    assert.deepEqual(m3.map((m) => [m.topic, m.payload, m.packet.qos]), [
      ['sensors/a/temp', 't0', 0],
      ['sensors/a/temp', 't1', 1],
      ['sensors/a/temp', 't2', 1],
      ['sensors/b/humidity', 'h', 1],
    ]);
    // `+` matched one level only: the humidity message never reached node2's subscriber.
    assert.equal(got2.messages.length, 3);
  });
});
