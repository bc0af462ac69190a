// Model-based test of sessions across a cluster (issue 17): fast-check `fc.commands` drives the
// seeded session simulator (test/helpers/cluster-session-sim.ts), where every node runs the REAL
// Shard with its session actors and the REAL TakeoverService (claims, holder, registry and its
// re-registration) over a network that delays, reorders and duplicates (and, in some properties,
// loses and partitions), with lagging membership views. Setup: each persistent client connects
// and subscribes on a random node. Commands: a client connects or reconnects to a random node
// (persistent, now and then with Clean Start; or a clean client), disconnects, subscribes at QoS
// 1 or 2; a publisher on a random node publishes at QoS 1 or 2; time passes; and, per property,
// a node crashes and restarts with its committed state, the network splits and heals, a node
// leaves gracefully (its sessions pushed through the Adopt path) and restarts.
// After the commands: the faults stop, down nodes come back, quiet rounds pass (more than the
// registry's grace), every persistent client connects (retrying on refusal) and stays connected,
// more quiet rounds. Then:
// 1. no client id has two sessions with a connection (across all nodes);
// 2. a persistent client has exactly one session, the one its connection is attached to;
// 3. every publication acknowledged to its publisher (all nodes it was forwarded to committed it)
//    of which a copy entered a persistent subscriber's session reached the subscriber at least
//    once, unless that session ended since by the client's Clean Start or an eviction;
// 4. no shard failed, and no shard reported copies arriving for a session it no longer holds.
// The first property (no restarts, partitions, leaves or lost takeover messages) must hold; the
// others are `todo` properties for the gaps in KNOWN_GAPS: they run and print a failing seed
// without failing the suite. Stricter: exactly once for QoS 2, and every publication routed to a
// node holding the subscribed session (not only those that entered it).
// NOT covered (see the simulator's header): route replication lag (routes are exact), the
// forwarder's ack timeout, publishers' own sessions, wills, session expiry, shared subscriptions.
// SHOAL_SEED replays a run; SHOAL_RUNS sets how many; a failure prints the simulation's last steps.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { QoS } from '../../src/protocol/message.js';
import { REGISTRY_GRACE_MS } from '../../src/cluster/takeover-service.js';
import { ROUND_MS, SessionSim, SIM_TIMINGS } from '../helpers/cluster-session-sim.js';
import { propertyParams } from './harness.js';

const MAX_NODES = 4;
const CLIENTS = [
  { id: 'p0', persistent: true },
  { id: 'p1', persistent: true },
  { id: 'c0', persistent: false },
] as const;
/** Rounds after the faults stop for takeovers and registries to settle: above the takeover
 * timings and the registry's grace for a member list lost in a partition (REGISTRY_GRACE_MS). */
const QUIET_ROUNDS = Math.ceil((REGISTRY_GRACE_MS + SIM_TIMINGS.holdMs + SIM_TIMINGS.leaseMs) / ROUND_MS);
/** Rounds a CONNECT may take after the faults stopped. */
const CONNECT_ROUNDS = 40;
const SETUP_ROUNDS = 8;
const CONNECT_ATTEMPTS = 12;
/** Runs without SHOAL_RUNS: a CI-sized run of a few seconds. */
const DEFAULT_RUNS = 100;
/** The known gaps' properties (todo) need few runs to print a failing seed. */
const TODO_RUNS = 20;

type Model = Record<string, never>;

/**
 * What the model finds and the cluster does not yet do (issue 17), run as `todo` tests so each
 * failing seed is printed without failing the suite. Most come from the window in which the old
 * and the new node both hold routes for a moving session (B's routes exist before A drops its own).
 */
const KNOWN_GAPS = {
  exactlyOnce:
    'a publication routed to both the old node (queued in the exported session, handed over as arrived) and the new node (straight into the installed copy) ' +
    'enters the moved session twice, as two copies with two packet ids: a QoS 2 message reaches the application twice',
  routed:
    'a publication the old node routed to the session just before its handover, or that reaches the old node just after it (the publisher did not yet route to the new node), ' +
    'is acknowledged to its publisher and lost: the old node drops it as the session is gone',
  ownerMove:
    'copies that reached the new node\'s installed (not yet accepted) copy are dropped with it when the old node answers aborted (it restarted and forgot the ' +
    'takeover, or gave up waiting): acknowledged to their publisher and lost. Also still open: a restart moving ownership while a claim lock is held at the ' +
    'old owner (the new owner grants a second claim; the later registration now wins, ending the other copy and what it queued)',
  partition:
    'after a partition heals, one client id can keep a live session on each side (a CONNECT on the side that saw the holder down made a new one); ' +
    'the registrations after the heal do not always end the older copy (not yet diagnosed; the printed seed replays it)',
  leave:
    'as ownerMove: a node that leaves and returns before the new node\'s end arrives answers aborted, and the installed copy is dropped with the copies that reached it',
};

/** One command: an action on the simulator, then one round. */
class Cmd implements fc.AsyncCommand<Model, SessionSim> {
  constructor(
    private readonly label: string,
    private readonly action: (sim: SessionSim) => void | Promise<void>,
  ) {}
  check(): boolean {
    return true;
  }
  async run(_m: Model, sim: SessionSim): Promise<void> {
    await this.action(sim);
    await sim.step();
  }
  toString(): string {
    return this.label;
  }
}

/** fc.commands picks uniformly among its arbitraries: weights by repetition, in the order of
 * commandsFor: connect, subscribe, disconnect, publish, restart, partition, heal, wait, leave. */
const WEIGHTS = [6, 3, 2, 8, 1, 1, 1, 3, 1];
const RESTART = 4;
const PARTITION = 5;
const HEAL = 6;
const LEAVE = 8;

const clientId = fc.constantFrom(...CLIENTS.map((c) => c.id));
const qos = fc.constantFrom<QoS>(1, 2);

/** The commands for a cluster of `nodes` nodes. */
function commandsFor(nodes: number, { leave, partitions, restarts }: Strictness): fc.Arbitrary<Cmd>[] {
  const node = fc.nat(nodes - 1);
  const commands = [
    fc.record({ c: clientId, n: node, fresh: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) }).map(
      ({ c, n, fresh }) =>
        new Cmd(`connect(${c}, n${n}${fresh ? ', clean start' : ''})`, (sim) => {
          const persistent = sim.client(c).persistent;
          sim.connect(c, n, !persistent || fresh);
        }),
    ),
    fc.record({ c: clientId, q: qos }).map(({ c, q }) => new Cmd(`subscribe(${c}, qos ${q})`, (sim) => sim.subscribe(c, q))),
    clientId.map((c) => new Cmd(`disconnect(${c})`, (sim) => sim.disconnect(c))),
    fc.record({ n: node, q: qos }).map(({ n, q }) => new Cmd(`publish(n${n}, qos ${q})`, (sim) => sim.publish(n, q))),
    fc.record({ n: node, down: fc.integer({ min: 0, max: 20 }) }).map(({ n, down }) => new Cmd(`restart(n${n}, down ${down} rounds)`, (sim) => sim.restart(n, down))),
    fc.array(fc.nat(1), { minLength: nodes, maxLength: nodes }).map((sides) => new Cmd(`partition(${sides.join('')})`, (sim) => sim.net.partition(sides))),
    fc.constant(new Cmd('heal', (sim) => sim.net.heal())),
    fc.integer({ min: 1, max: 30 }).map((n) => new Cmd(`wait(${n} rounds)`, (sim) => sim.rounds(n))),
    fc
      .record({ n: node, wait: fc.integer({ min: 0, max: 30 }), down: fc.integer({ min: 0, max: 20 }) })
      .map(({ n, wait, down }) => new Cmd(`leave(n${n}, wait ${wait}, down ${down} rounds)`, (sim) => sim.leave(n, wait, down))),
  ];

  return commands.flatMap((arb, i) => Array.from({ length: (i === LEAVE && !leave) || (i === RESTART && !restarts) || ((i === PARTITION || i === HEAL) && !partitions) ? 0 : WEIGHTS[i]! }, () => arb));
}

const scenario = fc.record({
  nodes: fc.integer({ min: 2, max: MAX_NODES }),
  seed: fc.integer(),
  drop: fc.double({ min: 0, max: 0.2, noNaN: true }),
  dup: fc.double({ min: 0, max: 0.2, noNaN: true }),
  maxDelay: fc.integer({ min: 0, max: 3 }),
  catchUp: fc.double({ min: 0.3, max: 1, noNaN: true }),
  /** Where each persistent client first connects and subscribes, and at which QoS. */
  setup: fc.array(fc.record({ node: fc.nat(MAX_NODES - 1), qos }), { minLength: 2, maxLength: 2 }),
});

/** Faults stop, down nodes return, then every persistent client connects and stays. */
async function converge(sim: SessionSim): Promise<void> {
  sim.calm();
  await sim.idle(QUIET_ROUNDS);
  let k = 0;
  for (const c of CLIENTS) {
    if (!c.persistent) continue;
    const client = sim.client(c.id);
    for (let attempt = 0; attempt < CONNECT_ATTEMPTS && !(client.conn?.attached ?? false); attempt++) {
      if (client.conn === null) sim.connect(c.id, k++ % sim.nodes.length, false);
      for (let r = 0; r < CONNECT_ROUNDS && client.conn !== null && !client.conn.attached; r++) await sim.step();
    }
    assert.ok(client.conn?.attached, `${c.id} could not connect in ${CONNECT_ATTEMPTS} attempts after the faults stopped`);
  }
  await sim.idle(QUIET_ROUNDS);
}

/** Which delivery invariant a run checks (the first must hold; the others are known gaps). */
interface Strictness {
  /** Publications owed: those routed to a node holding the subscribed session, not only those
   * that entered it (SessionSim.owed). */
  routed: boolean;
  /** QoS 2 copies reach the application exactly once (not only at least once). */
  exactlyOnce: boolean;
  /** Graceful leaves among the commands. */
  leave: boolean;
  /** Partitions (and heals) among the commands. */
  partitions: boolean;
  /** Node restarts among the commands. */
  restarts: boolean;
  /** Takeover messages may be lost (a failed call), not only duplicated and delayed. */
  lossy: boolean;
}

function check(sim: SessionSim, { routed, exactlyOnce }: Strictness): void {
  assert.deepEqual(sim.anomalies, [], 'a shard failed or lost copies');
  for (const c of CLIENTS) {
    const live = sim.liveSessions(c.id);
    assert.ok(live.length <= 1, `${c.id} has live sessions on ${live.join(' and ')}`);
    const client = sim.client(c.id);
    if (exactlyOnce) for (const [no, r] of client.received) assert.ok(r.qos < 2 || r.count === 1, `${c.id} got QoS 2 publication #${no} ${r.count} times`);
    if (!c.persistent) continue;
    const where = sim.nodes[client.conn!.node]!.name;
    assert.deepEqual(sim.sessionsOf(c.id), [where], `${c.id} is connected to ${where}; its sessions: ${sim.sessionsOf(c.id).join(', ')}`);
    const missing = sim.owed(c.id, routed).filter((p) => !client.received.has(p.no));
    assert.deepEqual(
      missing.map((p) => `#${p.no} (qos ${p.qos}, published on n${p.node})`),
      [],
      `${c.id} never got publications acknowledged to their publisher while ${routed ? 'its session was subscribed on a node they were forwarded to' : 'a copy was in its session'}`,
    );
  }
}

/** `todo`: a known gap's property, run TODO_RUNS times whatever SHOAL_RUNS says (it prints a seed). */
async function runModel(strictness: Strictness, todo = false): Promise<void> {
  const { routed } = strictness;
  const params = propertyParams();
  const stats = { runs: 0, publications: 0, owed: 0, delivered: 0 };
  const details = await fc.check(
    fc.asyncProperty(scenario.chain((s) => fc.tuple(fc.constant(s), fc.commands(commandsFor(s.nodes, strictness), { maxCommands: 40, size: 'max' }))), async ([s, cmds]) => {
      const sim = new SessionSim(s.nodes, CLIENTS, s.seed, { drop: s.drop, dup: s.dup, maxDelay: s.maxDelay, membershipCatchUp: s.catchUp }, strictness.lossy ? 'lossy' : 'retried');
      await sim.start();
      // Subscribed from the start (faults permitting), so that most publications are owed.
      const persistent = CLIENTS.filter((c) => c.persistent);
      persistent.forEach((c, i) => sim.connect(c.id, s.setup[i]!.node % s.nodes, false));
      await sim.rounds(SETUP_ROUNDS);
      persistent.forEach((c, i) => sim.subscribe(c.id, s.setup[i]!.qos));
      await sim.rounds(SETUP_ROUNDS);
      await fc.asyncModelRun(() => ({ model: {} as Model, real: sim }), cmds);
      try {
        await converge(sim);
        check(sim, strictness);
      } catch (err) {
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- the simulation's last steps ---\n${sim.tail()}`);
      }
      stats.runs++;
      stats.publications += sim.publications.length;
      for (const c of CLIENTS) {
        if (!c.persistent) continue;
        stats.owed += sim.owed(c.id, routed).length;
        stats.delivered += sim.client(c.id).received.size;
      }
    }),
    { ...params, numRuns: todo ? TODO_RUNS : process.env.SHOAL_RUNS === undefined ? DEFAULT_RUNS : params.numRuns },
  );
  // fast-check 4 keeps the failure in `cause`, which the test runner does not print.
  if (details.failed) assert.fail(`${fc.defaultReportMessage(details)}\n${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`);
  console.log(JSON.stringify({ ...strictness, ...stats }));
}

describe('sessions across a simulated cluster (real shards and takeover service)', () => {
  it('after convergence: one live session per client id; every acknowledged copy that entered a persistent session is delivered', () =>
    runModel({ routed: false, exactlyOnce: false, leave: false, partitions: false, lossy: false, restarts: false }));

  it('QoS 2 copies reach the subscriber exactly once across moves', { todo: KNOWN_GAPS.exactlyOnce }, () => runModel({ routed: false, exactlyOnce: true, leave: false, partitions: false, lossy: false, restarts: false }, true));

  it('every acknowledged publication routed to a node holding the subscribed session is delivered', { todo: KNOWN_GAPS.routed }, () =>
    runModel({ routed: true, exactlyOnce: false, leave: false, partitions: false, lossy: false, restarts: false }, true));

  it('the same with takeover messages lost (failed calls)', () =>
    runModel({ routed: false, exactlyOnce: false, leave: false, partitions: false, lossy: true, restarts: false }));

  it('the same with node restarts', { todo: KNOWN_GAPS.ownerMove }, () =>
    runModel({ routed: false, exactlyOnce: false, leave: false, partitions: false, lossy: false, restarts: true }, true));

  it('the same with partitions', { todo: KNOWN_GAPS.partition }, () => runModel({ routed: false, exactlyOnce: false, leave: false, partitions: true, lossy: false, restarts: false }, true));

  it('the same with graceful leaves (sessions pushed to their owners, then the node restarts)', { todo: KNOWN_GAPS.leave }, () => runModel({ routed: false, exactlyOnce: false, leave: true, partitions: false, lossy: false, restarts: false }, true));
});
