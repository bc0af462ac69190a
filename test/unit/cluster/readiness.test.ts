import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterReadiness, type ReadinessInput } from '../../../src/cluster/readiness.js';
import type { OriginDigest } from '../../../src/cluster/peer-messages.js';

const digest = (origin: string, incarnation: number, lastSeq: number): OriginDigest => ({ origin, incarnation, lastSeq, count: 1, hash: '0' });

function input(over: Partial<ReadinessInput>): ReadinessInput {
  return { soleSeed: false, joinedBefore: false, members: [], streamsUp: new Set(), digestsFrom: new Map(), held: () => null, ...over };
}

test('alone with silent seeds: not joined; a sole seed or an earlier join counts as joined', () => {
  assert.deepEqual(clusterReadiness(input({})), { joined: false, routesSynced: false, waitingFor: ['another cluster member: no seed has answered yet'] });
  assert.equal(clusterReadiness(input({ soleSeed: true })).routesSynced, true);
  assert.equal(clusterReadiness(input({ joinedBefore: true, members: [{ name: 'b', incarnation: 1, state: 'down' }] })).joined, true);
});

test('each alive peer needs its streams up, its digests received and its own routes held at its sequence', () => {
  const b = { name: 'b', incarnation: 5, state: 'alive' as const };
  const c = { name: 'c', incarnation: 7, state: 'suspect' as const };
  assert.deepEqual(clusterReadiness(input({ members: [b, c] })).waitingFor, ['gRPC streams to b']);
  const up = new Set(['b']);
  assert.deepEqual(clusterReadiness(input({ members: [b], streamsUp: up })).waitingFor, ['route digests from b']);
  const digestsFrom = new Map([['b', [digest('b', 5, 9), digest('a', 1, 3)]]]);
  const behind = clusterReadiness(input({ members: [b], streamsUp: up, digestsFrom, held: () => ({ incarnation: 5, lastSeq: 8 }) }));
  assert.equal(behind.routesSynced, false);
  assert.deepEqual(behind.waitingFor, ['routes of b (have seq 8, it has 9)']);
  const older = clusterReadiness(input({ members: [b], streamsUp: up, digestsFrom, held: () => ({ incarnation: 4, lastSeq: 20 }) }));
  assert.equal(older.routesSynced, false);
  const synced = clusterReadiness(input({ members: [b], streamsUp: up, digestsFrom, held: () => ({ incarnation: 5, lastSeq: 9 }) }));
  assert.deepEqual(synced, { joined: true, routesSynced: true, waitingFor: [] });
  // A peer with no routes lists no slice of its own: nothing to copy.
  const empty = clusterReadiness(input({ members: [b], streamsUp: up, digestsFrom: new Map([['b', [digest('a', 1, 3)]]]) }));
  assert.equal(empty.routesSynced, true);
});
