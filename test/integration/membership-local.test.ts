// SwimMembership behaviours that do not depend on failure-detection timing, with real UDP on
// loopback, several instances in this process (timing-sensitive cases run in child processes:
// membership.test.ts). Every wait is for an event or log line, with a timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { SwimMembership, type GossipTimings, type SwimMembershipOptions } from '../../src/cluster/membership.js';
import { GossipBindError, MemberRecordTooLargeError } from '../../src/cluster/membership-errors.js';
import { GossipSeal } from '../../src/cluster/gossip-seal.js';
import { toMeta } from '../../src/cluster/member-record.js';
import type { MemberInfo, MembershipEvents } from '../../src/cluster/types.js';
import { freeUdpPorts } from '../helpers/membership-process.js';

const SECRET = 'local-test-cluster-secret-000001';
const WAIT_MS = 10_000;

interface Node {
  m: SwimMembership;
  logs: Record<string, unknown>[];
  /** The first log line (past or future) matching `match`. */
  logged(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

const open: SwimMembership[] = [];
test.afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});

let incarnation = Date.now();

function node(name: string, port: number, over: Partial<SwimMembershipOptions> & { timings?: Partial<GossipTimings> } = {}): Node {
  const logs: Record<string, unknown>[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const text of chunk.toString().split('\n')) {
        if (!text) continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        logs.push(line);
        for (const w of waiters.splice(0)) if (w.match(line)) w.resolve(line); else waiters.push(w);
      }
      cb();
    },
  });
  const m = new SwimMembership({
    nodeName: name,
    incarnation: ++incarnation,
    grpcAddress: `127.0.0.1:${port + 1}`,
    gossip: { host: '127.0.0.1', port },
    advertiseHost: '127.0.0.1',
    secret: SECRET,
    logger: createLogger('info', { destination: sink }),
    ...over,
  });
  open.push(m);
  return {
    m,
    logs,
    logged(match) {
      const seen = logs.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no matching log line in ${WAIT_MS} ms: ${JSON.stringify(logs.slice(-5))}`)), WAIT_MS);
        waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
  };
}

async function next<E extends keyof MembershipEvents>(m: SwimMembership, event: E, name: string): Promise<MemberInfo> {
  const signal = AbortSignal.timeout(WAIT_MS);
  for (;;) {
    const [info] = (await once(m, event, { signal })) as [MemberInfo];
    if (info.name === name) return info;
  }
}

function bindUdp(host: string, port: number): Promise<Socket> {
  const s = createSocket('udp4');
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind({ address: host, port, exclusive: true }, () => resolve(s));
  });
}
const closeUdp = (s: Socket): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

/** Nodes a and b on free ports, both given both addresses as seeds, started and joined. */
async function joinedPair(aOver: Parameters<typeof node>[2] = {}): Promise<{ a: Node; b: Node; pb: number; seeds: string[] }> {
  const [pa, pb] = await freeUdpPorts(2);
  const seeds = [`127.0.0.1:${pa}`, `127.0.0.1:${pb}`];
  const a = node('a', pa!, aOver);
  const b = node('b', pb);
  const up = next(a.m, 'up', 'b');
  await Promise.all([a.m.start(seeds), b.m.start(seeds)]);
  await up;
  return { a, b, pb: pb!, seeds };
}

test('a taken gossip port is a GossipBindError naming the address', async () => {
  const [port] = await freeUdpPorts(1);
  const holder = await bindUdp('127.0.0.1', port!);
  try {
    const a = node('a', port!);
    await assert.rejects(a.m.start([]), (err: unknown) => {
      assert.ok(err instanceof GossipBindError);
      assert.match(err.message, new RegExp(`cannot bind the gossip UDP socket to 127\\.0\\.0\\.1:${port}: EADDRINUSE; pick a free address with --gossip`));
      return true;
    });
  } finally {
    await closeUdp(holder);
  }
});

test('the socket binds the configured host only, and close() releases it', async () => {
  const [port] = await freeUdpPorts(1);
  const a = node('a', port!);
  await a.m.start([]);
  assert.equal(a.m.gossipAddress, `127.0.0.1:${port}`);
  // Bound to 127.0.0.1 alone, the same port is still free on another loopback address
  // (swim itself would have bound 0.0.0.0, and this bind would fail with EADDRINUSE).
  await closeUdp(await bindUdp('127.0.0.2', port!));
  await a.m.close();
  await closeUdp(await bindUdp('127.0.0.1', port!));
});

test('a gossip record over the datagram budget refuses to start and frees the port', async () => {
  const [port] = await freeUdpPorts(1);
  const a = node('n'.repeat(200), port!);
  await assert.rejects(a.m.start([]), (err: unknown) => {
    assert.ok(err instanceof MemberRecordTooLargeError);
    assert.ok(err.bytes > err.limit);
    assert.match(err.message, /shorten --node-name/);
    return true;
  });
  await closeUdp(await bindUdp('127.0.0.1', port!));
});

test('a node whose seeds are unreachable starts alone, logs progress and joins once a seed appears', async () => {
  const [pa, pb] = await freeUdpPorts(2);
  const fast = { seedRetryMs: 100, joinTimeoutMs: 200 };
  const a = node('a', pa!, { timings: fast });
  await a.m.start([`127.0.0.1:${pa}`, `127.0.0.1:${pb}`]);
  assert.deepEqual(a.m.members(), []);
  const unreachable = await a.logged((l) => l.event === 'cluster.gossip.seeds_unreachable');
  assert.deepEqual(unreachable.seeds, [`127.0.0.1:${pb}`], 'its own address is not a seed to itself');
  // b starts with no seeds at all: only a's retries can bring them together.
  const b = node('b', pb);
  const aSeesB = next(a.m, 'up', 'b');
  const bSeesA = next(b.m, 'up', 'a');
  await b.m.start([]);
  assert.equal((await aSeesB).incarnation, b.m.self.incarnation);
  assert.deepEqual(await bSeesA, a.m.self);
  await a.logged((l) => l.event === 'cluster.gossip.joined');
  assert.deepEqual(b.m.members(), [{ info: a.m.self, state: 'alive' }]);
});

test('a node restarted at the same address before its death was noticed is "updated" to the new incarnation', async () => {
  const { a, b, pb, seeds } = await joinedPair();
  let downs = 0;
  a.m.on('down', () => downs++);
  await b.m.close(); // silent, like a crash
  const b2 = node('b', pb);
  const updated = next(a.m, 'updated', 'b');
  await b2.m.start(seeds);
  const info = await updated;
  assert.equal(info.incarnation, b2.m.self.incarnation);
  assert.ok(info.incarnation > b.m.self.incarnation);
  assert.equal(downs, 0);
  assert.deepEqual(a.m.members(), [{ info: b2.m.self, state: 'alive' }]);
});

test('an address restarted under another name: the old name goes down, the new one comes up', async () => {
  const { a, b, pb, seeds } = await joinedPair();
  await b.m.close();
  const c = node('c', pb);
  const bDown = next(a.m, 'down', 'b');
  const cUp = next(a.m, 'up', 'c');
  await c.m.start(seeds);
  assert.deepEqual(await bDown, b.m.self);
  assert.deepEqual(await cUp, c.m.self);
  assert.deepEqual(a.m.members(), [{ info: c.m.self, state: 'alive' }]);
});

test('down members are re-synced: a node back at a dead address rejoins with no seeds on either side', async () => {
  const [pa, pb] = await freeUdpPorts(2);
  // Fast detection so the test does not wait seconds; nothing here asserts a duration.
  const quick = { intervalMs: 50, pingTimeoutMs: 20, pingReqTimeoutMs: 60, suspectTimeoutMs: 150, joinTimeoutMs: 100, rejoinIntervalMs: 100, seedRetryMs: 100 };
  const a = node('a', pa!, { timings: quick });
  const b = node('b', pb!, { timings: quick });
  const up = next(a.m, 'up', 'b');
  await a.m.start([]);
  await b.m.start([`127.0.0.1:${pa}`]);
  await up;
  const down = next(a.m, 'down', 'b');
  await b.m.close();
  await down;
  // b2 knows no one (like the far side of a healed partition): only a's re-sync of its down
  // member can reach it.
  const b2 = node('b', pb!, { timings: quick });
  const back = next(a.m, 'up', 'b');
  await b2.m.start([]);
  assert.equal((await back).incarnation, b2.m.self.incarnation);
  assert.deepEqual(b2.m.members(), [{ info: a.m.self, state: 'alive' }]);
});

test('leave() tells the others, who emit down at once instead of detecting a failure', async () => {
  // With a one-minute suspicion, a 'down' within the wait can only come from the announcement.
  const { a, b, pb } = await joinedPair({ timings: { suspectTimeoutMs: 60_000 } });
  const down = next(a.m, 'down', 'b');
  await b.m.leave();
  assert.deepEqual(await down, b.m.self);
  assert.deepEqual(a.m.members(), [{ info: b.m.self, state: 'down' }]);
  await closeUdp(await bindUdp('127.0.0.1', pb));
});

test('a node without a secret and one with a secret refuse each other, each saying why', async () => {
  const [pa, pb] = await freeUdpPorts(2);
  const seeds = [`127.0.0.1:${pa}`, `127.0.0.1:${pb}`];
  const a = node('a', pa!, { secret: undefined, timings: { seedRetryMs: 100, joinTimeoutMs: 200 } });
  const b = node('b', pb!, { timings: { seedRetryMs: 100, joinTimeoutMs: 200 } });
  await Promise.all([a.m.start(seeds), b.m.start(seeds)]);
  const atA = await a.logged((l) => l.event === 'cluster.gossip.rejected');
  const atB = await b.logged((l) => l.event === 'cluster.gossip.rejected');
  assert.equal(atA.reason, 'sealed-but-no-secret');
  assert.equal(atB.reason, 'plain-but-secret-required');
  assert.equal(atB.from, `127.0.0.1:${pa}`);
  assert.match(String(atB.msg), /from 127\.0\.0\.1:\d+: the sender has no cluster secret but this node has one; check --cluster-secret/);
  assert.deepEqual(a.m.members(), []);
  assert.deepEqual(b.m.members(), []);
});

test('a stale "down" verdict about a member heard from moments ago is checked as a suspicion, refuted, and never emitted', async () => {
  // What gossip from the far side of a healed partition carries: a faulty record about b at b's
  // current incarnation, from a third address, while a hears from b all the time.
  const { a, b, pb } = await joinedPair();
  let downs = 0;
  a.m.on('down', () => downs++);
  const [px] = await freeUdpPorts(1);
  const stranger = await bindUdp('127.0.0.1', px!);
  const SWIM_UPDATE = 14;
  const record = { meta: toMeta(b.m.self), host: `127.0.0.1:${pb}`, state: 2, incarnation: b.m.self.incarnation };
  const datagram = new GossipSeal(SECRET).seal(Buffer.concat([Buffer.from([SWIM_UPDATE]), Buffer.from(JSON.stringify(record))]));
  const refutedUp = next(a.m, 'up', 'b');
  stranger.send(datagram, a.m.gossipAddress.split(':').map(Number)[1]!, '127.0.0.1');
  const doubted = await a.logged((l) => l.event === 'cluster.gossip.verdict_doubted');
  assert.equal(doubted.name, 'b');
  await refutedUp;
  await b.logged((l) => l.event === 'cluster.gossip.refuted');
  assert.equal(downs, 0);
  assert.deepEqual(a.m.members(), [{ info: b.m.self, state: 'alive' }]);
  await closeUdp(stranger);
});
