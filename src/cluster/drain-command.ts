// `shoal drain [--json] [options]`: asks the local running node to leave the cluster gracefully,
// as SIGTERM does (src/cluster/node-drain.ts), over the gRPC Drain call, reached like
// `shoal cluster status` (the node's --grpc address, --cluster-secret and --cluster-tls-* files,
// from the same flags, environment and config file as `shoal start`). Waits until the node has
// left and prints what the drain did; the node then exits by itself.
import { loadConfig } from '../config/load.js';
import type { DrainReport } from './node-drain.js';
import { operatorTarget } from './status-command.js';

/** Beyond the node's own --drain-timeout: the answer goes out after the drain's last bounded step. */
const ANSWER_MARGIN_MS = 10_000;

export function formatDrain(r: DrainReport): string {
  return (
    `${r.node} left the cluster in ${r.elapsedMs} ms${r.timedOut ? ' (cut short by its drain timeout; see its log, event node.drain.timeout)' : ''}\n` +
    `  persistent sessions moved to live peers: ${r.sessionsPushed}, kept in its storage: ${r.sessionsKept}, ended instead: ${r.sessionsEnded}\n` +
    `  MQTT 5 clients referred to another node (0x9C): ${r.clientsRedirected}, told server shutting down (0x8B): ${r.clientsShutDown}, other connections closed: ${r.clientsClosed}\n` +
    `  forwarded messages acknowledged while draining: ${r.forwardsSettled}, unacknowledged: ${r.forwardsUnsettled}\n`
  );
}

/** Runs the command; returns the process exit code (1: no answer from the node). */
export async function drainCommand(argv: readonly string[], env: NodeJS.ProcessEnv, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const json = argv.includes('--json');
  const config = loadConfig({ argv: argv.filter((a) => a !== '--json'), env });
  const { address, opts } = operatorTarget(config, config.drainTimeoutMs + ANSWER_MARGIN_MS);
  const { requestDrain } = await import('./grpc-transport.js');
  let report: DrainReport;
  try {
    report = await requestDrain(address, opts);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    err(`shoal: the node at ${address} did not confirm the drain: ${why}; is it running with --seeds, and are --grpc and --cluster-secret the node's? A node already stopping answers no more.\n`);
    return 1;
  }
  out(json ? `${JSON.stringify(report, null, 2)}\n` : formatDrain(report));
  return 0;
}
