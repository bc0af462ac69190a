// The registry of scenarios, in the order `all` runs them.
import { backlogDrainScenario, qos1Queue0, qos1Queue1000 } from './backlog.js';
import { connect, idle } from './connections.js';
import { latency } from './latency.js';
import { persistent, retained } from './storage.js';
import { subscribeCost } from './subscriptions.js';
import { fanIn, fanOut, manyTopics, qos1, qos1Latency, qos1LatencyHigh, qos1Persistent, qos2, shared } from './throughput.js';
import type { ScenarioDef } from './types.js';

export const SCENARIOS: readonly ScenarioDef[] = [fanIn, fanOut, qos1, qos1Persistent, qos2, qos1Latency, qos1LatencyHigh, latency, connect, idle, persistent, retained, shared, manyTopics, backlogDrainScenario, qos1Queue1000, qos1Queue0, subscribeCost];

export class UnknownScenarioError extends Error {
  constructor(readonly scenario: string) {
    super(`unknown scenario "${scenario}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    this.name = 'UnknownScenarioError';
  }
}

export function scenarioByName(name: string): ScenarioDef {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new UnknownScenarioError(name);
  return s;
}
