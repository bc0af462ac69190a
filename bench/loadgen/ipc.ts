// Messages between the runner and a load generator process (over the Node IPC channel).
import type { BenchParams, Metrics } from '../scenarios/types.js';

export type ToLoadgen =
  | { t: 'run'; scenario: string; params: BenchParams; port: number; index: number; processes: number; runId: string }
  | { t: 'marked'; name: string };

export type FromLoadgen =
  | { t: 'progress'; text: string }
  | { t: 'mark'; name: string }
  | { t: 'result'; metrics: Metrics; notes: string[] }
  | { t: 'error'; message: string };
