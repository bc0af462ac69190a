// An ACL-denied client cannot learn retained or live messages it may not read on any node: two
// Shoal processes in one cluster, each reading its own copy of the same ACL file; a client on
// node 2 subscribed to '#' gets what node 1's publisher sent on topics it may read, and nothing
// else — neither retained copies replicated from node 1 nor live copies node 1 forwards.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { clusterSpecs, peersUp, routeVisible, startArgs, type ClusterChildSpec, type ClusterProcess } from '../helpers/cluster-process.js';
import { spawnJsonLogChild } from '../helpers/membership-process.js';
import { connect, connectCollecting, removeDir, tempDir } from '../helpers/node.js';

const SECRET = 'cluster-acl-integration-secret-7f';
const WAIT_MS = 15_000;
const ACL = 'user writer\ntopic write #\n\nuser reader\ntopic read public/#\n';

async function startNode(spec: ClusterChildSpec, acl: string): Promise<ClusterProcess> {
  // No password file: user names are taken as given, which --allow-anonymous true permits.
  const child = spawnJsonLogChild(spec, [...startArgs(spec), '--acl-file', acl, '--allow-anonymous', 'true'], SECRET);
  const listening = await Promise.race([
    child.waitFor('node.listening', (l) => l.event === 'node.listening', 30_000),
    child.exited.then(({ code }) => {
      throw new Error(`${spec.name} exited with code ${code} before listening: ${child.stderr().slice(-1500)}`);
    }),
  ]);
  const port = listening.port as number;
  return { ...child, port, url: `mqtt://127.0.0.1:${port}` };
}

describe('ACL across a cluster', { timeout: 120_000 }, () => {
  let nodes: ClusterProcess[] = [];
  let dir: string;
  const clients: MqttClient[] = [];

  before(async () => {
    dir = tempDir('shoal-cluster-acl-');
    const specs = await clusterSpecs(2);
    // Each node reads its own copy of the file, as a deployment pushes it.
    nodes = await Promise.all(
      specs.map((s) => {
        const acl = join(dir, `${s.name}.acl`);
        writeFileSync(acl, ACL);
        return startNode(s, acl);
      }),
    );
    await Promise.all(nodes.map((n) => peersUp(n, nodes.filter((o) => o !== n).map((o) => o.spec.name))));
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
    await Promise.all(nodes.map((n) => n.stop()));
    for (const n of nodes) removeDir(n.spec.dataDir);
    removeDir(dir);
  });

  it('a client on node 2 gets no retained or forwarded message from node 1 that it may not read', async () => {
    const [n1, n2] = nodes as [ClusterProcess, ClusterProcess];
    const writer = await connect(n1.url, { clientId: 'writer', username: 'writer', protocolVersion: 5 });
    clients.push(writer);
    await writer.publishAsync('secret/plans', 'retained-secret', { qos: 1, retain: true });
    await writer.publishAsync('public/notice', 'retained-public', { qos: 1, retain: true });
    for (const topic of ['secret/plans', 'public/notice']) {
      await n2.waitFor(`retained ${topic}`, (l) => l.event === 'cluster.retained.applied' && l.topic === topic, WAIT_MS);
    }

    for (const version of [4, 5] as const) {
      const { c: reader, got } = await connectCollecting(n2.url, { clientId: `reader-${version}`, username: 'reader', protocolVersion: version });
      clients.push(reader);
      // '#' overlaps public/#, so it is granted; what arrives through it is filtered per message.
      assert.equal((await reader.subscribeAsync('#', { qos: 1 }))[0]!.qos, 1);
      await routeVisible([n1], 'node2', '#');
      await writer.publishAsync('secret/live', `live-secret-${version}`, { qos: 1 });
      await writer.publishAsync('secret/live', `live-secret-q0-${version}`, { qos: 0 });
      await writer.publishAsync('public/live', `live-public-${version}`, { qos: 1 });
      const msgs = await got.until(2, WAIT_MS);
      assert.deepEqual(msgs.map((m) => [m.topic, m.payload, m.packet.retain]), [
        ['public/notice', 'retained-public', true],
        ['public/live', `live-public-${version}`, false],
      ]);
      // A denied filter is refused outright on node 2 as well.
      await assert.rejects(reader.subscribeAsync('secret/#', { qos: 1 }), /Subscribe error|Not authorized/);
    }
  });
});
