// /ready's answer, also the shoal_ready metric: the MQTT listeners are up and, in a cluster, the
// node has joined and holds every alive peer's routes (src/cluster/readiness.ts).
import type { AdminSource, Readiness } from './admin-source.js';

/** The node's readiness: its listeners, and in a cluster joined and route-synced. */
export function readiness(source: AdminSource): Readiness {
  const listening = source.listening();
  const cluster = source.cluster?.readiness() ?? { ready: true, checks: {}, waitingFor: [] };
  const waitingFor = listening ? cluster.waitingFor : ['MQTT listeners', ...cluster.waitingFor];
  return { ready: listening && cluster.ready, checks: { listeners: listening, ...cluster.checks }, waitingFor };
}
