// Runs a Shoal node as a real child process (`node --import tsx src/main.ts start ...`), so a
// test can SIGKILL it and start it again on the same data directory. The port comes from the
// "listening" JSON log line on stdout.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** tsx compiles on the fly and the node opens SQLite and starts workers: allow for a slow box. */
export const PROCESS_STARTUP_TIMEOUT_MS = 30_000;

export class ProcessNodeError extends Error {
  override readonly name = 'ProcessNodeError';
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(`${message}; stderr: ${stderr.slice(-2000)}`);
  }
}

export interface ProcessNode {
  child: ChildProcessWithoutNullStreams;
  port: number;
  url: string;
  /** Parsed JSON log lines so far. */
  lines: Record<string, unknown>[];
  /** The first log line from index `from` on that matches, waiting up to `ms` for it. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, ms?: number, from?: number): Promise<Record<string, unknown>>;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, and wait until the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful), and wait for the exit; SIGKILL after `ms`. */
  stop(ms?: number): Promise<void>;
}

/** The environment without SHOAL_* variables, so the developer's shell cannot change the test. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHOAL_')) env[k] = v;
  return env;
}

/** Starts `shoal start --listen 127.0.0.1:0 --data-dir DIR ...` and resolves once it listens. */
export async function startProcessNode(dataDir: string, extraArgs: string[] = []): Promise<ProcessNode> {
  const args = ['--import', 'tsx', 'src/main.ts', 'start', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--shards', '2', '--sys-interval', '0', '--http', 'off', ...extraArgs];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: cleanEnv() });
  const lines: Record<string, unknown>[] = [];
  const lineWaiters = new Set<() => void>();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new ProcessNodeError(`no "listening" log line within ${PROCESS_STARTUP_TIMEOUT_MS} ms`, stderr));
    }, PROCESS_STARTUP_TIMEOUT_MS);
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { unparsed: text };
      }
      lines.push(line);
      for (const wake of [...lineWaiters]) wake();
      if (line.event === 'node.listening' && typeof line.port === 'number') {
        clearTimeout(timer);
        resolve(line.port);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new ProcessNodeError(`shoal exited (code ${code}, signal ${signal}) before listening`, stderr));
    });
  });
  const waitExit = (ms: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => reject(new ProcessNodeError(`shoal did not exit within ${ms} ms`, stderr)), ms);
      void exited.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  return {
    child,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    lines,
    waitForLog(pred, ms = 10_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = lines.slice(from).find(pred);
          if (found === undefined) return;
          clearTimeout(timer);
          lineWaiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          lineWaiters.delete(check);
          reject(new ProcessNodeError(`no matching log line within ${ms} ms`, stderr));
        }, ms);
        lineWaiters.add(check);
        check();
      });
    },
    stderr: () => stderr,
    exited,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await waitExit(10_000);
    },
    async stop(ms = 12_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      try {
        await waitExit(ms);
      } catch (e) {
        child.kill('SIGKILL');
        throw e;
      }
    },
  };
}
