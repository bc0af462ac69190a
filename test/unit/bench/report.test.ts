// The bench's target checks: which targets a scenario is held to, and how a ratio decides them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTargets } from '../../../bench/report.js';
import { scenarioByName } from '../../../bench/scenarios/index.js';

for (const name of ['qos1-latency', 'qos1-latency-50k']) test(`QoS 1 latency at a fixed load (${name}) is held to Mosquitto’s p99`, () => {
  const s = scenarioByName(name);
  const better = checkTargets(s, 'pinned', { shoal: { latencyP99Ms: 0.5 }, mosquitto: { latencyP99Ms: 0.6 }, aedes: {} });
  const worse = checkTargets(s, 'pinned', { shoal: { latencyP99Ms: 0.7 }, mosquitto: { latencyP99Ms: 0.6 }, aedes: {} });
  const pick = (c: typeof better) => c.find((x) => x.target === 'QoS 1 p99 at a fixed load ≤ Mosquitto');
  assert.equal(pick(better)?.met, true);
  assert.equal(pick(worse)?.met, false);
  // Its delivered rate is a check of the pacing, not a throughput target.
  assert.equal(better.some((c) => c.target.includes('2× Aedes')), false);
});

test('idle connections are held to 19k and to 3 KB each', () => {
  const s = scenarioByName('idle');
  const checks = checkTargets(s, 'pinned', { shoal: { held: 19_000, memPerConnKb: 3.4 } });
  assert.equal(checks.find((c) => c.target.startsWith('19k'))?.met, true);
  assert.equal(checks.find((c) => c.target.startsWith('memory per idle connection'))?.met, false);
});
