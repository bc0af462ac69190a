// Turns per-round results into medians, Shoal/peer ratios and target checks, printed as a
// Markdown table (pasteable into the README) and kept for the JSON result file.
import type { BrokerName } from './brokers.js';
import { LOADGEN_BOUND_CORES, type MetricSpec, type Metrics, type ScenarioDef } from './scenarios/types.js';
import { median, ratio } from './stats.js';

export interface RoundResult {
  broker: BrokerName;
  round: number;
  metrics: Metrics;
  notes: string[];
  error?: string;
}

/** Metrics every scenario gets from the runner's samples. */
export const RUNNER_METRICS: MetricSpec[] = [
  { key: 'cpuUsPerMsg', label: 'broker CPU per message (all threads)', unit: 'µs', better: 'lower' },
  { key: 'brokerCores', label: 'broker CPU use', unit: 'cores', better: 'lower' },
  { key: 'loadgenCores', label: 'load generator CPU use', unit: 'cores', better: 'lower' },
];

export function medians(results: RoundResult[], brokers: readonly BrokerName[]): Record<string, Metrics> {
  const out: Record<string, Metrics> = {};
  for (const b of brokers) {
    const mine = results.filter((r) => r.broker === b && !r.error);
    const keys = new Set(mine.flatMap((r) => Object.keys(r.metrics)));
    const m: Metrics = {};
    for (const k of keys) m[k] = median(mine.map((r) => r.metrics[k] ?? Number.NaN));
    out[b] = m;
  }
  return out;
}

function fmt(v: number | undefined, unit = ''): string {
  if (v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return '∞';
  const a = Math.abs(v);
  const s = a >= 1000 ? Math.round(v).toLocaleString('en-US') : a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
  return unit ? `${s}` : s;
}

export function metricSpecs(s: ScenarioDef): MetricSpec[] {
  return [...s.metrics, ...(s.cpuPerMessage ? RUNNER_METRICS : RUNNER_METRICS.slice(1, 2))];
}

export function formatTable(s: ScenarioDef, mode: string, med: Record<string, Metrics>, brokers: readonly BrokerName[], rounds: number): string {
  const peers = brokers.filter((b) => b !== 'shoal');
  const head = ['metric', 'unit', ...brokers, ...peers.map((p) => `Shoal/${p}`)];
  const lines = [
    `### ${s.name} (${mode}, median of ${rounds})`,
    '',
    s.summary,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`,
  ];
  for (const m of metricSpecs(s)) {
    const vals = brokers.map((b) => med[b]?.[m.key]);
    if (vals.every((v) => v === undefined)) continue;
    const ratios = peers.map((p) => {
      if (m.better === 'higher' && med[p]?.[m.key] === 0) return 'n/a';
      // A count that is zero for Shoal (nothing lost) has no meaningful ratio.
      if (m.better === 'lower' && med.shoal?.[m.key] === 0) return '—';
      const r = ratio(med.shoal?.[m.key] ?? Number.NaN, med[p]?.[m.key] ?? Number.NaN, m.better);
      return Number.isNaN(r) ? '—' : `${r.toFixed(2)}×`;
    });
    lines.push(`| ${m.label} | ${m.unit} | ${vals.map((v) => fmt(v)).join(' | ')} | ${ratios.join(' | ')} |`);
  }
  lines.push('', 'Ratios: > 1 means Shoal is better (throughput Shoal/peer; latency, memory and CPU peer/Shoal); n/a: the peer delivered nothing.');
  return lines.join('\n');
}

export interface TargetCheck {
  target: string;
  met: boolean | null;
  detail: string;
  /** Not one of the targets: the same bar against another peer, printed for comparison. */
  reference?: true;
}

/** Scenarios whose Shoal side is the SQLite path, where a peer that also writes to disk compares like for like. */
const DURABLE_PEER_SCENARIOS = ['persistent', 'retained', 'qos1-persistent'];

/**
 * The targets that this scenario's medians speak to. `clients` is the run's --clients, if
 * given: a run of fewer than 19,000 idle clients cannot speak to the 19k target.
 */
export function checkTargets(s: ScenarioDef, mode: string, med: Record<string, Metrics>, clients?: number): TargetCheck[] {
  const out: TargetCheck[] = [];
  const shoal = med.shoal ?? {};
  const pinned = mode === 'pinned';
  const cmp = (target: string, key: string, peer: string, min: number, better: 'higher' | 'lower', loadgenKey?: string): void => {
    if (better === 'higher' && med[peer]?.[key] === 0) {
      out.push({ target, met: null, detail: `${peer} delivered nothing: feature unsupported` });
      return;
    }
    const r = ratio(shoal[key] ?? Number.NaN, med[peer]?.[key] ?? Number.NaN, better);
    if (Number.isNaN(r)) {
      out.push({ target, met: null, detail: `${peer} not measured` });
      return;
    }
    const met = r >= min;
    // A rate the load generator held is a lower bound: it cannot show Shoal short of a peer, nor
    // a peer short of Shoal. Only the side whose figure decides the check matters.
    const bound = loadgenKey === undefined ? undefined : met ? { who: peer, cores: med[peer]?.[loadgenKey] } : { who: 'Shoal', cores: shoal[loadgenKey] };
    if (bound?.cores !== undefined && bound.cores >= LOADGEN_BOUND_CORES) {
      out.push({ target, met: null, detail: `${r.toFixed(2)}×, inconclusive: the load generator used ${bound.cores.toFixed(2)} cores in ${bound.who}'s run, so ${bound.who}'s rate is a lower bound` });
      return;
    }
    out.push({ target, met, detail: `${r.toFixed(2)}×` });
  };
  for (const m of s.metrics.filter((x) => x.throughput)) {
    cmp(`${m.label}: Shoal ≥ 2× Aedes`, m.key, 'aedes', 2, 'higher', m.loadgenKey);
    if (DURABLE_PEER_SCENARIOS.includes(s.name) && med['aedes-level'] !== undefined) {
      cmp(`${m.label}: Shoal ≥ 2× Aedes with LevelDB`, m.key, 'aedes-level', 2, 'higher', m.loadgenKey);
      out[out.length - 1]!.reference = true;
    }
    if (pinned && ['fan-in', 'fan-out', 'qos1'].includes(s.name)) cmp(`${m.label}: Shoal ≥ 1× Mosquitto, one core`, m.key, 'mosquitto', 1, 'higher', m.loadgenKey);
  }
  if (s.name === 'qos1') cmp('QoS 1 p99 under load ≤ Mosquitto', 'latencyP99Ms', 'mosquitto', 1, 'lower');
  if (s.name === 'qos1-latency' || s.name === 'qos1-latency-50k') cmp('QoS 1 p99 at a fixed load ≤ Mosquitto', 'latencyP99Ms', 'mosquitto', 1, 'lower');
  // Memory per idle connection is the idle scenario's: `connect` reads RSS 3 s after its burst,
  // before V8 has shrunk its young generation, so its figure is not an idle one.
  if (s.name === 'connect') {
    for (const m of s.metrics.filter((x) => x.throughput)) cmp(`${m.label} ≥ Mosquitto`, m.key, 'mosquitto', 1, 'higher', m.loadgenKey);
  }
  if (s.name === 'idle') {
    const held = shoal.held;
    const asked = clients ?? 19_000;
    if (asked < 19_000) out.push({ target: '19k idle connections held on one node', met: null, detail: `this run asked for ${fmt(asked)} clients` });
    else out.push({ target: '19k idle connections held on one node', met: held === undefined || Number.isNaN(held) ? null : held >= 19_000, detail: `${fmt(held)} held` });
    const kb = shoal.memPerConnKb;
    out.push({ target: 'memory per idle connection ≤ 3 KB', met: kb === undefined || Number.isNaN(kb) ? null : kb <= 3, detail: `${fmt(kb)} KB` });
  }
  return out;
}

export function formatTargets(checks: TargetCheck[]): string {
  return checks.map((c) => `- ${c.reference ? 'reference, not a target: ' : ''}${c.met === null ? '?' : c.met ? 'met' : 'NOT met'}: ${c.target} (${c.detail})`).join('\n');
}
