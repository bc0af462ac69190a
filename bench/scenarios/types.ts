// What a scenario is: metadata the runner reports on, a `run` executed inside the load generator
// process(es), and optional metrics derived in the runner from broker samples (CPU, RSS) taken at
// the scenario's named marks.

export interface BenchParams {
  durationSec: number;
  warmupSec: number;
  payloadBytes: number;
  /** Overrides the scenario's client count (connect, idle). */
  clients?: number;
  /** Seconds the idle scenario holds its connections. */
  holdSec: number;
}

export interface MetricSpec {
  key: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Throughput metrics are held to the "≥ 2× Aedes" target. */
  throughput?: boolean;
  /**
   * The metric with the load generator's CPU use (cores) over this metric's window. At or above
   * LOADGEN_BOUND_CORES the load generator may have set the rate, so the figure is a lower bound
   * and a target check that it decides is reported as inconclusive (bench/report.ts).
   */
  loadgenKey?: string;
}

/** Load generator CPU use (of its one core) from which it may be what limits a rate. */
export const LOADGEN_BOUND_CORES = 0.9;

/** Resource use of a broker (all threads) at one instant. */
export interface BrokerSample {
  atMs: number;
  /** utime + stime of the whole process, µs (/proc/PID/stat, 1/CLK_TCK resolution). */
  cpuUs: number;
  /** Same for the main thread only (/proc/PID/task/PID/stat). */
  mainCpuUs: number;
  rssKb: number;
  threads: number;
}

export interface MarkSamples {
  broker: Record<string, BrokerSample>;
  /** CPU of the load generator processes, summed, µs. */
  loadgenCpuUs: Record<string, number>;
}

export interface LoadgenContext {
  port: number;
  params: BenchParams;
  /** This process's index among `processes` load generator processes. */
  index: number;
  processes: number;
  /** A barrier across all load generator processes; the runner samples the broker when all reach it. */
  mark(name: string): Promise<void>;
  progress(text: string): void;
  /** Unique per run, so client ids of consecutive rounds never collide. */
  runId: string;
}

export type Metrics = Record<string, number>;

/** Broker settings a scenario needs, applied to Shoal and to the peers that have them. */
export interface BrokerSettings {
  /**
   * Messages queued per session before new ones are dropped, 0 = unlimited: Shoal's
   * `--max-queued-messages`, Mosquitto's `max_queued_messages`. Aedes has no such limit.
   */
  maxQueuedMessages?: number;
}

export interface ScenarioDef {
  name: string;
  summary: string;
  metrics: MetricSpec[];
  broker?: BrokerSettings;
  processes?(p: BenchParams): number;
  /** Flags Shoal is started with for this scenario (e.g. a limit the peers do not have). */
  shoalFlags?: readonly string[];
  /** Upper bound on one round, for the runner's watchdog. */
  timeoutSec(p: BenchParams): number;
  run(ctx: LoadgenContext): Promise<{ metrics: Metrics; notes?: string[] }>;
  /** Broker CPU per message: between two marks, divided by a metric that counts messages. */
  cpuPerMessage?: { from: string; to: string; countKey: string };
  derive?(samples: MarkSamples, metrics: Metrics, p: BenchParams): Metrics;
}
