// How long after kill -9 of a node the others emit 'down', and how many spurious suspicions a
// quiet cluster sees, for our gossip timings or swim's own defaults:
//   node --import tsx bench/gossip-down.ts [--timings default|swim] [--rounds N] [--hold S]
// Each round starts 3 membership processes on loopback (test/helpers/membership-child.ts) joined
// by one seed list, holds them for S seconds counting suspect/down events (all spurious: nobody
// failed), kills one with SIGKILL and records when each survivor emits 'down'.
import { DEFAULT_GOSSIP_TIMINGS, SWIM_LIBRARY_TIMINGS, downDetectionBoundMs } from '../src/cluster/membership.js';
import { freeUdpPorts, memberEvent, startMembershipProcess, type MembershipProcess } from '../test/helpers/membership-process.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const which = arg('timings', 'default');
if (which !== 'default' && which !== 'swim') throw new Error(`--timings must be default or swim, not ${which}`);
const rounds = Number(arg('rounds', '5'));
const holdMs = Number(arg('hold', '5')) * 1000;
const timings = which === 'swim' ? SWIM_LIBRARY_TIMINGS : {};
const NAMES = ['a', 'b', 'c'];

async function round(): Promise<{ downMs: number[]; spurious: number }> {
  const ports = await freeUdpPorts(3);
  const seeds = ports.map((p) => `127.0.0.1:${p}`);
  const nodes: MembershipProcess[] = NAMES.map((name, i) =>
    startMembershipProcess({ name, gossipPort: ports[i]!, grpcAddress: `127.0.0.1:${18000 + i}`, seeds, timings }, 'bench-cluster-secret-0123456789'),
  );
  try {
    for (const p of nodes) {
      for (const other of NAMES) if (other !== p.spec.name) await p.waitFor(`up of ${other}`, memberEvent('up', other), 30_000);
    }
    const quietFrom = nodes.map((p) => p.lines.length);
    await new Promise((resolve) => setTimeout(resolve, holdMs));
    const spurious = nodes
      .map((p, i) => p.lines.slice(quietFrom[i]).filter((l) => l.event === 'child.member' && (l.kind === 'suspect' || l.kind === 'down')).length)
      .reduce((x, y) => x + y, 0);
    const killedAt = Date.now();
    await nodes[2]!.kill9();
    const downMs: number[] = [];
    for (const p of nodes.slice(0, 2)) {
      const line = await p.waitFor('down of c', (l) => memberEvent('down', 'c')(l) && (l.at as number) >= killedAt, 60_000);
      downMs.push((line.at as number) - killedAt);
    }
    return { downMs, spurious };
  } finally {
    await Promise.all(nodes.map((p) => p.kill9()));
  }
}

const all: number[] = [];
let spurious = 0;
for (let r = 1; r <= rounds; r++) {
  const result = await round();
  all.push(...result.downMs);
  spurious += result.spurious;
  console.log(`round ${r}: down after ${result.downMs.join(', ')} ms; spurious suspect/down events while quiet: ${result.spurious}`);
}
all.sort((x, y) => x - y);
const effective = { ...DEFAULT_GOSSIP_TIMINGS, ...timings };
console.log(
  `timings ${which} ${JSON.stringify(timings)}: ${rounds} rounds, down after median ${all[Math.floor(all.length / 2)]} ms, ` +
    `min ${all[0]}, max ${all.at(-1)} ms (bound ${downDetectionBoundMs(effective, 3)} ms); ` +
    `spurious suspect/down events in ${(rounds * holdMs) / 1000} s of quiet: ${spurious}`,
);
