// `npm run bench -- <scenario|all|list> [--vs aedes,aedes-level,mosquitto] [--rounds N] [--duration S]
//   [--warmup S] [--pinned | --unpinned | --both] [--profile] [--clients N] [--hold S]`
// Starts each broker in its own process (pinned to core 0 when asked), drives it from load
// generator processes pinned to core 1, interleaves rounds across brokers (A B A B ...), prints
// medians and Shoal/peer ratios, and writes the raw rounds to bench/results/*.json.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem, release } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BROKERS, ROOT, brokerVersion, hasTaskset, listProfiles, sampleProcess, shoalEntry, startBroker, unavailable, type BrokerName, type RunningBroker } from './brokers.js';
import type { FromLoadgen, ToLoadgen } from './loadgen/ipc.js';
import { formatProfile, summariseProfile, type ProfileSummary } from './profile.js';
import { checkTargets, formatTable, formatTargets, medians, type RoundResult } from './report.js';
import { SCENARIOS, scenarioByName } from './scenarios/index.js';
import { LOADGEN_BOUND_CORES, type BenchParams, type BrokerSample, type MarkSamples, type Metrics, type ScenarioDef } from './scenarios/types.js';

class UsageError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'UsageError';
  }
}

interface Cli {
  scenarios: ScenarioDef[];
  brokers: BrokerName[];
  rounds: number;
  modes: ('pinned' | 'unpinned')[];
  profile: boolean;
  params: BenchParams;
  portBase: number;
  /** Where the round JSON (and profiles) go; default bench/results. */
  resultsDir: string;
}

const USAGE = `usage: npm run bench -- <scenario|all|list> [--vs aedes,aedes-level,mosquitto] [--rounds N] [--duration S]
       [--warmup S] [--pinned | --unpinned | --both] [--profile] [--clients N] [--hold S] [--port-base P]
       [--results-dir DIR]
scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`;

function parseCli(argv: string[]): Cli | null {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (eq > 0) flags.set(key, a.slice(eq + 1));
    else if (['vs', 'rounds', 'duration', 'warmup', 'clients', 'hold', 'port-base', 'results-dir'].includes(key)) {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`--${key} needs a value`);
      flags.set(key, v);
    } else flags.set(key, true);
  }
  const known = new Set(['vs', 'rounds', 'duration', 'warmup', 'clients', 'hold', 'port-base', 'results-dir', 'pinned', 'unpinned', 'both', 'profile', 'help']);
  for (const k of flags.keys()) if (!known.has(k)) throw new UsageError(`unknown option --${k}`);
  if (flags.has('help') || positional.length === 0) return null;
  if (positional[0] === 'list') {
    for (const s of SCENARIOS) console.log(`${s.name.padEnd(12)} ${s.summary}`);
    process.exit(0);
  }
  const scenarios = positional.flatMap((p) => (p === 'all' ? [...SCENARIOS] : [scenarioByName(p)]));
  const num = (k: string, d: number, min: number): number => {
    const v = flags.get(k);
    if (v === undefined) return d;
    const n = Number(v);
    if (typeof v !== 'string' || !Number.isFinite(n) || n < min) throw new UsageError(`--${k} must be a number ≥ ${min}, got ${String(v)}`);
    return n;
  };
  const vs = flags.get('vs');
  const peers = typeof vs === 'string' ? vs.split(',').map((s) => s.trim()).filter(Boolean) : [];
  for (const p of peers) if (!(BROKERS as readonly string[]).includes(p) || p === 'shoal') throw new UsageError(`--vs: unknown peer "${p}" (${BROKERS.filter((b) => b !== 'shoal').join(', ')})`);
  const profile = flags.has('profile');
  const modes: Cli['modes'] = flags.has('both') ? ['pinned', 'unpinned'] : flags.has('unpinned') ? ['unpinned'] : ['pinned'];
  const clients = flags.has('clients') ? num('clients', 0, 1) : undefined;
  const dir = flags.get('results-dir');
  if (dir === true) throw new UsageError('--results-dir needs a directory');
  return {
    scenarios,
    brokers: ['shoal', ...(peers as BrokerName[])],
    rounds: num('rounds', profile ? 1 : 5, 1),
    modes,
    profile,
    portBase: num('port-base', 18830, 1024),
    resultsDir: dir === undefined ? join(ROOT, 'bench/results') : resolve(dir),
    params: {
      durationSec: num('duration', 5, 1),
      warmupSec: num('warmup', 1, 0),
      payloadBytes: 64,
      holdSec: num('hold', 20, 0),
      ...(clients !== undefined ? { clients } : {}),
    },
  };
}

function machine(): Record<string, string | number> {
  const model = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', 'src'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() !== '';
  return {
    cpu: model,
    cores: cpus().length,
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    shoalCommit: git + (dirty ? ' (src/ modified)' : ''),
    shoalEntry: shoalEntry().label,
    aedes: brokerVersion('aedes'),
    aedesLevel: brokerVersion('aedes-level'),
    mosquitto: brokerVersion('mosquitto'),
    taskset: hasTaskset() ? 'yes' : 'no',
  };
}

/** Spawns the load generator processes for one round and runs the scenario to completion. */
async function runLoadgen(s: ScenarioDef, broker: RunningBroker, params: BenchParams, tag: string, runId: string): Promise<{ metrics: Metrics; notes: string[]; samples: MarkSamples }> {
  const n = s.processes?.(params) ?? 1;
  // Core 1 exists only on 2+ CPUs; on one CPU the load generator shares core 0 (said at start).
  const pin = hasTaskset() && availableParallelism() > 1 ? ['taskset', '-c', '1'] : [];
  const argv = [...pin, process.execPath, '--import', 'tsx', join(ROOT, 'bench/loadgen/child.ts')];
  const children: ChildProcess[] = [];
  const samples: MarkSamples = { broker: {}, loadgenCpuUs: {} };
  const arrived = new Map<string, number>();
  const results: { metrics: Metrics; notes: string[] }[] = [];
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    let failed = false;
    const fail = (e: Error): void => {
      if (failed) return;
      failed = true;
      clearTimeout(watchdog);
      for (const c of children) c.kill('SIGKILL');
      reject(e);
    };
    const watchdog = setTimeout(() => fail(new Error(`round exceeded ${s.timeoutSec(params)} s`)), s.timeoutSec(params) * 1000);
    for (let index = 0; index < n; index++) {
      const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      child.on('message', (raw: unknown) => {
        const m = raw as FromLoadgen;
        if (m.t === 'progress') console.log(`  [${tag}${n > 1 ? ` lg${index}` : ''}] ${m.text}`);
        else if (m.t === 'error') fail(new Error(`load generator ${index}: ${m.message}`));
        else if (m.t === 'mark') {
          const k = (arrived.get(m.name) ?? 0) + 1;
          arrived.set(m.name, k);
          if (k === n) {
            // Every process reached the mark: sample now, then release them all.
            samples.broker[m.name] = broker.sample();
            samples.loadgenCpuUs[m.name] = children.reduce((a, c) => a + sampleProcess(c.pid!).cpuUs, 0);
            for (const c of children) c.send({ t: 'marked', name: m.name } satisfies ToLoadgen);
          }
        } else if (m.t === 'result') {
          results.push({ metrics: m.metrics, notes: m.notes });
          if (results.length === n) {
            clearTimeout(watchdog);
            const metrics: Metrics = {};
            // Several processes: counts and rates add up.
            for (const r of results) for (const [k, v] of Object.entries(r.metrics)) metrics[k] = (metrics[k] ?? 0) + v;
            if (n > 1) for (const k of Object.keys(metrics)) if (/Ms$/.test(k)) metrics[k] = metrics[k]! / n;
            resolve({ metrics, notes: results.flatMap((r) => r.notes), samples });
          }
        }
      });
      child.on('exit', (code) => {
        if (code !== 0 && results.length < n) fail(new Error(`load generator ${index} exited with ${code} after ${Math.round(performance.now() - startedAt)} ms`));
      });
      child.send({ t: 'run', scenario: s.name, params, port: broker.port, index, processes: n, runId } satisfies ToLoadgen);
    }
  });
}

function runnerMetrics(s: ScenarioDef, samples: MarkSamples, metrics: Metrics): Metrics {
  const out: Metrics = {};
  const span = s.cpuPerMessage ?? { from: 'start', to: 'end', countKey: '' };
  const a: BrokerSample | undefined = samples.broker[span.from];
  const b: BrokerSample | undefined = samples.broker[span.to];
  if (a && b) {
    const wallUs = (b.atMs - a.atMs) * 1000;
    const cpu = b.cpuUs - a.cpuUs;
    if (s.cpuPerMessage && (metrics[span.countKey] ?? 0) > 0) out.cpuUsPerMsg = cpu / metrics[span.countKey]!;
    out.brokerCores = cpu / wallUs;
    out.mainThreadShare = cpu > 0 ? (b.mainCpuUs - a.mainCpuUs) / cpu : Number.NaN;
    out.loadgenCores = (samples.loadgenCpuUs[span.to]! - samples.loadgenCpuUs[span.from]!) / wallUs;
    out.brokerThreads = b.threads;
    out.brokerRssMb = b.rssKb / 1024;
  }
  return out;
}

async function main(): Promise<void> {
  let cli: Cli | null;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    console.error(USAGE);
    process.exit(2);
  }
  if (!cli) {
    console.log(USAGE);
    return;
  }
  const brokers = cli.brokers.filter((b) => {
    const why = unavailable(b);
    if (why) console.warn(`skipping ${b}: ${why}`);
    return why === null;
  });
  const info = machine();
  console.log(`machine: ${info.cpu}, ${info.cores} cores, ${info.memGiB} GiB, Linux ${info.kernel}, Node ${info.node}; shoal ${info.shoalCommit} via ${info.shoalEntry}; aedes ${info.aedes}; aedes-level ${info.aedesLevel}; mosquitto ${info.mosquitto}`);
  if (!hasTaskset()) console.warn('taskset not found: nothing is pinned');
  else if (availableParallelism() < 2) console.warn('one CPU: the load generator and the broker share it, so no figure here compares with a 2-core run');
  const resultsDir = cli.resultsDir;
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  for (const mode of cli.modes) {
    for (const s of cli.scenarios) {
      const rounds: RoundResult[] = [];
      const profiles: ProfileSummary[] = [];
      const commands: Record<string, string> = {};
      console.log(`\n== ${s.name} (${mode}): ${s.summary}`);
      for (let r = 1; r <= cli.rounds; r++) {
        for (const [bi, b] of brokers.entries()) {
          const tag = `${b} r${r}`;
          const runId = `${Date.now().toString(36)}${bi}`;
          const profileDir = cli.profile && b === 'shoal' ? join(resultsDir, 'profiles', `${s.name}-${mode}-${stamp}-r${r}`) : undefined;
          let broker: RunningBroker | null = null;
          const t0 = performance.now();
          try {
            broker = await startBroker(b, { port: cli.portBase + bi, cpu: mode === 'pinned' ? 0 : null, ...(profileDir ? { profileDir } : {}), ...(s.broker ? { settings: s.broker } : {}), ...(s.shoalFlags ? { extraArgs: s.shoalFlags } : {}) });
            commands[b] = broker.command;
            const out = await runLoadgen(s, broker, cli.params, tag, runId);
            const metrics = { ...out.metrics, ...runnerMetrics(s, out.samples, out.metrics), ...(s.derive?.(out.samples, out.metrics, cli.params) ?? {}) };
            rounds.push({ broker: b, round: r, metrics, notes: out.notes });
            const head = s.metrics[0]!;
            for (const key of new Set(['loadgenCores', ...s.metrics.flatMap((m) => (m.loadgenKey ? [m.loadgenKey] : []))])) {
              const cores = metrics[key];
              if (cores !== undefined && cores >= LOADGEN_BOUND_CORES) out.notes.push(`load generator used ${cores.toFixed(2)} cores (${key}): it may be the bottleneck`);
            }
            console.log(`  [${tag}] ${head.label}: ${(metrics[head.key] ?? Number.NaN).toPrecision(4)} ${head.unit}` + (metrics.cpuUsPerMsg !== undefined ? `, ${metrics.cpuUsPerMsg.toFixed(2)} µs CPU/msg` : '') + ` (${((performance.now() - t0) / 1000).toFixed(1)} s)${out.notes.length ? ` — ${out.notes.join('; ')}` : ''}`);
          } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            rounds.push({ broker: b, round: r, metrics: {}, notes: [], error: msg });
            console.log(`  [${tag}] FAILED: ${msg}`);
          } finally {
            await broker?.stop();
          }
          if (profileDir) {
            for (const f of listProfiles(profileDir)) {
              const p = summariseProfile(f, ROOT);
              if (p.busyMs < 50) continue;
              profiles.push(p);
              console.log(`\nprofile ${formatProfile(p)}`);
            }
          }
        }
      }
      const med = medians(rounds, brokers);
      const table = formatTable(s, mode, med, brokers, cli.rounds);
      const targets = checkTargets(s, mode, med, cli.params.clients);
      console.log(`\n${table}`);
      if (targets.length) console.log(`\n${formatTargets(targets)}`);
      const file = join(resultsDir, `${s.name}-${mode}-${stamp}.json`);
      writeFileSync(file, JSON.stringify({ scenario: s.name, summary: s.summary, mode, date: new Date().toISOString(), machine: info, params: cli.params, rounds: cli.rounds, brokers, commands, medians: med, targets, results: rounds, profiles, profiled: cli.profile }, null, 2));
      console.log(`\nwrote ${file}`);
    }
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
