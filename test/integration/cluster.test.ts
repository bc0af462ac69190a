// Three Shoal nodes in separate processes, joined by one seed list over real UDP gossip and real
// gRPC on 127.0.0.1, behave as one broker to MQTT clients: cross-node delivery at QoS 0/1/2 with
// `+` and `#`, retained messages across nodes, shared groups across nodes (exactly one receiver
// per message), a kill -9 purging the dead node's routes within the documented bound, a restart
// (new incarnation) resyncing, and a node with a wrong secret refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterStatus } from '../../src/cluster/peer-transport.js';
import { clusterSpecs, incarnationOf, purgeBoundMs, routeVisible, shoalCommand, startClusterProcess, useCluster, type ClusterProcess } from '../helpers/cluster-process.js';
import { collector, connect, connectCollecting, removeDir } from '../helpers/node.js';

const SECRET = 'cluster-integration-secret-51c2';
const WAIT_MS = 10_000;

/** Runs `shoal cluster status` against `node`'s gRPC port with `secret` in the environment. */
function clusterStatus(node: ClusterProcess, secret: string, json: boolean): Promise<{ code: number; stdout: string; stderr: string }> {
  return shoalCommand(node, ['cluster', 'status', ...(json ? ['--json'] : [])], secret);
}
const PURGE_BOUND_MS = purgeBoundMs(3);

describe('cluster of three processes', { timeout: 120_000 }, () => {
  const { nodes, clients } = useCluster(3, SECRET);

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

  it('`shoal cluster status` lists every member with its state, incarnation and route count', async () => {
    const res = await clusterStatus(nodes[0]!, SECRET, true);
    assert.equal(res.code, 0, res.stderr);
    const status = JSON.parse(res.stdout) as ClusterStatus;
    assert.equal(status.node, 'node1');
    assert.deepEqual(status.members.map((m) => [m.node, m.state]).sort(), [['node1', 'alive'], ['node2', 'alive'], ['node3', 'alive']]);
    // The first test left node2 holding sensors/+/temp and node3 sensors/#.
    assert.equal(status.members.find((m) => m.node === 'node2')!.routeCount, 1);
    assert.equal(status.members.find((m) => m.node === 'node3')!.routeCount, 1);
    const table = await clusterStatus(nodes[0]!, SECRET, false);
    assert.match(table.stdout, /^node2\s+alive\s+\d+/m);
    const refused = await clusterStatus(nodes[0]!, 'not-the-cluster-secret-9', true);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /no cluster status from the node at 127\.0\.0\.1:\d+: .*secret/);
  });

  it('replicates retained messages: a subscriber on any node gets what was retained on another', async () => {
    const [n1, n2, n3] = nodes as [ClusterProcess, ClusterProcess, ClusterProcess];
    const pub = await connect(n1.url, { clientId: 'retainer', protocolVersion: 5 });
    clients.push(pub);
    await pub.publishAsync('status/dev1', 'on', { qos: 1, retain: true });
    await pub.publishAsync('status/dev2', 'off', { qos: 0, retain: true });
    for (const n of [n2, n3]) {
      await n.waitFor('retained status/dev2', (l) => l.event === 'cluster.retained.applied' && l.topic === 'status/dev2', WAIT_MS);
    }
    const { c, got } = await connectCollecting(n3.url, { clientId: 'late-reader', protocolVersion: 5 });
    clients.push(c);
    await c.subscribeAsync('status/#', { qos: 1 });
    const m = await got.until(2, WAIT_MS);
    assert.deepEqual(m.map((x) => [x.topic, x.payload, x.packet.retain]).sort(), [['status/dev1', 'on', true], ['status/dev2', 'off', true]]);
    // A clear on node2 replaces it everywhere (last writer wins).
    const clearer = await connect(n2.url, { clientId: 'clearer', protocolVersion: 5 });
    clients.push(clearer);
    await clearer.publishAsync('status/dev1', '', { qos: 1, retain: true });
    await n1.waitFor('retained clear', (l) => l.event === 'cluster.retained.applied' && l.topic === 'status/dev1' && l.clear === true, WAIT_MS);
    const { c: c1, got: got1 } = await connectCollecting(n1.url, { clientId: 'reader-1', protocolVersion: 5 });
    clients.push(c1);
    await c1.subscribeAsync('status/#', { qos: 1 });
    const m1 = await got1.until(1, WAIT_MS);
    assert.deepEqual(m1.map((x) => [x.topic, x.payload]), [['status/dev2', 'off']]);
  });

  it('gives each message of a shared group to exactly one member across the nodes', async () => {
    const [n1, n2, n3] = nodes as [ClusterProcess, ClusterProcess, ClusterProcess];
    const members = await Promise.all([n1, n2, n3].map((n, i) => connectCollecting(n.url, { clientId: `worker-${i + 1}`, protocolVersion: 5 })));
    for (const { c } of members) {
      clients.push(c);
      await c.subscribeAsync('$share/workers/jobs/+', { qos: 1 });
    }
    await routeVisible([n1], 'node2', '$share/workers/jobs/+');
    await routeVisible([n1], 'node3', '$share/workers/jobs/+');
    const pub = await connect(n1.url, { clientId: 'job-source', protocolVersion: 5 });
    clients.push(pub);
    const total = 30;
    for (let i = 0; i < total; i++) await pub.publishAsync(`jobs/${i}`, String(i), { qos: 1 });
    const all = async (): Promise<string[]> => {
      for (;;) {
        const got = members.flatMap(({ got: g }) => g.messages.map((x) => x.payload));
        if (got.length >= total) return got;
        await Promise.race(members.map(({ got: g }) => g.until(g.messages.length + 1, WAIT_MS)));
      }
    };
    const received = await all();
    assert.deepEqual([...received].sort((a, b) => Number(a) - Number(b)), Array.from({ length: total }, (_, i) => String(i)));
    // Spread over the nodes, not all on the publisher's.
    for (const { got: g } of members) assert.ok(g.messages.length > 0, "every node's member got some");
  });

  it("purges a kill -9 node's routes within the documented bound; its restart (new incarnation) resyncs", async () => {
    const [n1, , n3] = nodes as [ClusterProcess, ClusterProcess, ClusterProcess];
    const sub = await connect(n3.url, { clientId: 'durable-sub', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
    await sub.subscribeAsync('orders/#', { qos: 1 });
    const oldIncarnation = await incarnationOf(n3);
    await routeVisible([n1], 'node3', 'orders/#', oldIncarnation);
    const pub = await connect(n1.url, { clientId: 'order-source', protocolVersion: 5 });
    clients.push(pub);
    const pubacks: number[] = [];
    pub.on('packetreceive', (p) => {
      if (p.cmd === 'puback') pubacks.push(p.reasonCode ?? 0);
    });

    const killedAt = Date.now();
    await n3.kill9();
    sub.end(true);
    await n1.waitFor('purge of node3', (l) => l.event === 'cluster.routes.purged' && l.origin === 'node3', PURGE_BOUND_MS + 5_000);
    const purgeMs = Date.now() - killedAt;
    assert.ok(purgeMs <= PURGE_BOUND_MS, `routes purged ${purgeMs} ms after kill -9; documented bound ${PURGE_BOUND_MS} ms`);
    // Nobody matches any more: a v5 PUBACK says so (0x10 No Matching Subscribers).
    await pub.publishAsync('orders/1', 'lost', { qos: 1 });
    assert.equal(pubacks.at(-1), 0x10);

    // Published while node3 is down, retained: node3 gets it from a peer when it rejoins.
    await pub.publishAsync('status/dev3', 'while-down', { qos: 1, retain: true });
    const restarted = await startClusterProcess(n3.spec, SECRET);
    nodes[2] = restarted;
    const newIncarnation = await incarnationOf(restarted);
    assert.ok(newIncarnation > oldIncarnation);
    // The persistent session's subscription comes back from storage as a route of the new incarnation.
    await routeVisible([n1], 'node3', 'orders/#', newIncarnation, 20_000);
    await restarted.waitFor('retained snapshot', (l) => l.event === 'cluster.retained.synced', WAIT_MS);
    // QoS 1 to the offline persistent session: PUBACK after node3 stored the copy.
    await pub.publishAsync('orders/2', 'kept', { qos: 1 });
    assert.equal(pubacks.at(-1), 0);
    const { c, got } = await connectCollecting(restarted.url, { clientId: 'durable-sub', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
    clients.push(c);
    const m = await got.until(1, WAIT_MS);
    assert.deepEqual(m.map((x) => [x.topic, x.payload]), [['orders/2', 'kept']]);
    const { c: r, got: rg } = await connectCollecting(restarted.url, { clientId: 'rejoin-reader', protocolVersion: 5 });
    clients.push(r);
    await r.subscribeAsync('status/dev3', { qos: 1 });
    assert.deepEqual((await rg.until(1, WAIT_MS)).map((x) => [x.payload, x.packet.retain]), [['while-down', true]]);
  });

  it('refuses a node with a wrong secret, which logs why', async () => {
    const n1 = nodes[0]!;
    const [spec] = await clusterSpecs(1);
    const intruder = await startClusterProcess({ ...spec!, name: 'intruder', seeds: nodes.map((n) => `127.0.0.1:${n.spec.gossipPort}`) }, 'a-wrong-cluster-secret-4411');
    try {
      await n1.waitFor('rejected gossip', (l) => l.event === 'cluster.gossip.rejected', WAIT_MS);
      await intruder.waitFor('seeds unreachable', (l) => l.event === 'cluster.gossip.seeds_unreachable' || l.event === 'cluster.gossip.rejected', WAIT_MS);
      assert.equal(n1.lines.some((l) => l.event === 'cluster.member.up' && l.name === 'intruder'), false);
      assert.equal(intruder.lines.some((l) => l.event === 'cluster.member.up'), false);
    } finally {
      await intruder.stop();
      removeDir(spec!.dataDir);
    }
  });
});
