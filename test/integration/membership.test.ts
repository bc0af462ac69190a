// SWIM membership with real UDP on 127.0.0.1, one child process per node (one event loop each, as
// in production; in one process the nodes' timers would distort each other's failure detection).
// Every wait is for a log line, with a timeout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_GOSSIP_TIMINGS, downDetectionBoundMs } from '../../src/cluster/membership.js';
import { freeUdpPorts, memberEvent, startMembershipProcess, type LogLine, type MembershipProcess } from '../helpers/membership-process.js';

const SECRET = 'integration-test-cluster-secret-0001';
/** tsx compiles the child on start; a loaded 2-core box can take several seconds. */
const START_MS = 30_000;
/** The bound for 3 nodes with the default timings (what the README documents), plus scheduling slack. */
const DOWN_BOUND_MS = downDetectionBoundMs(DEFAULT_GOSSIP_TIMINGS, 3);
const DOWN_WAIT_MS = DOWN_BOUND_MS + 2000;
/**
 * Only the re-sync period is shortened (default 10 s): it is how a node with the wrong secret hears
 * from the others. Failure detection runs with the default timings being measured.
 */
const TIMINGS = { rejoinIntervalMs: 1000 };

let ports: number[];
let seeds: string[];
const running: MembershipProcess[] = [];
const nodes = new Map<string, MembershipProcess>();

function start(name: string, port: number, secret: string | undefined = SECRET): MembershipProcess {
  const p = startMembershipProcess({ name, gossipPort: port, grpcAddress: `127.0.0.1:${17000 + ports.indexOf(port)}`, seeds, timings: TIMINGS }, secret);
  running.push(p);
  nodes.set(name, p);
  return p;
}

const started = (p: MembershipProcess): Promise<LogLine> => p.waitFor('child.started', (l) => l.event === 'child.started', START_MS);
const selfOf = (line: LogLine): { name: string; incarnation: number } => line.self as { name: string; incarnation: number };
const memberLines = (p: MembershipProcess, name: string): LogLine[] =>
  p.lines.filter((l) => l.event === 'child.member' && (l.info as { name: string }).name === name);

before(async () => {
  // Ports for a, b, c and the two misfits (wrong secret, duplicate name). Every node gets the same
  // seed list, itself included; the misfits' ports are in it too, as an operator might do.
  ports = await freeUdpPorts(5);
  seeds = ports.map((p) => `127.0.0.1:${p}`);
});

after(async () => {
  await Promise.all(running.map((p) => p.kill9()));
});

test('three nodes given the same seed list (themselves included) see each other up', async () => {
  const [a, b, c] = [start('a', ports[0]!), start('b', ports[1]!), start('c', ports[2]!)];
  const selves = await Promise.all([a, b, c].map(started));
  for (const p of [a, b, c]) {
    for (const self of selves.map(selfOf)) {
      if (self.name === p.spec.name) continue;
      const up = await p.waitFor(`up of ${self.name}`, memberEvent('up', self.name, self.incarnation), 10_000);
      assert.equal((up.info as { grpcAddress: string }).grpcAddress, `127.0.0.1:${17000 + ['a', 'b', 'c'].indexOf(self.name)}`);
    }
  }
});

test(`kill -9 of a node: the others emit down within ${DOWN_BOUND_MS} ms (default timings)`, async (t) => {
  const c = nodes.get('c')!;
  const killedAt = Date.now();
  await c.kill9();
  for (const name of ['a', 'b']) {
    const down = await nodes.get(name)!.waitFor('down of c', memberEvent('down', 'c'), DOWN_WAIT_MS);
    const tookMs = (down.at as number) - killedAt;
    t.diagnostic(`${name} saw c down after ${tookMs} ms`);
    assert.ok(tookMs <= DOWN_BOUND_MS, `${name} took ${tookMs} ms, documented bound ${DOWN_BOUND_MS} ms`);
  }
});

test('a restarted node comes back up with its new incarnation', async () => {
  const oldIncarnation = (memberLines(nodes.get('a')!, 'c')[0]!.info as { incarnation: number }).incarnation;
  const c = start('c', ports[2]!);
  const self = selfOf(await started(c));
  assert.ok(self.incarnation > oldIncarnation);
  for (const name of ['a', 'b']) {
    const p = nodes.get(name)!;
    await p.waitFor('up of the new c', memberEvent('up', 'c', self.incarnation), 10_000);
    await c.waitFor(`up of ${name}`, memberEvent('up', name), 10_000);
  }
});

test('a node with a wrong secret cannot join; both sides log why', async () => {
  const bad = start('intruder', ports[3]!, 'a-different-secret-of-some-length');
  await started(bad);
  const badAddress = `127.0.0.1:${ports[3]}`;
  const rejectedAtA = await nodes.get('a')!.waitFor(
    'rejection of the intruder',
    (l) => l.event === 'cluster.gossip.rejected' && l.from === badAddress,
    10_000,
  );
  assert.match(String(rejectedAtA.msg), /authenticate.*check --cluster-secret/);
  // The others' re-sync reaches the intruder, which cannot open it either.
  const rejectedAtBad = await bad.waitFor('rejection at the intruder', (l) => l.event === 'cluster.gossip.rejected', 10_000);
  assert.match(String(rejectedAtBad.msg), /check --cluster-secret/);
  await bad.waitFor('seeds unreachable', (l) => l.event === 'cluster.gossip.seeds_unreachable', 10_000);
  assert.equal(bad.lines.filter((l) => l.event === 'child.member').length, 0, 'the intruder learned no member');
  for (const name of ['a', 'b', 'c']) assert.deepEqual(memberLines(nodes.get(name)!, 'intruder'), [], `${name} never saw the intruder`);
  await bad.kill9();
});

test('a second live node with an existing name is refused and says which node holds it', async () => {
  const a = nodes.get('a')!;
  const b = nodes.get('b')!;
  const aSelf = selfOf(a.lines.find((l) => l.event === 'child.started')!);
  const before = { a: memberLines(a, 'a').length, b: memberLines(b, 'a').length };
  const dup = start('a', ports[4]!);
  const failed = await dup.waitFor('refusal', (l) => l.event === 'child.start_failed', 30_000);
  assert.equal(failed.code, 'CLUSTER_DUPLICATE_NODE_NAME');
  assert.match(String(failed.msg), new RegExp(`"a" is already used by the live node at gossip address 127\\.0\\.0\\.1:${ports[0]}`));
  assert.equal((await dup.exited).code, 1);
  // The holder keeps its identity: the others never switched "a" to the newcomer.
  await b.waitFor('duplicate ignored', (l) => l.event === 'cluster.gossip.duplicate_name.ignored' && l.host === `127.0.0.1:${ports[4]}`, 5000);
  await a.waitFor('newcomer noticed', (l) => l.event === 'cluster.gossip.duplicate_name.newcomer', 5000);
  assert.equal(memberLines(a, 'a').length, before.a);
  assert.deepEqual(memberLines(b, 'a').slice(before.b), [], 'b emitted nothing about "a"');
  const aAtB = memberLines(b, 'a').at(-1)!;
  assert.equal(aAtB.kind, 'up');
  assert.equal((aAtB.info as { incarnation: number }).incarnation, aSelf.incarnation);
});
