// What one SUBSCRIBE costs as its client's subscription count grows (issue 19: it grew with the
// count, 50,000 one-filter SUBSCRIBEs took 48 s). One 3.1.1 client sends SUBSCRIBEs of one new
// wildcard filter each, pipelined, when it already holds 0, 10k and 50k subscriptions; the metric
// is the time from the first to the last SUBACK, per SUBSCRIBE. The holdings in between are
// subscribed 100 filters per packet. Shoal runs with --max-subscriptions 100000: a limit in
// force (the path that counted the client's subscriptions per SUBSCRIBE), above what is held, so
// every filter is granted (Mosquitto and Aedes have no per-client limit).
import { performance } from 'node:perf_hooks';
import { connectClients, subscribeInChunks } from './common.js';
import type { LoadgenContext, Metrics, ScenarioDef } from './types.js';

/** SUBSCRIBEs measured at each level. */
const PROBE = 2000;
const LEVELS = [0, 10_000, 50_000] as const;

function filter(runId: string, kind: 'probe' | 'held', level: number, i: number): string {
  // Distinct per client and level, so no SUBSCRIBE replaces an existing subscription.
  return `sc/${runId}/${kind}${level}/${i}/+`;
}

async function run(ctx: LoadgenContext): Promise<{ metrics: Metrics; notes: string[] }> {
  // Warm-up on another client (clean session: its subscriptions go with it), so the first level
  // does not pay for the broker's JIT.
  const [w] = await connectClients(ctx, 'subwarm', 1);
  await w!.subscribeEach(Array.from({ length: PROBE }, (_, i) => filter(ctx.runId, 'probe', -1, i)), 1).codes;
  w!.destroy();
  const [c] = await connectClients(ctx, 'subcost', 1);
  const client = c!;
  const metrics: Metrics = {};
  let held = 0;
  try {
    for (const level of LEVELS) {
      // Bring the holding up to `level` (the probes of earlier levels count).
      const fill = Array.from({ length: level - held }, (_, i) => filter(ctx.runId, 'held', level, i));
      await subscribeInChunks(client, fill, 1, 100);
      held = level;
      ctx.progress(`holding ${held} subscriptions; probing ${PROBE} SUBSCRIBEs`);
      const probes = Array.from({ length: PROBE }, (_, i) => filter(ctx.runId, 'probe', level, i));
      const t0 = performance.now();
      const { codes } = client.subscribeEach(probes, 1);
      const got = await codes;
      const ms = performance.now() - t0;
      const refused = got.filter((x) => x >= 0x80).length;
      if (refused > 0) throw new Error(`subscribe-cost: ${refused} of ${PROBE} SUBSCRIBEs refused at ${level} held: start the broker without a per-client subscription limit`);
      metrics[`subscribeUs${level === 0 ? '0' : `${level / 1000}k`}`] = (ms * 1000) / PROBE;
      held += PROBE;
    }
  } finally {
    client.destroy();
  }
  return { metrics, notes: [`${PROBE} one-filter SUBSCRIBEs pipelined at each level; the levels are reached with 100-filter SUBSCRIBEs`] };
}

export const subscribeCost: ScenarioDef = {
  name: 'subscribe-cost',
  summary: `One client's one-filter SUBSCRIBE, ${PROBE} pipelined, while it holds 0, 10k and 50k subscriptions: µs per SUBSCRIBE to its SUBACK`,
  shoalFlags: ['--max-subscriptions', '100000'],
  metrics: [
    { key: 'subscribeUs0', label: 'SUBSCRIBE of a client holding 0 subscriptions', unit: 'µs', better: 'lower' },
    { key: 'subscribeUs10k', label: 'SUBSCRIBE of a client holding 10k subscriptions', unit: 'µs', better: 'lower' },
    { key: 'subscribeUs50k', label: 'SUBSCRIBE of a client holding 50k subscriptions', unit: 'µs', better: 'lower' },
  ],
  timeoutSec: () => 180,
  run,
};
