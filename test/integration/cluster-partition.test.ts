// A real network partition of a four-node cluster and its heal, without restarting anything.
// Each node runs in its own network namespace (test/helpers/netns-lab.ts); nftables rules drop all
// traffic between {node1, node2} and {node3, node4} while the test's MQTT clients, in the hub
// namespace, still reach every node. Checked: both sides keep serving their own clients (pub/sub
// across the two nodes of each side; neither side is alone, so the heal goes through the rejoin
// backoff), messages across the split are not delivered (a v5
// PUBACK says No matching subscribers), and after the heal membership, routes (every node's view
// of every node's routes has the same digest) and retained messages (last writer wins) reconverge
// by themselves; the reconvergence time is measured from the nodes' log lines.
//
// The test process cannot enter a namespace itself, so this file runs twice: outside (as root, it
// builds the lab, runs itself inside the hub namespace and deletes the lab in `finally`) and
// inside (SHOAL_TEST_NETLAB set: the scenario). Skipped with the reason when not root or when
// `ip`/`nft` are missing.
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { CLUSTER_TICK_MS } from '../../src/cluster/cluster-node.js';
import { queryStatus } from '../../src/cluster/grpc-transport.js';
import { DEFAULT_GOSSIP_TIMINGS, healDetectionBoundMs } from '../../src/cluster/membership.js';
import type { ClusterStatus } from '../../src/cluster/peer-transport.js';
import { routeSeen, startCluster, stopCluster, type ClusterChildSpec, type ClusterProcess } from '../helpers/cluster-process.js';
import type { LogLine } from '../helpers/membership-process.js';
import { heal, labUnavailable, partition, withLab, wrapFor, type Lab } from '../helpers/netns-lab.js';
import { collector, connect, connectCollecting, resumeSession, tempDir } from '../helpers/node.js';
import { withTimeout } from '../helpers/raw-client.js';

const LAB_ENV = 'SHOAL_TEST_NETLAB';
const SECRET = 'cluster-partition-secret-7f3a';
/** Each node has its own namespace, so every node uses the same ports. */
const GOSSIP_PORT = 7946;
const GRPC_PORT = 7947;
const WAIT_MS = 15_000;
/** Detection (≤ 6.3 s for 4 nodes) plus slack for a loaded 2-core box. */
const SPLIT_MS = 20_000;
/** Documented bounds after the heal (README, Partitions): membership's, then one cluster tick for
 * the digests and fetches of routes and retained messages. */
const MEMBERS_BACK_BOUND_MS = healDetectionBoundMs(DEFAULT_GOSSIP_TIMINGS, 4);
const RECONVERGED_BOUND_MS = MEMBERS_BACK_BOUND_MS + CLUSTER_TICK_MS;
/** How long the test waits for an event (longer than the bound: a miss is reported by the assert). */
const HEAL_MS = RECONVERGED_BOUND_MS + 10_000;

const PERSISTENT = { clean: false, properties: { sessionExpiryInterval: 3600 } };

const labJson = process.env[LAB_ENV];

if (labJson === undefined) {
  const why = labUnavailable();
  test('partition and heal of a 4-node cluster, in a network namespace lab', { skip: why ?? false, timeout: 180_000 }, async (t) => {
    await withLab(4, async (lab) => {
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) if (k !== 'NODE_TEST_CONTEXT' && !k.startsWith('SHOAL_')) env[k] = v;
      env[LAB_ENV] = JSON.stringify(lab);
      const file = fileURLToPath(import.meta.url);
      const child = spawn('ip', ['netns', 'exec', lab.hub, process.execPath, '--import', 'tsx', '--test-reporter=tap', file], { env, cwd: fileURLToPath(new URL('../../', import.meta.url)) });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      for (const line of out.split('\n')) if (/measured:|observed:/.test(line)) t.diagnostic(line.replace(/^\s*#\s*/, ''));
      assert.equal(code, 0, `the scenario inside the lab failed (exit ${code}):\n${out.slice(-8000)}`);
    });
  });
} else {
  scenario(JSON.parse(labJson) as Lab);
}

/** Lines logged at or after `since` (epoch ms) matching `match`. */
function since(ms: number, match: (l: LogLine) => boolean): (l: LogLine) => boolean {
  return (l) => Date.parse(String(l.time)) >= ms && match(l);
}

const event = (name: string, field: string, value: string) => (l: LogLine): boolean => l.event === name && l[field] === value;

function scenario(lab: Lab): void {
  describe('partition {node1, node2} | {node3, node4}, then heal', { timeout: 150_000 }, () => {
    let nodes: ClusterProcess[] = [];
    const clients: MqttClient[] = [];
    const byName = (name: string): ClusterProcess => nodes.find((n) => n.spec.name === name)!;
    const status = (n: ClusterProcess): Promise<ClusterStatus> =>
      queryStatus(`${n.spec.host}:${GRPC_PORT}`, { secret: SECRET, deadlineMs: 5_000 });
    let healedAt = 0;

    before(async () => {
      const seeds = lab.nodes.map((n) => `${n.address}:${GOSSIP_PORT}`);
      const specs: ClusterChildSpec[] = lab.nodes.map((n) => ({
        name: n.name,
        dataDir: tempDir('shoal-partition-'),
        gossipPort: GOSSIP_PORT,
        grpcPort: GRPC_PORT,
        seeds,
        host: n.address,
        wrap: wrapFor(n),
      }));
      nodes = await startCluster(specs, SECRET);
    });

    after(() => stopCluster(nodes, clients));

    const track = async (p: Promise<MqttClient>): Promise<MqttClient> => {
      const c = await p;
      clients.push(c);
      return c;
    };

    it('keeps serving each side while split; nothing crosses the split; reconverges after the heal', async (t) => {
      const [n1, n2, n3, n4] = ['node1', 'node2', 'node3', 'node4'].map(byName) as [ClusterProcess, ClusterProcess, ClusterProcess, ClusterProcess];
      const sideA = [n1, n2];
      const sideB = [n3, n4];
      // Subscribers and publishers on different nodes of each side, and one subscriber across.
      const subA = await track(connect(n1.url, { clientId: 'sub-a', protocolVersion: 5 }));
      const subB = await track(connect(n4.url, { clientId: 'sub-b', protocolVersion: 5 }));
      const subX = await track(connect(n3.url, { clientId: 'sub-x', protocolVersion: 5 }));
      const gotA = collector(subA);
      const gotB = collector(subB);
      const gotX = collector(subX);
      await subA.subscribeAsync('side/a/#', { qos: 1 });
      await subB.subscribeAsync('side/b/#', { qos: 1 });
      await subX.subscribeAsync('across/#', { qos: 1 });
      await n2.waitFor('route side/a/# of node1', routeSeen('node1', 'side/a/#'), WAIT_MS);
      await n1.waitFor('route across/# of node3', routeSeen('node3', 'across/#'), WAIT_MS);
      await n3.waitFor('route side/b/# of node4', routeSeen('node4', 'side/b/#'), WAIT_MS);
      const pubA = await track(connect(n2.url, { clientId: 'pub-a', protocolVersion: 5 }));
      const pubB = await track(connect(n3.url, { clientId: 'pub-b', protocolVersion: 5 }));
      const lastPuback = (c: MqttClient): (() => number | undefined) => {
        let rc: number | undefined;
        c.on('packetreceive', (p) => {
          if (p.cmd === 'puback') rc = p.reasonCode ?? 0;
        });
        return () => rc;
      };
      const pubackA = lastPuback(pubA);
      await pubA.publishAsync('across/0', 'before', { qos: 1 });
      assert.equal(pubackA(), 0);
      await gotX.until(1, WAIT_MS);

      // A persistent session on side A, connected through the split.
      const dualA = await track(connect(n1.url, { clientId: 'dual', protocolVersion: 5, ...PERSISTENT }));
      const gotDualA = collector(dualA);
      const dualAClosed = new Promise<number | undefined>((resolve) => dualA.on('disconnect', (p) => resolve(p.reasonCode)));
      await dualA.subscribeAsync('dual/a', { qos: 1 });

      const splitAt = Date.now();
      partition(lab, [['node1', 'node2'], ['node3', 'node4']]);
      const crossPairs = [...sideA.flatMap((a) => sideB.map((b) => [a, b])), ...sideB.flatMap((b) => sideA.map((a) => [b, a]))] as [ClusterProcess, ClusterProcess][];
      await Promise.all(crossPairs.map(([viewer, other]) => viewer.waitFor(`${other.spec.name} down`, since(splitAt, event('cluster.member.down', 'name', other.spec.name)), SPLIT_MS)));
      const downLines = nodes.flatMap((n) => n.lines.filter(since(splitAt, (l) => l.event === 'cluster.member.down')));
      const detectMs = Math.max(...downLines.map((l) => Date.parse(String(l.time)))) - splitAt;
      t.diagnostic(`measured: partition detected on both sides ${detectMs} ms after the nftables rules`);
      // The two nodes of each side still see each other.
      assert.equal(n1.lines.some(since(splitAt, event('cluster.member.down', 'name', 'node2'))), false);
      assert.equal(n3.lines.some(since(splitAt, event('cluster.member.down', 'name', 'node4'))), false);

      // Each side serves its clients, across its two nodes.
      await pubA.publishAsync('side/a/1', 'a1', { qos: 1 });
      assert.deepEqual((await gotA.until(1, WAIT_MS)).map((m) => m.payload), ['a1']);
      await pubB.publishAsync('side/b/1', 'b1', { qos: 1 });
      assert.deepEqual((await gotB.until(1, WAIT_MS)).map((m) => m.payload), ['b1']);
      // Across the split: side A purged side B's routes, so nobody matches (v5 PUBACK 0x10).
      await pubA.publishAsync('across/1', 'lost', { qos: 1 });
      assert.equal(pubackA(), 0x10);

      // Changes made while split, on both sides: new routes and competing retained writes.
      const subNew = await track(connect(n1.url, { clientId: 'sub-new', protocolVersion: 5 }));
      const subLate = await track(connect(n4.url, { clientId: 'sub-late', protocolVersion: 5 }));
      await subNew.subscribeAsync('new/#', { qos: 1 });
      await subLate.subscribeAsync('late/#', { qos: 1 });
      await n2.waitFor('route new/# of node1', routeSeen('node1', 'new/#'), WAIT_MS);
      await n3.waitFor('route late/# of node4', routeSeen('node4', 'late/#'), WAIT_MS);
      await pubA.publishAsync('r/shared', 'from-a', { qos: 1, retain: true });
      await pubA.publishAsync('r/only-a', 'a', { qos: 1, retain: true });
      // Later than side A's write: it wins everywhere after the heal.
      await pubB.publishAsync('r/shared', 'from-b', { qos: 1, retain: true });
      await pubB.publishAsync('r/only-b', 'b', { qos: 1, retain: true });
      await n4.waitFor('retained r/only-b', event('cluster.retained.applied', 'topic', 'r/only-b'), WAIT_MS);
      await n1.waitFor('retained r/only-a', event('cluster.retained.applied', 'topic', 'r/only-a'), WAIT_MS);

      // The same client id connects on side B while its session lives on side A. Side B cannot
      // reach it: if the id's owner is on side B it still knows the session is on node1 and the
      // CONNECT is refused with 0x89, and the client starts anew with Clean Start as told; if the
      // owner was on side A, side B's new owner knows nothing and gives a new session at once.
      let dualB: MqttClient;
      try {
        dualB = await track(connect(n4.url, { clientId: 'dual', protocolVersion: 5, ...PERSISTENT }));
        t.diagnostic('observed: dual on side B: a new session (its owner was on side A)');
      } catch (e) {
        assert.equal((e as { code?: number }).code, 0x89, `CONNECT of dual on side B: ${String(e)}`);
        dualB = await track(connect(n4.url, { clientId: 'dual', protocolVersion: 5, ...PERSISTENT, clean: true }));
        t.diagnostic('observed: dual on side B: refused 0x89 (its owner on side B knew it was on node1), then Clean Start');
      }
      const gotDualB = collector(dualB);
      await dualB.subscribeAsync('dual/b', { qos: 1 });
      // Both sessions serve their side.
      await pubA.publishAsync('dual/a', 'on-a', { qos: 1 });
      await pubB.publishAsync('dual/b', 'on-b', { qos: 1 });
      assert.deepEqual((await gotDualA.until(1, WAIT_MS)).map((m) => m.payload), ['on-a']);
      assert.deepEqual((await gotDualB.until(1, WAIT_MS)).map((m) => m.payload), ['on-b']);

      // Heal only once every node re-syncs with the other side at the backoff's cap (attempt 4
      // waits rejoinIntervalMs): the worst case for finding each other again.
      const capped = (l: LogLine): boolean =>
        l.event === 'cluster.gossip.rejoin' && (l.targets as { attempt: number; nextInMs: number }[]).some((x) => x.nextInMs === DEFAULT_GOSSIP_TIMINGS.rejoinIntervalMs);
      await Promise.all(nodes.map((n) => n.waitFor('rejoin backoff at its cap', since(splitAt, capped), SPLIT_MS)));

      healedAt = Date.now();
      heal(lab);
      // Membership: each side finds the other again (rejoin backoff), with no restart.
      await Promise.all(crossPairs.map(([viewer, other]) => viewer.waitFor(`${other.spec.name} up again`, since(healedAt, event('cluster.member.up', 'name', other.spec.name)), HEAL_MS)));
      const memberMs = Math.max(...nodes.flatMap((n) => n.lines.filter(since(healedAt, (l) => l.event === 'cluster.member.up')).map((l) => Date.parse(String(l.time))))) - healedAt;
      // Routes: the other side's come back, those made during the split included.
      const routeLines = await Promise.all([
        ...sideA.flatMap((n) => [
          n.waitFor('node3 routes back', since(healedAt, routeSeen('node3', 'across/#')), HEAL_MS),
          n.waitFor('node4 routes back', since(healedAt, routeSeen('node4', 'late/#')), HEAL_MS),
        ]),
        ...sideB.map((n) => n.waitFor('node1 routes back', since(healedAt, routeSeen('node1', 'new/#')), HEAL_MS)),
      ]);
      const routesMs = Math.max(...routeLines.map((l) => Date.parse(String(l.time)))) - healedAt;
      // Retained: every node merged a snapshot from the other side.
      const retainedLines = await Promise.all(
        crossPairs.map(([viewer, other]) =>
          viewer.waitFor(`retained from ${other.spec.name}`, since(healedAt, (l) => l.event === 'cluster.retained.synced' && l.reason === 'heal' && l.from === other.spec.name), HEAL_MS),
        ),
      );
      const retainedMs = Math.max(...retainedLines.map((l) => Date.parse(String(l.time)))) - healedAt;
      t.diagnostic(
        `measured: split for ${healedAt - splitAt} ms; after the heal, members up in ${memberMs} ms (bound ${MEMBERS_BACK_BOUND_MS}), routes back in ${routesMs} ms, ` +
          `retained merged in ${retainedMs} ms (bound ${RECONVERGED_BOUND_MS})`,
      );
      assert.ok(memberMs <= MEMBERS_BACK_BOUND_MS, `members up ${memberMs} ms after the heal; documented bound ${MEMBERS_BACK_BOUND_MS} ms`);
      assert.ok(Math.max(routesMs, retainedMs) <= RECONVERGED_BOUND_MS, `routes/retained back ${routesMs}/${retainedMs} ms after the heal; documented bound ${RECONVERGED_BOUND_MS} ms`);

      // One session per client id: the registry keeps the later one (side B's) and ends side A's,
      // whose client gets DISCONNECT 0x8E; its route goes with it.
      assert.equal(await withTimeout(dualAClosed, HEAL_MS, "dual's side-A connection to be ended"), 0x8E);
      assert.equal(dualB.connected, true);
      // (node1 held dual/a until then, so a slice of node1 without it is from after the eviction.)
      const withdrawn = (l: LogLine): boolean =>
        l.origin === 'node1' &&
        ((l.event === 'cluster.routes.applied' && (l.removes as string[]).includes('dual/a')) ||
          (l.event === 'cluster.routes.resynced' && !(l.filters as string[]).includes('dual/a')));
      await Promise.all([n2, n3, n4].map((n) => n.waitFor('dual/a withdrawn', since(healedAt, withdrawn), WAIT_MS)));
      // Reconnecting anywhere finds that one session (taken over from node4).
      const again = await resumeSession(n2.url, 'dual');
      clients.push(again.c);
      assert.equal(again.sessionPresent, true);
      await pubA.publishAsync('dual/b', 'after-heal', { qos: 1 });
      assert.deepEqual((await again.got.until(1, WAIT_MS)).map((m) => m.payload), ['after-heal']);

      // Every node's view of every node's routes is the same as the origin's own.
      const views = await Promise.all(nodes.map(status));
      for (const origin of nodes.map((n) => n.spec.name)) {
        const seen = views.map((v) => {
          const m = v.members.find((x) => x.node === origin);
          return [v.node, m?.state, m?.routeCount, m?.routeHash];
        });
        const own = seen.find(([viewer]) => viewer === origin)!;
        for (const s of seen) assert.deepEqual(s.slice(1), ['alive', own[2], own[3]], `${s[0]}'s view of ${origin}'s routes: ${JSON.stringify(seen)}`);
      }

      // Cross-side delivery works again, both ways, with the routes made during the split.
      const gotNew = collector(subNew);
      const gotLate = collector(subLate);
      await pubB.publishAsync('new/1', 'to-a', { qos: 1 });
      await pubA.publishAsync('late/1', 'to-b', { qos: 1 });
      await pubA.publishAsync('across/2', 'after', { qos: 1 });
      assert.deepEqual((await gotNew.until(1, WAIT_MS)).map((m) => m.payload), ['to-a']);
      assert.deepEqual((await gotLate.until(1, WAIT_MS)).map((m) => m.payload), ['to-b']);
      // The one published across the split never arrives; the next one does.
      assert.deepEqual((await gotX.until(2, WAIT_MS)).map((m) => m.payload), ['before', 'after']);

      // Retained: last writer wins on every node, and each side's own topics reached the other.
      for (const n of nodes) {
        const { c, got } = await connectCollecting(n.url, { clientId: `reader-${n.spec.name}`, protocolVersion: 5 });
        clients.push(c);
        await c.subscribeAsync('r/#', { qos: 1 });
        const m = await got.until(3, WAIT_MS);
        assert.deepEqual(m.map((x) => [x.topic, x.payload]).sort(), [['r/only-a', 'a'], ['r/only-b', 'b'], ['r/shared', 'from-b']], `retained on ${n.spec.name}`);
      }
    });
  });
}
