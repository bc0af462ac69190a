// The multi-host test (issue 18): three broker hosts and one client host, each a network namespace
// with its own address (test/helpers/netns-lab.ts), a dnsmasq on the client host answering
// broker.shoal.test with the three addresses as round-robin A records, and Shoal installed on each
// host by deploy/install.sh from the release deploy/release.sh builds, driven by deploy/cluster.sh
// in its test mode (`ip netns exec` instead of ssh, a pid file instead of systemd). Clients resolve
// the DNS name for real (the client host's resolv.conf points at that dnsmasq).
//
// Phases: start; connections spread over the nodes and pub/sub across them; a graceful leave of
// the node holding persistent 3.1.1 subscribers (they come back through DNS, to another node, with
// their sessions); kill -9 of a node while publishers run (survivors serve, routes purged); a
// partition of one node and the heal (routes reconverge); `cluster.sh rolling-restart` with
// phase. A report (connections per node, sent/received/lost/duplicated per phase, times) is
// printed.
//
// Run with `npm run test:multihost` (root; skipped with the reason otherwise). The file runs
// twice, like the partition test: outside (builds the release and the lab, installs, runs itself in
// the client namespace, deletes the lab in `finally`) and inside (SHOAL_TEST_MULTIHOST set: the
// phases). SHOAL_RELEASE=path/to/shoal-*.tar.gz reuses a release instead of building one.
import { after, beforeEach, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { queryStatus } from '../../src/cluster/grpc-transport.js';
import type { ClusterStatus } from '../../src/cluster/peer-transport.js';
import { Traffic, formatTrafficReport, type TrafficReport } from '../helpers/mqtt-traffic.js';
import { dnsUnavailable, heal, labUnavailable, partition, startDns, withLab, type Lab } from '../helpers/netns-lab.js';
import { collector, connect, removeDir, tempDir } from '../helpers/node.js';

const INNER_ENV = 'SHOAL_TEST_MULTIHOST';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLUSTER_SH = join(ROOT, 'deploy', 'cluster.sh');
const SECRET = 'multihost-test-secret-5e1d9a';
const DNS_NAME = 'broker.shoal.test';
const MQTT_PORT = 1883;
const GRPC_PORT = 7947;
const WAIT_MS = 30_000;
/** Messages acknowledged before and after each disruption: traffic flows through every phase. */
const PER_STEP = 30;
/** A phase that takes longer failed: each waits for at most a few bounded events. */
const PHASE_MS = 120_000;
/**
 * TODO (issue 17, takeover): the same known loss as test/integration/cluster-rolling-restart.test.ts
 * (see its header): a copy forwarded to a session's old node after the handover matches nothing
 * there and is acknowledged as delivered. Measured here: the graceful leave lost 6-9 copies in 3
 * of 4 runs (a 3.1.1 subscriber pushed to its owner, then pulled by its reconnect to a third node
 * 130 ms later), the rolling restart 23 and 28 in 2 runs. These two phases run, print their account
 * and are marked todo until the old node passes late copies on; remove the marks then.
 */
const HANDOVER_LOSS_TODO = 'copies reaching the old node after a session handover are lost (issue 17; see HANDOVER_LOSS_TODO)';

interface Setup {
  readonly lab: Lab;
  readonly inventory: string;
  /** Install prefix of each host, by node name. */
  readonly roots: Readonly<Record<string, string>>;
}

const inner = process.env[INNER_ENV];
if (inner === undefined) outside();
else scenario(JSON.parse(inner) as Setup);

// ---- outside: release, lab, install, DNS; then the phases inside the client namespace ---------------

function outside(): void {
  const why = labUnavailable() ?? dnsUnavailable();
  test('deploy/ on three namespaced hosts with round-robin DNS', { skip: why ?? false, timeout: 600_000 }, async (t) => {
    const work = tempDir('shoal-multihost-');
    try {
      const release = process.env.SHOAL_RELEASE ?? buildRelease(work);
      await withLab(3, async (lab) => {
        const roots: Record<string, string> = {};
        const lines = lab.nodes.map((n) => {
          roots[n.name] = join(work, n.name);
          return `${n.name} netns:${n.ns}:${roots[n.name]} ${n.address} ${n.address}:${MQTT_PORT}`;
        });
        const inventory = join(work, 'inventory');
        writeFileSync(inventory, `# name  ssh-target  cluster-address  mqtt-address\n${lines.join('\n')}\n`);
        execFileSync(CLUSTER_SH, ['-i', inventory, 'push', release], { env: { ...process.env, SHOAL_CLUSTER_SECRET: SECRET, SHOAL_ALLOW_ANONYMOUS: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] });
        for (const n of lab.nodes) assert.ok(existsSync(join(roots[n.name]!, 'opt/shoal/current/bin/shoal.js')), `install.sh laid out ${n.name}`);
        await startDns(lab, DNS_NAME, lab.nodes.map((n) => n.address));

        const env: NodeJS.ProcessEnv = {};
        for (const [k, v] of Object.entries(process.env)) if (k !== 'NODE_TEST_CONTEXT' && !k.startsWith('SHOAL_')) env[k] = v;
        env[INNER_ENV] = JSON.stringify({ lab, inventory, roots } satisfies Setup);
        const child = spawn('ip', ['netns', 'exec', lab.hub, process.execPath, '--import', 'tsx', '--test-reporter=tap', fileURLToPath(import.meta.url)], { env, cwd: ROOT });
        // This test timing out (or being cancelled) ends the phases too; withLab then cleans up.
        const abort = (): boolean => child.kill('SIGKILL');
        t.signal.addEventListener('abort', abort, { once: true });
        let out = '';
        // Progress as it happens (the phases take minutes), and the whole output for the verdict.
        const take = (d: string): void => {
          out += d;
          process.stderr.write(d.split('\n').filter((l) => /^# |report:|progress:|^not ok|^ok /.test(l.trim())).map((l) => `  [hosts] ${l.trim()}\n`).join(''));
        };
        child.stdout.setEncoding('utf8').on('data', take);
        child.stderr.setEncoding('utf8').on('data', take);
        const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
        t.signal.removeEventListener('abort', abort);
        const report = out.split('\n').filter((l) => l.includes('report:')).map((l) => l.replace(/^.*report: ?/, ''));
        console.log(['multi-host report', ...report].join('\n  '));
        for (const line of report) t.diagnostic(line);
        if (code !== 0) {
          // The nodes' logs outlive the work directory, for the post-mortem.
          const kept = mkdtempSync(join(tmpdir(), 'shoal-multihost-logs-'));
          for (const n of lab.nodes) {
            const log = join(roots[n.name]!, 'var/log/shoal.log');
            if (existsSync(log)) cpSync(log, join(kept, `${n.name}.log`));
          }
          const logs = lab.nodes.map((n) => `--- ${n.name} (last lines of its log)\n${tail(join(roots[n.name]!, 'var/log/shoal.log'), 10)}`).join('\n');
          assert.fail(`the phases inside the client namespace failed (exit ${code}); the nodes' logs are kept in ${kept}:\n${out.slice(-8000)}\n${logs}`);
        }
      });
    } finally {
      removeDir(work);
    }
  });
}

function buildRelease(work: string): string {
  const out = execFileSync(join(ROOT, 'deploy', 'release.sh'), ['--out', work], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.trim().split('\n').at(-1)!;
}

function tail(file: string, n: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---- inside the client namespace -------------------------------------------------------------

function scenario(setup: Setup): void {
  const { lab } = setup;
  const names = lab.nodes.map((n) => n.name);
  const dnsUrl = `mqtt://${DNS_NAME}:${MQTT_PORT}`;
  const urlOf = (name: string): string => `mqtt://${lab.nodes.find((n) => n.name === name)!.address}:${MQTT_PORT}`;
  const nodeAt = (address: string): string => lab.nodes.find((n) => address.startsWith(`${n.address}:`) || address === n.address)?.name ?? address;
  const report = (line: string): void => console.log(`report: ${line}`);
  const progress = (line: string): void => console.log(`progress: ${line}`);
  const clients: MqttClient[] = [];
  const traffics: Traffic[] = [];
  /** A phase's traffic, stopped in `after` if the phase fails before it finishes it. */
  const traffic = (opts: ConstructorParameters<typeof Traffic>[0]): Traffic => {
    const t = new Traffic(opts);
    traffics.push(t);
    return t;
  };

  /** deploy/cluster.sh with `args`; rejects with its output when it fails. */
  const clusterSh = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(CLUSTER_SH, ['-i', setup.inventory, ...args], { env: { ...process.env, SHOAL_CLUSTER_SECRET: SECRET } });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`cluster.sh ${args.join(' ')} exited ${code}:\n${out}`))));
    });

  const status = (name: string): Promise<ClusterStatus | null> =>
    queryStatus(`${lab.nodes.find((n) => n.name === name)!.address}:${GRPC_PORT}`, { secret: SECRET, deadlineMs: 2_000 }).catch(() => null);

  /** Re-checks `check` (cluster state over gRPC) until it holds; fails with `what` after `ms`. */
  async function until(what: string, check: () => Promise<boolean>, ms = WAIT_MS): Promise<number> {
    const start = Date.now();
    for (;;) {
      if (await check()) return Date.now() - start;
      if (Date.now() - start > ms) throw new Error(`not within ${ms} ms: ${what}`);
      // Between two status rounds (each a gRPC call per node): a poll interval, not a wait for an event.
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Every node of `alive` answers, sees exactly `alive` as alive members, and all hold the same
   * digest of every member's routes. */
  async function converged(alive: readonly string[]): Promise<boolean> {
    const all = await Promise.all(alive.map(status));
    if (all.some((s) => s === null)) return false;
    for (const s of all as ClusterStatus[]) {
      const seen = s.members.filter((m) => m.state === 'alive').map((m) => m.node).sort();
      if (seen.join() !== [...alive].sort().join()) return false;
    }
    for (const member of alive) {
      const hashes = new Set((all as ClusterStatus[]).map((s) => s.members.find((m) => m.node === member)?.routeHash));
      if (hashes.size !== 1) return false;
    }
    return true;
  }

  function account(phase: string, r: TrafficReport): void {
    const expected = r.acknowledged * r.subscribers.length;
    const received = r.subscribers.reduce((n, s) => n + s.received, 0);
    const lost = r.subscribers.reduce((n, s) => n + s.missing.length, 0);
    const dup = r.subscribers.reduce((n, s) => n + s.duplicates, 0);
    report(`${phase}: sent ${r.acknowledged} (PUBACKed), expected deliveries ${expected}, delivered ${expected - lost}, lost ${lost}, duplicated ${dup} (copies received in all ${received}, with messages unacknowledged at the end); ` +
      `reconnects: subscribers ${r.subscribers.reduce((n, s) => n + s.reconnects, 0)}, publishers ${r.publisherReconnects}; Server References followed ${r.referencesFollowed}`);
    console.log(formatTrafficReport(r));
    for (const s of r.subscribers) {
      assert.equal(s.sessionsLost, 0, `${phase}: ${s.clientId} found its session after every reconnect`);
      assert.deepEqual(s.missing.slice(0, 10), [], `${phase}: ${s.clientId} missed ${s.missing.length} of ${r.acknowledged} acknowledged messages (first ones listed)`);
    }
  }

  /** Every node running and converged: a phase that failed midway does not fail the next ones. */
  let started = false;
  async function allUp(): Promise<void> {
    if (!started) return; // the first phase is the start itself
    await clusterSh('start');
    await until('all three members, routes converged', () => converged(names));
  }

  describe('three hosts, one client host, round-robin DNS', { timeout: 540_000 }, () => {
    beforeEach(allUp);

    after(async () => {
      await Promise.all(traffics.map((t) => t.finish(0).catch(() => undefined)));
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    });

    it('cluster.sh start: three nodes from the install layout, joined by their seed lists', { timeout: PHASE_MS }, async () => {
      const start = Date.now();
      await clusterSh('start');
      started = true;
      report(`start: 3 nodes ready and joined in ${Date.now() - start} ms (cluster.sh start)`);
      await until('members and routes converged', () => converged(names));
      const out = await clusterSh('status');
      for (const name of names) assert.match(out, new RegExp(`^${name}: ready 200, connections \\d+, members .*node1=alive.*`, 'm'));
    });

    it('clients resolving the DNS name spread over the three nodes; pub/sub across nodes', { timeout: PHASE_MS }, async () => {
      const N = 30;
      const conns: { c: MqttClient; got: ReturnType<typeof collector>; node: string }[] = [];
      for (let i = 0; i < N; i++) {
        const c = await connect(dnsUrl, { clientId: `spread-${i}`, protocolVersion: 5 });
        clients.push(c);
        conns.push({ c, got: collector(c), node: nodeAt((c.stream as { remoteAddress?: string }).remoteAddress ?? '?') });
      }
      const perNode = Object.fromEntries(names.map((n) => [n, conns.filter((x) => x.node === n).length]));
      const statuses = await Promise.all(names.map(status));
      const reported = Object.fromEntries(names.map((n, i) => [n, statuses[i]?.load?.connections ?? -1]));
      report(`connections per node (${N} clients resolving ${DNS_NAME}): ${names.map((n) => `${n} ${perNode[n]}`).join(', ')}; the nodes' own count (cluster status): ${names.map((n) => `${n} ${reported[n]}`).join(', ')}`);
      for (const n of names) assert.ok(perNode[n]! > 0, `round-robin DNS sent clients to ${n}: ${JSON.stringify(perNode)}`);
      assert.deepEqual(reported, perNode, 'each node counts the connections the clients see');

      await Promise.all(conns.map((x) => x.c.subscribeAsync('spread/all', { qos: 1 })));
      await until('routes of the spread subscriptions on every node', () => converged(names));
      await Promise.all(conns.map((x, i) => x.c.publishAsync('spread/all', `from-${i}`, { qos: 1 })));
      const got = await Promise.all(conns.map((x) => x.got.until(N, WAIT_MS).catch(() => x.got.messages)));
      const received = got.reduce((n, m) => n + m.length, 0);
      const unique = got.reduce((n, m) => n + new Set(m.map((r) => String(r.payload))).size, 0);
      report(`pub/sub across nodes: sent ${N}, expected deliveries ${N * N}, received ${received}, lost ${N * N - unique}, duplicated ${received - unique}`);
      assert.equal(unique, N * N, 'every client got every message, whichever node it and the publisher are on');
      await Promise.all(conns.map((x) => x.c.endAsync()));
    });

    it('graceful leave: persistent 3.1.1 subscribers of the stopped node reconnect through DNS to another node and lose nothing', { timeout: PHASE_MS, todo: HANDOVER_LOSS_TODO }, async () => {
      const phase = traffic({
        targets: () => [dnsUrl],
        prefix: 'leave',
        publishers: [dnsUrl, dnsUrl, dnsUrl],
        subscribers: Array.from({ length: 6 }, () => dnsUrl),
        publishEveryMs: 20,
        protocolVersion: 4, // no Server Reference in 3.1.1: the client finds another node through DNS
      });
      await phase.startSubscribers();
      await until('routes of the subscribers on every node', () => converged(names));
      await phase.startPublishing();
      await phase.waitAcknowledged(PER_STEP, WAIT_MS);
      const before = phase.subscriberPeers();
      const victim = nodeAt(before.values().next().value ?? '');
      const moved = [...before].filter(([, peer]) => peer !== null && nodeAt(peer) === victim).map(([id]) => id);
      progress(`leave: ${moved.join(', ')} on ${victim}; stopping it`);
      const start = Date.now();
      await clusterSh('stop', victim);
      progress(`leave: ${victim} stopped; waiting for ${PER_STEP} more acknowledged (have ${phase.acknowledgedCount})`);
      const stopMs = Date.now() - start;
      await phase.waitAcknowledged(phase.acknowledgedCount + PER_STEP, WAIT_MS);
      progress(`leave: acknowledged ${phase.acknowledgedCount}; subscribers now ${JSON.stringify([...phase.subscriberPeers()])}`);
      await until(`${moved.join(', ')} connected again, not to ${victim}`, () =>
        Promise.resolve(moved.every((id) => {
          const peer = phase.subscriberPeers().get(id);
          return peer !== null && peer !== undefined && nodeAt(peer) !== victim;
        })));
      const after = phase.subscriberPeers();
      const r = await phase.finish(WAIT_MS);
      account(`graceful leave of ${victim} (${moved.length} of 6 subscribers on it; stop took ${stopMs} ms)`, r);
      report(`  moved subscribers now on: ${moved.map((id) => `${id} -> ${nodeAt(after.get(id) ?? '?')}`).join(', ')}`);
      await clusterSh('start', victim);
      await until('all three members again', () => converged(names));
    });

    it('kill -9 of a node while publishers run: the survivors serve and purge its routes; it comes back', { timeout: PHASE_MS }, async () => {
      const victim = names[2]!;
      const survivors = names.filter((n) => n !== victim);
      const phase = traffic({
        targets: () => [dnsUrl],
        prefix: 'kill',
        publishers: [dnsUrl, dnsUrl, dnsUrl],
        // On the survivors: a persistent session on the killed node is unavailable until it returns (documented).
        subscribers: [...survivors, ...survivors].map(urlOf),
        publishEveryMs: 20,
      });
      // A subscription on the victim too, so it has routes for the survivors to purge.
      const onVictim = await connect(urlOf(victim), { clientId: 'kill-victim-sub', protocolVersion: 5, clean: true });
      clients.push(onVictim);
      onVictim.on('error', () => undefined); // its node is killed below
      await onVictim.subscribeAsync('kill/victim/#', { qos: 1 });
      await phase.startSubscribers();
      await until('routes on every node', () => converged(names));
      await phase.startPublishing();
      await phase.waitAcknowledged(PER_STEP, WAIT_MS);
      const pid = Number(readFileSync(join(setup.roots[victim]!, 'run/shoal.pid'), 'utf8'));
      process.kill(pid, 'SIGKILL');
      const purgeMs = await until(`${victim} down and its routes purged on the survivors`, async () => {
        const all = await Promise.all(survivors.map(status));
        return all.every((s) => s !== null && s.members.every((m) => m.node !== victim || (m.state !== 'alive' && m.routeCount === 0)));
      });
      await phase.waitAcknowledged(phase.acknowledgedCount + PER_STEP, WAIT_MS);
      const r = await phase.finish(WAIT_MS);
      account(`kill -9 of ${victim} (publishers on DNS, subscribers on the survivors)`, r);
      report(`  ${victim} seen down with its routes purged ${purgeMs} ms after kill -9`);
      const start = Date.now();
      await clusterSh('start', victim);
      const backMs = Date.now() - start + (await until('all three members again', () => converged(names)));
      report(`  ${victim} restarted (cluster.sh start) and routes reconverged in ${backMs} ms`);
    });

    it('partition of one node and heal: each side serves, then members and routes reconverge', { timeout: PHASE_MS }, async () => {
      const isolated = names[0]!;
      const rest = names.filter((n) => n !== isolated);
      const sub = await connect(urlOf(isolated), { clientId: 'part-sub', protocolVersion: 5, clean: true });
      clients.push(sub);
      const got = collector(sub);
      await sub.subscribeAsync('part/#', { qos: 1 });
      await until('the subscription known everywhere', () => converged(names));

      const start = Date.now();
      partition(lab, [[isolated], rest]);
      let splitMs: number;
      let connackMs: number;
      let local: MqttClient;
      let other: MqttClient;
      try {
        splitMs = await until('both sides see the split', async () => {
          const [a, ...b] = await Promise.all([isolated, ...rest].map(status));
          // Down, not merely suspect: until then a client id may still belong to a member across the split.
          const down = (s: ClusterStatus | null, who: readonly string[]): boolean => s !== null && s.members.every((m) => !who.includes(m.node) || m.state === 'down');
          return down(a!, rest) && b.every((s) => down(s, [isolated]));
        });
        // Each side keeps serving its own clients. A CONNECT during the split: its client id's owner is decided among the members this side sees.
        const t0 = Date.now();
        local = await connect(urlOf(isolated), { clientId: 'part-pub-local', protocolVersion: 5, connectTimeout: 20_000 });
        connackMs = Date.now() - t0;
        clients.push(local);
        await local.publishAsync('part/local', 'during', { qos: 1 });
        await got.until(1, WAIT_MS);
        other = await connect(urlOf(rest[0]!), { clientId: 'part-pub-other', protocolVersion: 5, connectTimeout: 20_000 });
        clients.push(other);
        await other.subscribeAsync('part2/#', { qos: 1 });
        const otherGot = collector(other);
        await other.publishAsync('part2/x', 'majority', { qos: 1 });
        await otherGot.until(1, WAIT_MS);
      } finally {
        heal(lab);
      }
      const healMs = await until('members and routes reconverged after the heal', () => converged(names), 60_000);
      report(`partition of ${isolated}: split seen by both sides in ${splitMs} ms, a CONNECT on the isolated side answered in ${connackMs} ms; after the heal, members and routes reconverged in ${healMs} ms (${Date.now() - start} ms in all)`);
      await other.publishAsync('part/after', 'healed', { qos: 1 });
      await got.until(2, WAIT_MS);
      assert.deepEqual(got.messages.map((m) => String(m.payload)), ['during', 'healed']);
      await Promise.all([sub, local, other].map((c) => c.endAsync()));
    });

    it('cluster.sh rolling-restart with traffic: no PUBACKed QoS 1 message lost to a persistent subscriber', { timeout: PHASE_MS, todo: HANDOVER_LOSS_TODO }, async () => {
      const phase = traffic({
        targets: () => [dnsUrl],
        prefix: 'roll',
        publishers: [dnsUrl, dnsUrl, dnsUrl],
        subscribers: Array.from({ length: 6 }, () => dnsUrl),
        publishEveryMs: 20,
      });
      await phase.startSubscribers();
      await until('routes of the subscribers on every node', () => converged(names));
      await phase.startPublishing();
      await phase.waitAcknowledged(PER_STEP, WAIT_MS);
      const start = Date.now();
      await clusterSh('rolling-restart');
      const rollMs = Date.now() - start;
      await phase.waitAcknowledged(phase.acknowledgedCount + PER_STEP, WAIT_MS);
      const r = await phase.finish(WAIT_MS);
      account(`rolling restart (cluster.sh, ${rollMs} ms for 3 nodes)`, r);
      await until('all three members after the rolling restart', () => converged(names));
    });
  });
}
