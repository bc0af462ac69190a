// /ready on a 2-node cluster of real processes: a node whose seeds have not answered is not
// ready (503, naming what it waits for); once both have joined, /ready is 200 only when the node
// holds its peer's routes (checked: the peer's filter is in /api/v1/routes at that moment); the
// members API and /metrics show both nodes with their loads; a session moved between the nodes
// is counted as a takeover with its latency; and a node whose only peer leaves stays ready (it
// keeps serving).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { clusterSpecs, startClusterProcess, CLUSTER_START_TIMEOUT_MS, type ClusterChildSpec, type ClusterProcess } from '../helpers/cluster-process.js';
import { connect, removeDir } from '../helpers/node.js';
import { eventually, httpJson, scrape } from '../helpers/http.js';
import type { MemberInfoView, Readiness } from '../../src/http/admin-source.js';
import type { Page } from '../../src/http/paging.js';

const WAIT_MS = 15_000;

/** The node's HTTP base URL, from its "http.listening" line (bound before "node.listening"). */
async function httpBase(n: ClusterProcess): Promise<string> {
  const line = await n.waitFor('http.listening', (l) => l.event === 'http.listening', CLUSTER_START_TIMEOUT_MS);
  return `http://127.0.0.1:${line.port as number}`;
}

describe('/ready on a 2-node cluster', { timeout: 120_000 }, () => {
  const nodes: ClusterProcess[] = [];
  const clients: MqttClient[] = [];
  let specs: ClusterChildSpec[] = [];

  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
    await Promise.all(nodes.map((n) => n.stop()));
    for (const s of specs) removeDir(s.dataDir);
  });

  it('is 503 until joined and route-synced, then 200 with the peer routes held; stays 200 when the peer leaves', async () => {
    specs = await clusterSpecs(2);
    const n1 = await startClusterProcess(specs[0]!, undefined);
    nodes.push(n1);
    const base1 = await httpBase(n1);
    // Alone, its other seed silent: not ready, and it says why.
    const alone = await httpJson<Readiness & { node: string }>(base1, '/ready');
    assert.equal(alone.status, 503);
    assert.equal(alone.body.checks.listeners, true);
    assert.equal(alone.body.checks.joined, false);
    assert.match(alone.body.waitingFor.join('; '), /no seed has answered/);
    assert.equal((await httpJson(base1, '/health')).status, 200, 'live while not ready');

    // node1 holds a route before node2 exists: node2 must copy it before it is ready.
    const sub = await connect(n1.url, { clientId: 'ready-sub' });
    clients.push(sub);
    await sub.subscribeAsync('ready/#', { qos: 1 });

    const n2 = await startClusterProcess(specs[1]!, undefined);
    nodes.push(n2);
    const base2 = await httpBase(n2);
    let routesAtReady: Page<{ filter: string; nodes: string[] }> | null = null;
    await eventually('node2 /ready 200', async () => {
      const r = await httpJson<Readiness>(base2, '/ready');
      if (r.status !== 200) return false;
      // Read right after the 200: ready means the peer's routes are here.
      routesAtReady = (await httpJson<Page<{ filter: string; nodes: string[] }>>(base2, '/api/v1/routes')).body;
      assert.deepEqual(r.body.checks, { listeners: true, joined: true, routesSynced: true });
      return true;
    }, WAIT_MS);
    assert.deepEqual(routesAtReady!.data.find((r) => r.filter === 'ready/#'), { filter: 'ready/#', nodes: ['node1'] });
    await eventually('node1 /ready 200', async () => (await httpJson(base1, '/ready')).status === 200, WAIT_MS);

    // Both members, each with its load as the peer reports it.
    const pub = await connect(n2.url, { clientId: 'ready-pub' });
    clients.push(pub);
    const members = await httpJson<{ clustered: boolean; data: MemberInfoView[] }>(base1, '/api/v1/cluster/members');
    assert.equal(members.body.clustered, true);
    const byName = new Map(members.body.data.map((m) => [m.node, m]));
    assert.deepEqual([...byName.keys()].sort(), ['node1', 'node2']);
    assert.equal(byName.get('node1')!.self, true);
    assert.equal(byName.get('node2')!.state, 'alive');
    assert.equal(byName.get('node1')!.load!.connections, 1);
    assert.equal(byName.get('node2')!.load!.connections, 1);
    assert.equal(byName.get('node1')!.routes, 1);
    const m1 = await scrape(base1);
    assert.equal(m1.value('shoal_cluster_members', { state: 'alive' }), 2);
    assert.equal(m1.value('shoal_routes', { node: 'node1' }), 1);
    assert.notEqual(m1.value('shoal_cluster_forward_queue_depth', { peer: 'node2' }), undefined);
    assert.equal(m1.value('shoal_ready'), 1);

    // A persistent session moves from node1 to node2: node2 counts the takeover and its latency.
    const mover = await connect(n1.url, { clientId: 'ready-mover', clean: false });
    await mover.endAsync();
    const moved = await connect(n2.url, { clientId: 'ready-mover', clean: false });
    clients.push(moved);
    const m2 = await scrape(base2);
    assert.equal(m2.value('shoal_takeovers_total', { outcome: 'completed' }), 1);
    assert.equal(m2.value('shoal_takeovers_total', { outcome: 'failed' }), 0);
    const latency = m2.families.get('shoal_takeover_duration_seconds')!.metrics[0]!;
    assert.equal(latency.count, '1');
    assert.ok(Number(latency.sum) > 0);
    await moved.endAsync();
    clients.splice(clients.indexOf(moved), 1);

    // node2 leaves: node1 keeps serving, and stays ready.
    await pub.endAsync();
    clients.splice(clients.indexOf(pub), 1);
    await n2.stop();
    nodes.splice(nodes.indexOf(n2), 1);
    await n1.waitFor('node2 down', (l) => l.event === 'cluster.member.down' && l.name === 'node2', WAIT_MS);
    const afterLeave = await httpJson<Readiness>(base1, '/ready');
    assert.equal(afterLeave.status, 200, JSON.stringify(afterLeave.body));
  });
});
