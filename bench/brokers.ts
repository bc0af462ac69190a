// Starting and stopping the brokers under test, each in its own process on its own port,
// optionally pinned to one core, and sampling their CPU time and RSS from /proc.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrokerSample, BrokerSettings } from './scenarios/types.js';

/**
 * 'aedes' keeps everything in memory (its default); 'aedes-level' is the same Aedes with
 * aedes-persistence-level on LevelDB, the peer that writes to disk what Shoal writes to SQLite
 * (see bench/peers/aedes-server.ts).
 */
export const BROKERS = ['shoal', 'aedes', 'aedes-level', 'mosquitto'] as const;
export type BrokerName = (typeof BROKERS)[number];

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export class BrokerStartError extends Error {
  constructor(readonly broker: BrokerName, detail: string) {
    super(`${broker} did not start: ${detail}`);
    this.name = 'BrokerStartError';
  }
}

export interface StartOptions {
  port: number;
  /** Pin the broker (all its threads) to this CPU; null = unpinned. */
  cpu: number | null;
  /** Shoal only: write V8 CPU profiles (main thread and shard workers) here. */
  profileDir?: string;
  /**
   * Shoal and aedes-level: keep the broker's files here and leave them on stop, so a broker
   * started again on the same directory finds what the last one stored. Default: a temporary
   * directory, removed on stop.
   */
  dataDir?: string;
  /** Settings of the scenario (see BrokerSettings); the brokers' defaults where absent. */
  settings?: BrokerSettings;
  /** Shoal only: more command-line flags (a scenario's shoalFlags). */
  extraArgs?: readonly string[];
}

/** Mosquitto's queue limit when a scenario sets none (see "How it measures" in the README). */
const MOSQUITTO_MAX_QUEUED = 10_000;

export interface RunningBroker {
  name: BrokerName;
  pid: number;
  port: number;
  /** How it was started, for the report. */
  command: string;
  sample(): BrokerSample;
  stop(): Promise<void>;
}

export function hasTaskset(): boolean {
  return spawnSync('taskset', ['-V']).status === 0;
}

export function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export function mosquittoPath(): string | null {
  return which('mosquitto') ?? (existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : null);
}

/** Why a broker cannot run here, or null when it can. */
export function unavailable(name: BrokerName): string | null {
  if (name === 'mosquitto' && mosquittoPath() === null) return 'mosquitto not installed (apt-get install -y mosquitto)';
  if (name === 'aedes' && !existsSync(join(ROOT, 'node_modules/aedes'))) return 'aedes not installed (npm install)';
  if (name === 'aedes-level') {
    for (const dep of ['aedes', 'aedes-persistence-level', 'classic-level']) {
      if (!existsSync(join(ROOT, 'node_modules', dep))) return `${dep} not installed (npm install)`;
    }
  }
  return null;
}

/** Built dist/ when present (no tsx transform at startup), otherwise the TypeScript sources. */
export function shoalEntry(): { args: string[]; label: string } {
  const dist = join(ROOT, 'dist/src/main.js');
  if (existsSync(dist)) return { args: [dist], label: 'dist/src/main.js' };
  return { args: ['--import', 'tsx', join(ROOT, 'src/main.ts')], label: 'src/main.ts (tsx)' };
}

function ticksToUs(ticks: number): number {
  return (ticks * 1e6) / CLK_TCK;
}

/** utime+stime in µs from a /proc stat line (fields 14 and 15; the comm field may hold spaces). */
export function cpuUsFromStat(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ticksToUs(Number(fields[11]) + Number(fields[12]));
}

export function sampleProcess(pid: number): BrokerSample {
  const atMs = performance.now();
  try {
    // The process line sums all threads, including shard workers that already exited.
    const cpuUs = cpuUsFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const mainCpuUs = cpuUsFromStat(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    const threads = Number(/Threads:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    return { atMs, cpuUs, mainCpuUs, rssKb, threads };
  } catch {
    return { atMs, cpuUs: Number.NaN, mainCpuUs: Number.NaN, rssKb: Number.NaN, threads: Number.NaN };
  }
}

function waitForPort(port: number, child: ChildProcess, ms: number, stderr: () => string, name: BrokerName): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new BrokerStartError(name, `exited with ${child.exitCode ?? child.signalCode}: ${stderr().slice(-2000)}`));
        return;
      }
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > end) reject(new BrokerStartError(name, `port ${port} not open after ${ms} ms: ${stderr().slice(-2000)}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/**
 * Fails when something already listens on `port`: the readiness probe would otherwise connect to
 * it (another bench run, a broker left behind) and the rounds would measure the wrong process.
 */
function assertPortFree(port: number, name: BrokerName): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(new BrokerStartError(name, `port ${port} on 127.0.0.1 is not free (${err.code ?? err.message}): another bench run or broker holds it; stop it or pass --port-base`)),
    );
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolve()));
  });
}

export async function startBroker(name: BrokerName, o: StartOptions): Promise<RunningBroker> {
  await assertPortFree(o.port, name);
  const tmp = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  let argv: string[];
  if (name === 'shoal') {
    const entry = shoalEntry();
    const prof = o.profileDir ? ['--cpu-prof', '--cpu-prof-dir', o.profileDir] : [];
    argv = [process.execPath, ...prof, ...entry.args, 'start', '--listen', `127.0.0.1:${o.port}`, '--data-dir', o.dataDir ?? join(tmp, 'data'), '--sys-interval', '0', '--log-level', 'warn', '--http', 'off', ...(o.extraArgs ?? [])];
    if (o.settings?.maxQueuedMessages !== undefined) argv.push('--max-queued-messages', String(o.settings.maxQueuedMessages));
  } else if (name === 'aedes' || name === 'aedes-level') {
    argv = [process.execPath, '--import', 'tsx', join(ROOT, 'bench/peers/aedes-server.ts'), String(o.port)];
    if (name === 'aedes-level') argv.push(o.dataDir ?? join(tmp, 'leveldb'));
  } else {
    const conf = join(tmp, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${o.port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        'set_tcp_nodelay true',
        // Not 1000 (its default): Mosquitto 2.0.11 then drops QoS 2 messages ("Outgoing messages
        // are being dropped") with only 256 outstanding. The offline scenario queues 900 per session.
        `max_queued_messages ${o.settings?.maxQueuedMessages ?? MOSQUITTO_MAX_QUEUED}`,
        'log_dest stderr',
        'log_type error',
        'user root',
        '',
      ].join('\n'),
    );
    argv = [mosquittoPath()!, '-c', conf];
  }
  if (o.cpu !== null && hasTaskset()) argv = ['taskset', '-c', String(o.cpu), ...argv];
  let err = '';
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '4' } });
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await waitForPort(o.port, child, 30_000, () => err, name);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const pid = child.pid!;
  return {
    name,
    pid,
    port: o.port,
    command: argv.map((a) => a.replace(tmp, '$TMP').replace(ROOT + '/', '')).join(' ') + (name === 'mosquitto' ? ` (config: max_queued_messages ${o.settings?.maxQueuedMessages ?? MOSQUITTO_MAX_QUEUED})` : ''),
    sample: () => sampleProcess(pid),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** V8 CPU profiles written by the Shoal process and its worker threads. */
export function listProfiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
}

export function brokerVersion(name: BrokerName): string {
  if (name === 'mosquitto') {
    const p = mosquittoPath();
    if (!p) return 'not installed';
    const r = spawnSync(p, ['-h'], { encoding: 'utf8' });
    return /mosquitto version (\S+)/.exec(r.stdout + r.stderr)?.[1] ?? 'unknown';
  }
  if (name === 'aedes-level') {
    const v = (dep: string): string => `${dep} ${packageVersion(join(ROOT, 'node_modules', dep, 'package.json'))}`;
    return `${packageVersion(join(ROOT, 'node_modules/aedes/package.json'))} with ${v('aedes-persistence-level')}, ${v('classic-level')}`;
  }
  return packageVersion(name === 'aedes' ? join(ROOT, 'node_modules/aedes/package.json') : join(ROOT, 'package.json'));
}

function packageVersion(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
