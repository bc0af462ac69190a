// Takeover benchmark (issue 17): three `shoal start --seeds` processes on this machine.
//   node --import tsx bench/takeover.ts [--samples N] [--warmup W] [--queued Q] [--storm M]
// 1. CONNECT -> CONNACK when the session lives on another node with Q queued QoS 1 messages (a
//    cross-node takeover), against a reconnect to the node that holds it (same-node), interleaved
//    sample by sample; p50/p99 of each and their ratio. Goal: p99 <= 50 ms for Q = 1000.
// 2. A storm: M persistent sessions spread over the nodes reconnect at once, each to another
//    node; takeovers/s from the first CONNECT to the last CONNACK, against the same M clients
//    reconnecting at once to the node that holds them. Goal: >= 1000 takeovers/s.
// The TCP connection is open before the clock starts: only the CONNECT's handling is timed.
import { performance } from 'node:perf_hooks';
import type { IConnectPacket } from 'mqtt-packet';
import { clusterSpecs, peersUp, startClusterProcess, type ClusterProcess } from '../test/helpers/cluster-process.js';
import { connect, removeDir, tempDir } from '../test/helpers/node.js';
import { RawClient } from '../test/helpers/raw-client.js';
import { percentileSorted } from './stats.js';

const args = process.argv.slice(2);
const num = (flag: string, d: number): number => {
  const i = args.indexOf(flag);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const SAMPLES = num('--samples', 20);
/** Samples run first and not counted: the first calls of each kind compile (protobuf encoders, JIT). */
const WARMUP = num('--warmup', 5);
const QUEUED = num('--queued', 1000);
const STORM = num('--storm', 600);
const WAIT_MS = 30_000;

function connectPacket(clientId: string, clean: boolean): IConnectPacket {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean, keepalive: 0, properties: { sessionExpiryInterval: 3600, receiveMaximum: 100 } };
}

/** Opens the TCP connection, then times CONNECT -> CONNACK (ms); returns the open client. */
async function timedConnect(node: ClusterProcess, clientId: string): Promise<{ c: RawClient; ms: number }> {
  const c = await RawClient.open(node.port, 5);
  const t0 = performance.now();
  c.send(connectPacket(clientId, false));
  const ack = await c.next(`CONNACK of ${clientId}`, WAIT_MS);
  const ms = performance.now() - t0;
  if (ack.cmd !== 'connack' || ((ack as { reasonCode?: number }).reasonCode ?? 0) !== 0 || !(ack as { sessionPresent: boolean }).sessionPresent) {
    throw new Error(`${clientId} on ${node.spec.name}: ${JSON.stringify(ack)} (expected a resumed session)`);
  }
  return { c, ms };
}

async function leave(c: RawClient): Promise<void> {
  c.send({ cmd: 'disconnect' });
  await c.waitClosed(WAIT_MS);
}

/** A persistent session on `node` subscribed to `topic`, offline. */
async function makeSession(node: ClusterProcess, clientId: string, topic: string): Promise<void> {
  const c = await RawClient.open(node.port, 5);
  c.send(connectPacket(clientId, true));
  await c.next('CONNACK', WAIT_MS);
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
  await c.next('SUBACK', WAIT_MS);
  await leave(c);
}

function stats(xs: number[]): { p50: number; p99: number } {
  const s = Float64Array.from(xs).sort();
  return { p50: percentileSorted(s, 50), p99: percentileSorted(s, 99) };
}

async function main(): Promise<void> {
  const specs = await clusterSpecs(3);
  const PROFILE_DIR = args.includes('--profile') ? tempDir('shoal-takeover-prof-') : null;
  if (PROFILE_DIR !== null) console.log(`nodes write CPU profiles to ${PROFILE_DIR} (summarise with bench/profile.ts)`);
  const nodeArgs = PROFILE_DIR === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`];
  const nodes = await Promise.all(specs.map((s) => startClusterProcess(s, 'bench-takeover-secret-0123456789', nodeArgs)));
  try {
    await Promise.all(nodes.map((n) => peersUp(n, nodes.filter((o) => o !== n).map((o) => o.spec.name))));
    const [n1, n2] = nodes as [ClusterProcess, ClusterProcess];
    console.log(`takeover latency: ${SAMPLES} sessions with ${QUEUED} queued QoS 1 messages each, 3 nodes on this machine, unpinned`);
    const pub = await connect(n1.url, { clientId: 'bench-pub', protocolVersion: 5 });
    const cross: number[] = [];
    const same: number[] = [];
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      const id = `lat-${i}`;
      await makeSession(n1, id, `lat/${i}`);
      for (let k = 0; k < QUEUED; k += 100) {
        await Promise.all(Array.from({ length: Math.min(100, QUEUED - k) }, (_, j) => pub.publishAsync(`lat/${i}`, `m${k + j}`, { qos: 1 })));
      }
      // From node1 (where it lives) to node2: a takeover with the queue.
      const moved = await timedConnect(n2, id);
      if (i >= WARMUP) cross.push(moved.ms);
      await leave(moved.c);
      // Again on node2, where it lives now: the same-node reconnect (the queue is still there:
      // the window sent before the DISCONNECT went back to inflight).
      const local = await timedConnect(n2, id);
      if (i >= WARMUP) same.push(local.ms);
      await leave(local.c);
    }
    await pub.endAsync();
    const x = stats(cross);
    const y = stats(same);
    if (SAMPLES > 0) console.log(`cross-node takeover: p50 ${x.p50.toFixed(2)} ms, p99 ${x.p99.toFixed(2)} ms; same-node reconnect: p50 ${y.p50.toFixed(2)} ms, p99 ${y.p99.toFixed(2)} ms; ratio p50 ${(x.p50 / y.p50).toFixed(2)}, p99 ${(x.p99 / y.p99).toFixed(2)}`);

    console.log(`takeover storm: ${STORM} persistent sessions over 3 nodes reconnecting at once`);
    const home = (i: number): ClusterProcess => nodes[i % 3]!;
    const away = (i: number): ClusterProcess => nodes[(i + 1) % 3]!;
    for (let i = 0; i < STORM; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, STORM - i) }, (_, k) => makeSession(home(i + k), `storm-${i + k}`, `storm/${i + k}`)));
    }
    /** Every client CONNECTs at once to `where`; CONNACKs per second, and how many were not resumed. */
    const runStorm = async (where: (i: number) => ClusterProcess): Promise<{ perSec: number; notResumed: Map<string, number> }> => {
      const clients = await Promise.all(Array.from({ length: STORM }, (_, i) => RawClient.open(where(i).port, 5)));
      const t0 = performance.now();
      clients.forEach((c, i) => c.send(connectPacket(`storm-${i}`, false)));
      const acks = await Promise.all(clients.map((c, i) => c.next(`CONNACK of storm-${i}`, WAIT_MS)));
      const ms = performance.now() - t0;
      const notResumed = new Map<string, number>();
      for (const a of acks) {
        const rc = (a as { reasonCode?: number }).reasonCode ?? 0;
        if (a.cmd === 'connack' && rc === 0 && (a as { sessionPresent: boolean }).sessionPresent) continue;
        const key = `${a.cmd} 0x${rc.toString(16)} present=${(a as { sessionPresent?: boolean }).sessionPresent}`;
        notResumed.set(key, (notResumed.get(key) ?? 0) + 1);
      }
      await Promise.all(clients.map((c) => (c.closedAt === 0 ? leave(c) : Promise.resolve())));
      return { perSec: (STORM / ms) * 1000, notResumed };
    };
    const moves = await runStorm(away);
    const stays = await runStorm(away); // where each lives now (or still, if refused): same-node reconnects
    if (args.includes('--why')) {
      const reasons = new Map<string, number>();
      for (const n of nodes) for (const l of n.lines) if (l.event === 'cluster.takeover.failed' || l.event === 'cluster.registry.incomplete' || l.event === 'cluster.takeover.aborted') {
        const k = `${n.spec.name} ${String(l.event)} ${String(l.msg).replace(/node\d/g, 'nodeN')}`;
        reasons.set(k, (reasons.get(k) ?? 0) + 1);
      }
      console.log(JSON.stringify([...reasons], null, 1));
    }
    const odd = (r: { notResumed: Map<string, number> }): string => (r.notResumed.size === 0 ? 'all resumed' : `not resumed: ${JSON.stringify([...r.notResumed])}`);
    console.log(`storm: ${Math.round(moves.perSec)} takeovers/s (each client to another node; ${odd(moves)}), ${Math.round(stays.perSec)} reconnects/s (each to the node holding it; ${odd(stays)}); ratio ${(moves.perSec / stays.perSec).toFixed(2)}`);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const s of specs) removeDir(s.dataDir);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
