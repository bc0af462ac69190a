// Cluster benchmarks: the same flows on 3 local cluster nodes (publisher and subscriber on
// different nodes) and on one node, interleaved round by round, medians and cluster/one-node
// ratios printed.
//   node --import tsx bench/cluster.ts [--rounds N] [--duration S] [--warmup S]
// Scenarios: cluster-p2p (1 publisher → 1 subscriber, QoS 0 and 1), cluster-fanin (16 publishers
// on two nodes → 1 subscriber on `#`-style filter on the third, QoS 0 and 1), latency (QoS 1 at
// 1,000 msgs/s, p50/p99), and route visibility (time from SUBACK to the route applied on both other
// nodes, from their log lines). Every process shares the machine's 2 cores with the load
// generator, unpinned: compare ratios, not absolute figures, with the single-node bench.
import { performance } from 'node:perf_hooks';
import { connectMany, type RawClient } from './loadgen/client.js';
import { Flow } from './loadgen/flow.js';
import { LatencyRecorder } from './loadgen/latency.js';
import { publishTemplate } from './loadgen/packets.js';
import { percentileSorted } from './stats.js';
import { clusterSpecs, startClusterProcess, peersUp, type ClusterProcess } from '../test/helpers/cluster-process.js';
import { startProcessNode, type ProcessNode } from '../test/helpers/process-node.js';
import { removeDir, tempDir } from '../test/helpers/node.js';

const args = process.argv.slice(2);
const num = (flag: string, d: number): number => {
  const i = args.indexOf(flag);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const ROUNDS = num('--rounds', 3);
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1]! : null;
const DURATION_S = num('--duration', 5);
const WARMUP_S = num('--warmup', 1);
const PAYLOAD = 64;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Target {
  label: 'one node' | 'cluster';
  /** Cluster nodes the publishers are on (they must hold the subscriber's route first). */
  pubNodes: ClusterProcess[];
  /** MQTT port for publisher i of n. */
  pubPort(i: number, n: number): number;
  subPort: number;
}

interface FlowSpec {
  name: string;
  publishers: number;
  qos: 0 | 1;
  topic(i: number): string;
  filter: string;
  window: number;
  batch: number;
  inflight?: number;
  ratePerSec?: number;
}

let runId = 0;

async function runFlow(t: Target, f: FlowSpec): Promise<{ perSec: number; p50: number; p99: number; lost: number }> {
  const id = `${f.name}-${Date.now().toString(36)}-${runId++}`;
  const [sub] = await connectMany(1, 1, () => ({ port: t.subPort, clientId: `s-${id}` }));
  const from = t.pubNodes.map((n) => n.lines.length);
  await sub!.subscribeAll([f.filter], f.qos);
  // The route must be on the publishers' nodes before the flow starts (see the route figures).
  await Promise.all(
    t.pubNodes.map((n, k) =>
      n.waitFor(`route ${f.filter}`, (l) => n.lines.indexOf(l) >= from[k]! && l.event === 'cluster.routes.applied' && (l.adds as string[]).includes(f.filter), 10_000),
    ),
  );
  const pubs: RawClient[] = await connectMany(f.publishers, 16, (i) => ({ port: t.pubPort(i, f.publishers), clientId: `p-${id}-${i}` }));
  const latency = f.ratePerSec !== undefined ? new LatencyRecorder() : null;
  const flow = new Flow({
    publishers: pubs,
    templates: pubs.map((_, i) => [publishTemplate(f.topic(i), PAYLOAD, f.qos, 4)]),
    subscribers: [sub!],
    qos: f.qos,
    subQos: f.qos,
    fanOut: 1,
    window: f.window,
    batch: f.batch,
    inflightPerPublisher: f.inflight ?? 1 << 30,
    latency,
    ...(f.ratePerSec !== undefined ? { ratePerSec: f.ratePerSec } : {}),
  });
  flow.start();
  await sleep(WARMUP_S * 1000);
  const d0 = flow.delivered;
  const l0 = flow.lost;
  const m0 = performance.now();
  if (latency) latency.recording = true;
  await sleep(DURATION_S * 1000);
  const d1 = flow.delivered;
  const m1 = performance.now();
  if (latency) latency.recording = false;
  flow.stop();
  for (const c of [...pubs, sub!]) c.destroy();
  const l = latency?.summary();
  return { perSec: ((d1 - d0) * 1000) / (m1 - m0), p50: l?.p50 ?? Number.NaN, p99: l?.p99 ?? Number.NaN, lost: flow.lost - l0 };
}

const median = (xs: number[]): number => percentileSorted(Float64Array.from(xs).sort(), 50);

async function routeVisibility(nodes: ClusterProcess[], samples: number): Promise<number[]> {
  const [n1, n2, n3] = nodes as [ClusterProcess, ClusterProcess, ClusterProcess];
  const [sub] = await connectMany(1, 1, () => ({ port: n2.port, clientId: `route-probe-${Date.now()}` }));
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const filter = `route/probe/${Date.now().toString(36)}/${i}/+`;
    await sub!.subscribeAll([filter], 0);
    const subackAt = Date.now();
    const seen = await Promise.all(
      [n1, n3].map((n) =>
        n.waitFor(`route ${filter}`, (l) => l.event === 'cluster.routes.applied' && (l.adds as string[]).includes(filter), 10_000),
      ),
    );
    // pino's ISO time has millisecond resolution; the same machine clock as subackAt.
    out.push(Math.max(...seen.map((l) => Date.parse(l.time as string))) - subackAt);
  }
  sub!.destroy();
  return out;
}

async function main(): Promise<void> {
  const single: ProcessNode = await startProcessNode(tempDir('shoal-bench-one-'));
  const specs = await clusterSpecs(3);
  const PROFILE_DIR = args.includes('--profile') ? tempDir('shoal-cluster-prof-') : null;
  const nodeArgs = PROFILE_DIR === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`];
  if (PROFILE_DIR !== null) console.log(`cluster nodes write CPU profiles to ${PROFILE_DIR} (summarise with bench/profile.ts)`);
  const nodes = await Promise.all(specs.map((s) => startClusterProcess(s, 'bench-cluster-secret-0123456789', nodeArgs)));
  await Promise.all(nodes.map((n) => peersUp(n, nodes.filter((o) => o !== n).map((o) => o.spec.name))));
  const [n1, n2, n3] = nodes as [ClusterProcess, ClusterProcess, ClusterProcess];
  const one: Target = { label: 'one node', pubNodes: [], pubPort: () => single.port, subPort: single.port };
  const cluster: Target = { label: 'cluster', pubNodes: [n1, n3], pubPort: (i) => (i % 2 === 0 ? n1.port : n3.port), subPort: n2.port };
  const p2pCluster: Target = { label: 'cluster', pubNodes: [n1], pubPort: () => n1.port, subPort: n2.port };
  const flows: { spec: FlowSpec; clusterTarget: Target }[] = [
    { spec: { name: 'cluster-p2p qos0', publishers: 1, qos: 0, topic: () => 'bench/p2p', filter: 'bench/p2p', window: 1024, batch: 32 }, clusterTarget: p2pCluster },
    { spec: { name: 'cluster-p2p qos1', publishers: 1, qos: 1, topic: () => 'bench/p2p', filter: 'bench/p2p', window: 256, batch: 4, inflight: 64 }, clusterTarget: p2pCluster },
    { spec: { name: 'cluster-fanin qos0', publishers: 16, qos: 0, topic: (i) => `bench/in/${i}`, filter: 'bench/in/+', window: 4096, batch: 32 }, clusterTarget: cluster },
    { spec: { name: 'cluster-fanin qos1', publishers: 16, qos: 1, topic: (i) => `bench/in/${i}`, filter: 'bench/in/+', window: 256, batch: 4, inflight: 16 }, clusterTarget: cluster },
    { spec: { name: 'latency qos1 @1k/s', publishers: 1, qos: 1, topic: () => 'bench/lat', filter: 'bench/lat', window: 1024, batch: 1, ratePerSec: 1000 }, clusterTarget: p2pCluster },
  ];
  console.log(`rounds ${ROUNDS}, ${DURATION_S} s each after ${WARMUP_S} s warm-up; one node vs 3 cluster nodes (publisher and subscriber on different nodes), all on this machine's cores, unpinned`);
  try {
    for (const { spec, clusterTarget } of flows) {
      if (ONLY !== null && !spec.name.includes(ONLY)) continue;
      const res: Record<string, { perSec: number; p50: number; p99: number; lost: number }[]> = { 'one node': [], cluster: [] };
      for (let r = 0; r < ROUNDS; r++) {
        for (const t of [one, clusterTarget]) {
          const x = await runFlow(t, spec);
          res[t.label]!.push(x);
          console.log(`  ${spec.name} r${r + 1} ${t.label}: ${Math.round(x.perSec)} msgs/s` + (spec.ratePerSec ? `, p50 ${x.p50.toFixed(3)} ms, p99 ${x.p99.toFixed(3)} ms` : '') + (x.lost ? `, lost ${x.lost}` : ''));
        }
      }
      const m = (label: string, k: 'perSec' | 'p50' | 'p99'): number => median(res[label]!.map((x) => x[k]));
      if (spec.ratePerSec !== undefined) {
        console.log(`${spec.name}: p99 one node ${m('one node', 'p99').toFixed(3)} ms, cluster ${m('cluster', 'p99').toFixed(3)} ms (added ${(m('cluster', 'p99') - m('one node', 'p99')).toFixed(3)} ms); p50 ${m('one node', 'p50').toFixed(3)} / ${m('cluster', 'p50').toFixed(3)} ms`);
      } else {
        console.log(`${spec.name}: one node ${Math.round(m('one node', 'perSec'))} msgs/s, cluster ${Math.round(m('cluster', 'perSec'))} msgs/s, ratio ${(m('cluster', 'perSec') / m('one node', 'perSec')).toFixed(2)}`);
      }
    }
    const vis = await routeVisibility(nodes, 20);
    const sorted = Float64Array.from(vis).sort();
    console.log(`route visible on both other nodes after SUBACK (20 new filters): median ${percentileSorted(sorted, 50)} ms, max ${sorted[sorted.length - 1]} ms`);
  } finally {
    await single.stop();
    await Promise.all(nodes.map((n) => n.stop()));
    for (const s of specs) removeDir(s.dataDir);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
