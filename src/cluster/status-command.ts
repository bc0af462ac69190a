// `shoal cluster status [--json] [options]`: asks the local node for its view of the cluster over
// the gRPC Status call (src/cluster/grpc-transport.ts: queryStatus), with the same options and
// environment as `shoal start` (it needs the node's --grpc address, --cluster-secret and
// --cluster-tls-* files), and prints one line per member: state, incarnation, route count, route
// hash (equal on every node once routes converged), forward queue depth (forwarded copies awaiting
// their acknowledgement), gRPC and MQTT addresses, or the answer as JSON.
import { loadConfig } from '../config/load.js';
import { formatListen, type ShoalConfig } from '../config/options.js';
import type { OperatorCallOptions } from './grpc-transport.js';
import type { ClusterStatus } from './peer-transport.js';

/** A node that does not answer this fast is reported as unreachable. */
const STATUS_DEADLINE_MS = 5_000;

/** The address to call: the node's --grpc address, loopback when it binds every interface. */
export function statusAddress(grpc: { host: string; port: number }): string {
  const host = grpc.host === '0.0.0.0' ? '127.0.0.1' : grpc.host === '::' ? '::1' : grpc.host;
  return formatListen({ host, port: grpc.port });
}

/** How `shoal cluster status` and `shoal drain` reach the local node: its --grpc address, secret
 * and TLS files, from the same flags, environment and config file as `shoal start`. */
export function operatorTarget(config: ShoalConfig, deadlineMs: number): { address: string; opts: OperatorCallOptions } {
  const { clusterTlsCert: certPath, clusterTlsKey: keyPath, clusterTlsCa: caPath } = config;
  return {
    address: statusAddress(config.grpc),
    opts: {
      secret: config.clusterSecret?.reveal(),
      ...(certPath !== null && keyPath !== null && caPath !== null ? { tls: { certPath, keyPath, caPath } } : {}),
      deadlineMs,
    },
  };
}

export function formatStatus(s: ClusterStatus): string {
  const rows = [['NODE', 'STATE', 'INCARNATION', 'STARTED', 'ROUTES', 'ROUTE-HASH', 'FORWARD-QUEUE', 'GRPC', 'MQTT']];
  for (const m of s.members) {
    rows.push([m.node, m.state, String(m.incarnation), new Date(m.incarnation).toISOString(), String(m.routeCount), m.routeHash || '-', String(m.forwardQueueDepth), m.grpcAddress, m.mqttAddress ?? '-']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  return `cluster view of ${s.node} (incarnation ${s.incarnation}, protocol v${s.protocolVersion}), ${s.members.length} members\n${lines.join('\n')}\n`;
}

/** Runs the command; returns the process exit code (2: bad usage, 1: no answer from the node). */
export async function clusterCommand(argv: readonly string[], env: NodeJS.ProcessEnv, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'status') {
    err(`shoal: unknown cluster command ${JSON.stringify(sub ?? '')}; the one there is: shoal cluster status [--json] [options]\n`);
    return 2;
  }
  const json = rest.includes('--json');
  const config = loadConfig({ argv: rest.filter((a) => a !== '--json'), env });
  const { address, opts } = operatorTarget(config, STATUS_DEADLINE_MS);
  const { queryStatus } = await import('./grpc-transport.js');
  let status: ClusterStatus;
  try {
    status = await queryStatus(address, opts);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    err(`shoal: no cluster status from the node at ${address}: ${why}; is it running with --seeds, and are --grpc and --cluster-secret the node's?\n`);
    return 1;
  }
  out(json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
  return 0;
}
