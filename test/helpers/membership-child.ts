// A child process running one SwimMembership, for tests and bench/gossip-down.ts (separate
// processes: one event loop per node, as in production). Usage:
//   node --import tsx test/helpers/membership-child.ts '<MembershipChildSpec JSON>'
// The cluster secret comes from SHOAL_CLUSTER_SECRET, as for `shoal start`. Writes JSON log lines
// to stdout; every membership event also as {event: 'child.member', kind, info, at}. Exits 1 when
// start fails (e.g. a duplicate name), 0 after SIGTERM (graceful leave).
import { createLogger } from '../../src/log.js';
import { SwimMembership, type GossipTimings } from '../../src/cluster/membership.js';
import type { MembershipEvents } from '../../src/cluster/types.js';

export interface MembershipChildSpec {
  name: string;
  gossipPort: number;
  grpcAddress: string;
  seeds: string[];
  timings?: Partial<GossipTimings>;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as MembershipChildSpec;
// process.stdout is synchronous for pipes on Linux, so a line is out before process.exit().
const logger = createLogger('info', { destination: process.stdout });
const secret = process.env.SHOAL_CLUSTER_SECRET || undefined;
const membership = new SwimMembership({
  nodeName: spec.name,
  incarnation: Date.now(),
  grpcAddress: spec.grpcAddress,
  gossip: { host: '127.0.0.1', port: spec.gossipPort },
  advertiseHost: '127.0.0.1',
  secret,
  logger,
  ...(spec.timings ? { timings: spec.timings } : {}),
});
for (const kind of ['up', 'suspect', 'down', 'updated'] as const satisfies readonly (keyof MembershipEvents)[]) {
  membership.on(kind, (info) => logger.info({ event: 'child.member', kind, info, at: Date.now() }));
}
membership.on('error', (err) => {
  logger.error({ event: 'child.failed', code: (err as { code?: string }).code, err }, err.message);
  process.exit(1);
});
process.on('SIGTERM', () => {
  void membership.leave().then(() => process.exit(0));
});
membership.start(spec.seeds).then(
  () => logger.info({ event: 'child.started', self: membership.self, gossip: membership.gossipAddress, at: Date.now() }),
  (err: Error & { code?: string }) => {
    logger.error({ event: 'child.start_failed', code: err.code, err }, err.message);
    process.exit(1);
  },
);
