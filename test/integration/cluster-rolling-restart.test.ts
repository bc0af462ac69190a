// Rolling restart of a three-node cluster (issue 17) with real processes: QoS 1 publishers on every
// node and persistent QoS 1 subscribers on every node keep running while each node in turn leaves
// gracefully (`shoal drain` for the first, SIGTERM for the others), exits 0, starts again with the
// same name, data directory and ports, and rejoins. Clients follow the Server Reference of their
// DISCONNECT 0x9C (or go to another node). At the end every message PUBACKed to a publisher has
// reached every persistent subscriber; duplicates are counted and printed.
//
// TODO (issue 17, takeover): it does not pass yet. Every run loses a few to a few dozen
// acknowledged messages per moved session, all acknowledged within the move (between the
// subscriber's disconnect and its CONNACK on the new node): a copy forwarded to the old node (by
// a publishing node whose routes still pointed there, or by the new node itself before its
// install) that reaches it after it handed the session over matches nothing there and is
// acknowledged as delivered. The old node needs to pass such late copies on to the new one for a
// while after the handover (CLUSTER-ANCHORS.md lesson 10). Marked todo so it runs and prints its
// account, with where each missing message was acknowledged and each client's moves.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clusterSpecs, joined, peersUp, routeVisible, shoalCommand, startClusterProcess, type ClusterChildSpec, type ClusterProcess } from '../helpers/cluster-process.js';
import { Traffic, formatTrafficReport } from '../helpers/mqtt-traffic.js';
import { freePort, removeDir } from '../helpers/node.js';

const SECRET = 'cluster-rolling-restart-3c9d0e1f';
/** Messages acknowledged between two restarts: traffic flows through every phase. */
const PER_PHASE = 60;
const WAIT_MS = 30_000;

describe('rolling restart of three nodes', { timeout: 180_000 }, () => {
  let nodes: ClusterProcess[] = [];

  before(async () => {
    const specs: ClusterChildSpec[] = [];
    for (const spec of await clusterSpecs(3)) specs.push({ ...spec, mqttPort: await freePort() });
    nodes = await Promise.all(specs.map((s) => startClusterProcess(s, SECRET)));
    await Promise.all(nodes.map((n) => peersUp(n, nodes.filter((o) => o !== n).map((o) => o.spec.name))));
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const n of nodes) removeDir(n.spec.dataDir);
  });

  it('delivers every PUBACKed QoS 1 message to every persistent subscriber', { todo: 'copies reaching the old node after a session handover are lost (see the comment at the top)' }, async () => {
    const live = new Set(nodes);
    const traffic = new Traffic({
      targets: () => [...live].map((n) => n.url),
      prefix: 'rr',
      publishers: nodes.map((n) => n.url),
      subscribers: [...nodes, ...nodes].map((n) => n.url),
      publishEveryMs: 10,
    });
    await traffic.startSubscribers();
    for (const origin of nodes) await routeVisible(nodes.filter((n) => n !== origin), origin.spec.name, traffic.filter);
    await traffic.startPublishing();
    await traffic.waitAcknowledged(PER_PHASE, WAIT_MS);

    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      live.delete(node);
      if (i === 0) {
        const drained = await shoalCommand(node, ['drain'], SECRET);
        assert.equal(drained.code, 0, drained.stderr);
      } else {
        await node.stop(); // SIGTERM
      }
      assert.deepEqual(await node.exited, { code: 0, signal: null }, `${node.spec.name} exits 0 after its graceful leave`);
      const again = await startClusterProcess(node.spec, SECRET);
      nodes[i] = again;
      await joined(again, [...live]);
      live.add(again);
      await traffic.waitAcknowledged(traffic.acknowledgedCount + PER_PHASE, WAIT_MS);
    }

    const report = await traffic.finish(WAIT_MS);
    console.log(formatTrafficReport(report));
    const missing = report.subscribers.flatMap((s) => s.missing.map((id) => `${s.clientId} missing ${id}, acknowledged ${traffic.acknowledgedWhere(id)}`));
    if (missing.length > 0) console.log(`${missing.slice(0, 40).join('\n')}\nclients:\n${traffic.timeline.join('\n')}`);
    for (const s of report.subscribers) assert.equal(s.sessionsLost, 0, `${s.clientId} found its session after every reconnect`);
    assert.deepEqual(missing, [], `${missing.length} acknowledged copies missing`);
    assert.ok(report.referencesFollowed > 0, 'clients followed Server References');
  });
});
