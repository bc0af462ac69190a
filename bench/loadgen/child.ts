// Entry point of a load generator process: receives one `run` order over IPC, runs that
// scenario against the broker's port, reports its metrics and exits.
import { scenarioByName } from '../scenarios/index.js';
import type { LoadgenContext } from '../scenarios/types.js';
import type { FromLoadgen, ToLoadgen } from './ipc.js';

function send(m: FromLoadgen, then?: () => void): void {
  process.send?.(m, undefined, undefined, () => then?.());
}

const markWaiters = new Map<string, () => void>();

process.on('message', (raw: unknown) => {
  const m = raw as ToLoadgen;
  if (m.t === 'marked') {
    markWaiters.get(m.name)?.();
    markWaiters.delete(m.name);
    return;
  }
  if (m.t !== 'run') return;
  const scenario = scenarioByName(m.scenario);
  const ctx: LoadgenContext = {
    port: m.port,
    params: m.params,
    index: m.index,
    processes: m.processes,
    runId: m.runId,
    mark: (name) =>
      new Promise<void>((resolve) => {
        markWaiters.set(name, resolve);
        send({ t: 'mark', name });
      }),
    progress: (text) => send({ t: 'progress', text }),
  };
  scenario.run(ctx).then(
    (r) => {
      // Sockets may still be open; the scenario is done with them.
      send({ t: 'result', metrics: r.metrics, notes: r.notes ?? [] }, () => process.exit(0));
    },
    (err: unknown) => {
      send({ t: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, () => process.exit(1));
    },
  );
});
