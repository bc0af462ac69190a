// Starts Shoal nodes joined into one cluster as separate `shoal start` processes on 127.0.0.1
// (one event loop per node, as in production), each with its own ports and temp data directory,
// and waits for their JSON log lines (no sleeps: every wait is for a line, with a timeout).
import { execFile } from 'node:child_process';
import { after, before } from 'node:test';
import type { MqttClient } from 'mqtt';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CLUSTER_TICK_MS } from '../../src/cluster/cluster-node.js';
import { DEFAULT_GOSSIP_TIMINGS, downDetectionBoundMs } from '../../src/cluster/membership.js';
import { freeUdpPorts, spawnJsonLogChild, type JsonLogChild, type LogLine } from './membership-process.js';
import { freePort, removeDir, tempDir } from './node.js';

/** One node's part of the cluster: its `shoal start` flags come from this. */
export interface ClusterChildSpec {
  readonly name: string;
  readonly dataDir: string;
  readonly gossipPort: number;
  readonly grpcPort: number;
  readonly seeds: readonly string[];
  /** The address every listener (MQTT, gossip, gRPC) binds and advertises; default 127.0.0.1. */
  readonly host?: string;
  /** Command the node runs under, e.g. `ip netns exec NS` (test/helpers/netns-lab.ts). */
  readonly wrap?: readonly string[];
  /** More `shoal start` flags. */
  readonly extraArgs?: readonly string[];
  /** MQTT port; absent or 0: a free one (a restart on the same port keeps clients' addresses valid). */
  readonly mqttPort?: number;
}

/** `shoal start` arguments for `spec`: debug logs carry the route and retained lines tests wait for. */
export function startArgs(spec: ClusterChildSpec): string[] {
  const host = spec.host ?? '127.0.0.1';
  return [
    'src/main.ts', 'start',
    '--listen', `${host}:${spec.mqttPort ?? 0}`,
    '--data-dir', spec.dataDir,
    '--shards', '2',
    '--sys-interval', '0',
    '--log-level', 'debug',
    '--node-name', spec.name,
    '--gossip', `${host}:${spec.gossipPort}`,
    '--grpc', `${host}:${spec.grpcPort}`,
    '--advertise', host,
    '--seeds', spec.seeds.join(','),
    // Off loopback (the namespace lab's addresses) --allow-anonymous auto refuses unauthenticated
    // clients; these suites test the cluster, not authentication (auth-acl and cluster-acl do).
    ...(host.startsWith('127.') ? [] : ['--allow-anonymous', 'true']),
    ...(spec.extraArgs ?? []),
    // A free port each: the default 18083 would be taken by the first node.
    '--http', '127.0.0.1:0',
  ];
}
/** tsx compiles on the fly, SQLite opens, workers start, gossip joins: allow for a slow box. */
export const CLUSTER_START_TIMEOUT_MS = 30_000;

export interface ClusterProcess extends JsonLogChild<ClusterChildSpec> {
  /** MQTT port (from the "node.listening" line). */
  readonly port: number;
  readonly url: string;
}

/** When a killed node's routes must be gone from the others (README, Cluster) in a cluster of
 * `members`: membership's bound on declaring it down, plus one cluster tick for a purge missed at
 * that moment. */
export function purgeBoundMs(members: number): number {
  return downDetectionBoundMs(DEFAULT_GOSSIP_TIMINGS, members) + CLUSTER_TICK_MS;
}

/** Specs for `n` nodes named node1..n, every one seeded with the whole list (itself included). */
export async function clusterSpecs(n: number, extra: Partial<ClusterChildSpec> = {}): Promise<ClusterChildSpec[]> {
  const gossip = await freeUdpPorts(n);
  const grpc: number[] = [];
  while (grpc.length < n) {
    const p = await freePort();
    if (!grpc.includes(p)) grpc.push(p);
  }
  const seeds = gossip.map((p) => `127.0.0.1:${p}`);
  return gossip.map((gossipPort, i) => ({ name: `node${i + 1}`, dataDir: tempDir('shoal-cluster-'), gossipPort, grpcPort: grpc[i]!, seeds, ...extra }));
}

/** Starts one node and resolves once it listens for MQTT. */
export async function startClusterProcess(spec: ClusterChildSpec, secret: string | undefined, nodeArgs: readonly string[] = []): Promise<ClusterProcess> {
  const child = spawnJsonLogChild(spec, startArgs(spec), secret, nodeArgs, spec.wrap);
  const listening = await Promise.race([
    child.waitFor('node.listening', (l) => l.event === 'node.listening', CLUSTER_START_TIMEOUT_MS),
    child.exited.then(({ code }) => {
      throw new Error(`${spec.name} exited with code ${code} before listening; stderr: ${child.stderr().slice(-1500)}; last lines: ${JSON.stringify(child.lines.slice(-5))}`);
    }),
  ]);
  const port = listening.port as number;
  return Object.assign(child, { port, url: `mqtt://${spec.host ?? '127.0.0.1'}:${port}` });
}

/** A route delta or resync that shows `origin` (at `incarnation`, if given) holding `filter`. */
export function routeSeen(origin: string, filter: string, incarnation?: number): (line: LogLine) => boolean {
  return (l) =>
    l.origin === origin &&
    (incarnation === undefined || l.incarnation === incarnation) &&
    ((l.event === 'cluster.routes.applied' && (l.adds as string[]).includes(filter)) ||
      (l.event === 'cluster.routes.resynced' && (l.filters as string[]).includes(filter)));
}

/** Waits until every node in `others` holds `origin`'s route for `filter`. */
export async function routeVisible(others: readonly ClusterProcess[], origin: string, filter: string, incarnation?: number, ms = 10_000): Promise<void> {
  await Promise.all(others.map((n) => n.waitFor(`route ${filter} of ${origin}`, routeSeen(origin, filter, incarnation), ms)));
}

/** The incarnation a node started with (its "cluster.started" line). */
export async function incarnationOf(node: ClusterProcess): Promise<number> {
  const line = await node.waitFor('cluster.started', (l) => l.event === 'cluster.started', CLUSTER_START_TIMEOUT_MS);
  return line.incarnation as number;
}

/** Waits until `node` has its streams up to every name in `peers`. */
export async function peersUp(node: ClusterProcess, peers: readonly string[], ms = 20_000): Promise<void> {
  await Promise.all(peers.map((p) => node.waitFor(`streams to ${p}`, (l) => l.event === 'cluster.peer.up' && l.peer === p, ms)));
}

/** Starts a node per spec and waits until each has its streams up to all the others. */
export async function startCluster(specs: readonly ClusterChildSpec[], secret: string | undefined): Promise<ClusterProcess[]> {
  const nodes = await Promise.all(specs.map((s) => startClusterProcess(s, secret)));
  await Promise.all(nodes.map((n) => peersUp(n, nodes.filter((o) => o !== n).map((o) => o.spec.name))));
  return nodes;
}

/** Ends the clients, stops the nodes (SIGTERM) and removes their data directories. */
export async function stopCluster(nodes: readonly ClusterProcess[], clients: readonly MqttClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await Promise.all(nodes.map((n) => n.stop()));
  for (const n of nodes) removeDir(n.spec.dataDir);
}

/** Waits until `node` (just started) and every one of `others` have their streams up to each other
 * at `node`'s new incarnation: it has joined (again). */
export async function joined(node: ClusterProcess, others: readonly ClusterProcess[], ms = 20_000): Promise<void> {
  const incarnation = await incarnationOf(node);
  await peersUp(node, others.map((o) => o.spec.name), ms);
  await Promise.all(
    others.map((o) => o.waitFor(`streams to ${node.spec.name} (incarnation ${incarnation})`, (l) => l.event === 'cluster.peer.up' && l.peer === node.spec.name && l.incarnation === incarnation, ms)),
  );
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `shoal <args>` (e.g. `cluster status`, `drain`) as an operator would, against `node`'s gRPC
 * port, with `secret` in SHOAL_CLUSTER_SECRET and none of the caller's other SHOAL_* variables. */
export async function shoalCommand(node: ClusterProcess, args: readonly string[], secret: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = ['--import', 'tsx', 'src/main.ts', ...args, '--grpc', `127.0.0.1:${node.spec.grpcPort}`];
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHOAL_')) env[k] = v;
  env.SHOAL_CLUSTER_SECRET = secret;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, argv, { cwd: ROOT, env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/**
 * A suite's cluster: `n` nodes started (streams up between all of them) before its tests, and
 * stopped with their data directories removed after, with every client in `clients` ended first.
 * `nodes` is filled in place, so a test may replace a restarted node in it.
 */
export function useCluster(n: number, secret: string): { nodes: ClusterProcess[]; clients: MqttClient[] } {
  const nodes: ClusterProcess[] = [];
  const clients: MqttClient[] = [];
  before(async () => {
    nodes.push(...(await startCluster(await clusterSpecs(n), secret)));
  });
  after(() => stopCluster(nodes, clients));
  return { nodes, clients };
}
