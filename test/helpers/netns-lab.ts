// A network lab for partition tests: one network namespace per node, each with its own address on
// one bridge in a hub namespace, where the test's MQTT clients run. A partition is nftables rules
// in the node namespaces dropping everything between the addresses of different sides (gossip and
// gRPC are all the traffic nodes exchange); the hub's clients keep reaching every node.
//
// Why a namespace per node and not nodes on 127.0.0.x in one namespace: a socket that does not
// bind before connecting (gRPC's client channels) gets source address 127.0.0.1 whatever node
// opens it, so rules by address could not tell the nodes' connections apart.
//
// Needs root, `ip` (iproute2) and `nft`. Nothing touches the caller's namespace: the lab's
// namespaces hold every interface it creates, and destroyLab kills what still runs in them and
// deletes them (call it in `finally`; createLab also registers it for process exit).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

export interface LabNode {
  readonly name: string;
  /** The namespace the node runs in. */
  readonly ns: string;
  readonly address: string;
}

export interface Lab {
  /** Where the test's clients run (the bridge's address below). */
  readonly hub: string;
  readonly hubAddress: string;
  readonly nodes: readonly LabNode[];
}

/** Isolated from every other network (the lab has no link out), so a fixed subnet cannot clash. */
const SUBNET = '10.213.0';
const PARTITION_TABLE = 'shoal_partition';

function run(args: readonly string[], input?: string): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input === undefined ? {} : { input }) });
}

function has(command: string, versionFlag: string): boolean {
  try {
    execFileSync(command, [versionFlag], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the lab cannot run here (the test skips with this), or null. */
export function labUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root (CI runs as root)';
  if (!has('ip', '-V')) return 'iproute2 (`ip`) is not installed; .ci/run installs it';
  if (!has('nft', '--version')) return 'nftables (`nft`) is not installed; .ci/run installs it';
  return null;
}

/** The lab's namespaces and `ip netns exec` prefix for a node, by name. */
export function wrapFor(node: LabNode): string[] {
  return ['ip', 'netns', 'exec', node.ns];
}

/**
 * Runs `fn` with a fresh lab of `n` nodes and destroys the lab afterwards, also when the process
 * exits or is interrupted meanwhile.
 */
export async function withLab<T>(n: number, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = createLab(n);
  const cleanup = (): void => destroyLab(lab);
  const onSignal = (signal: NodeJS.Signals): void => {
    cleanup();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', cleanup);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn(lab);
  } finally {
    process.off('exit', cleanup);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanup();
  }
}

/** Creates a hub and `n` node namespaces (node1..n at SUBNET.11, .12, ...); see withLab. */
export function createLab(n: number): Lab {
  const id = `shoal${process.pid}`;
  const lab: Lab = {
    hub: `${id}-hub`,
    hubAddress: `${SUBNET}.1`,
    nodes: Array.from({ length: n }, (_, i) => ({ name: `node${i + 1}`, ns: `${id}-n${i + 1}`, address: `${SUBNET}.${11 + i}` })),
  };
  try {
    run(['ip', 'netns', 'add', lab.hub]);
    run(['ip', '-n', lab.hub, 'link', 'set', 'lo', 'up']);
    run(['ip', '-n', lab.hub, 'link', 'add', 'br0', 'type', 'bridge']);
    run(['ip', '-n', lab.hub, 'addr', 'add', `${lab.hubAddress}/24`, 'dev', 'br0']);
    run(['ip', '-n', lab.hub, 'link', 'set', 'br0', 'up']);
    lab.nodes.forEach((node, i) => {
      run(['ip', 'netns', 'add', node.ns]);
      run(['ip', '-n', node.ns, 'link', 'set', 'lo', 'up']);
      // Both ends are created inside their namespaces: nothing appears in the caller's.
      run(['ip', 'link', 'add', `h${i + 1}`, 'netns', lab.hub, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.ns]);
      run(['ip', '-n', lab.hub, 'link', 'set', `h${i + 1}`, 'master', 'br0', 'up']);
      run(['ip', '-n', node.ns, 'addr', 'add', `${node.address}/24`, 'dev', 'eth0']);
      run(['ip', '-n', node.ns, 'link', 'set', 'eth0', 'up']);
    });
  } catch (e) {
    destroyLab(lab);
    const err = e as { stderr?: string; message: string };
    throw new Error(`could not build the network namespace lab: ${err.stderr?.trim() || err.message}`);
  }
  return lab;
}

/** Kills whatever still runs in the lab's namespaces (processes the test started there) and deletes them. */
export function destroyLab(lab: Lab): void {
  for (const ns of [...lab.nodes.map((n) => n.ns), lab.hub]) {
    let pids: string[] = [];
    try {
      pids = run(['ip', 'netns', 'pids', ns]).split('\n').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
    } catch {
      continue; // already gone
    }
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    try {
      run(['ip', 'netns', 'del', ns]);
    } catch {
      // deleted meanwhile
    }
  }
  // The resolver file startDns() may have written for the hub (ip netns exec mounts it there).
  rmSync(`/etc/netns/${lab.hub}`, { recursive: true, force: true });
}

/**
 * Splits the nodes into `sides` (node names): every packet between nodes of different sides is
 * dropped where it arrives (each node drops what comes from the other side), so senders see no
 * error, as on a real network failure: datagrams vanish, established TCP connections hang, new
 * ones time out. Replaces any earlier partition.
 */
export function partition(lab: Lab, sides: readonly (readonly string[])[]): void {
  heal(lab);
  for (const node of lab.nodes) {
    const mine = sides.find((side) => side.includes(node.name));
    if (mine === undefined) continue;
    const others = lab.nodes.filter((o) => !mine.includes(o.name)).map((o) => o.address);
    if (others.length === 0) continue;
    const set = `{ ${others.join(', ')} }`;
    run(['ip', 'netns', 'exec', node.ns, 'nft', '-f', '-'], [
      `table inet ${PARTITION_TABLE} {`,
      `  chain input { type filter hook input priority 0; policy accept; ip saddr ${set} drop; }`,
      `}`,
      '',
    ].join('\n'));
  }
}

/** Removes the partition rules from every node. */
export function heal(lab: Lab): void {
  for (const node of lab.nodes) {
    const tables = run(['ip', 'netns', 'exec', node.ns, 'nft', 'list', 'tables']);
    if (tables.includes(PARTITION_TABLE)) run(['ip', 'netns', 'exec', node.ns, 'nft', 'delete', 'table', 'inet', PARTITION_TABLE]);
  }
}

/** Why the lab's DNS server cannot run here, or null. */
export function dnsUnavailable(): string | null {
  return has('dnsmasq', '--version') ? null : 'dnsmasq is not installed; .ci/run installs it (dnsmasq-base)';
}

export interface LabDns {
  /** The name that resolves to every address given, e.g. broker.shoal.test. */
  readonly name: string;
  readonly server: string;
  stop(): void;
}

/**
 * Runs dnsmasq in the hub namespace, on the hub's address, answering `name` with one A record per
 * address (dnsmasq rotates their order on every answer: round-robin DNS) and nothing else (no
 * upstream, no /etc/hosts). Processes started in the hub with `ip netns exec` resolve through it:
 * ip mounts /etc/netns/<hub>/resolv.conf, written here, over /etc/resolv.conf for them. destroyLab
 * kills dnsmasq with the rest of the hub and removes that file.
 */
export async function startDns(lab: Lab, name: string, addresses: readonly string[]): Promise<LabDns> {
  mkdirSync(`/etc/netns/${lab.hub}`, { recursive: true });
  writeFileSync(`/etc/netns/${lab.hub}/resolv.conf`, `# written by the Shoal test lab (test/helpers/netns-lab.ts)\nnameserver ${lab.hubAddress}\noptions timeout:1 attempts:2\n`);
  const child: ChildProcess = spawn('ip', [
    'netns', 'exec', lab.hub, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces',
    `--listen-address=${lab.hubAddress}`, '--port=53', '--user=root', '--pid-file=', '--log-facility=-', '--local-ttl=0',
    ...addresses.map((a) => `--host-record=${name},${a}`),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dnsmasq did not start within 10 s: ${log}`)), 10_000);
    const check = (): void => {
      // Logged once it has bound its socket and read its records (--host-record is in memory).
      if (/started, version/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on('data', check);
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dnsmasq exited (${code}) at start: ${log.trim()}`));
    });
  });
  return { name, server: lab.hubAddress, stop: () => void child.kill('SIGKILL') };
}
