// Starts membership-child.ts processes and waits for their JSON log lines (no sleeps: every wait
// is for a line, with a timeout).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { MembershipChildSpec } from './membership-child.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./membership-child.ts', import.meta.url));

export type LogLine = Record<string, unknown>;

export type MembershipProcess = JsonLogChild<MembershipChildSpec>;

export interface JsonLogChild<S> {
  readonly spec: S;
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: LogLine[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line (already seen or future) matching `match`; rejects after `timeoutMs`. */
  waitFor(what: string, match: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
  stderr(): string;
}

/** Free UDP ports on 127.0.0.1, found by binding port 0 (all held until every one is found). */
export async function freeUdpPorts(n: number): Promise<number[]> {
  const sockets = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createSocket>>((resolve) => {
      const s = createSocket('udp4');
      s.bind(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

export function startMembershipProcess(spec: MembershipChildSpec, secret: string | undefined): MembershipProcess {
  return spawnJsonLogChild(spec, [CHILD, JSON.stringify(spec)], secret);
}

/** A child process writing JSON log lines: `[wrap...] node [nodeArgs] --import tsx <argv...>`
 * (wrap: e.g. `ip netns exec NS`, which execs node in place, so the pid is node's), without the
 * caller's SHOAL_* variables, the cluster secret (if any) in SHOAL_CLUSTER_SECRET. */
export function spawnJsonLogChild<S extends { name: string }>(
  spec: S,
  argv: readonly string[],
  secret: string | undefined,
  nodeArgs: readonly string[] = [],
  wrap: readonly string[] = [],
): JsonLogChild<S> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHOAL_')) env[k] = v;
  if (secret !== undefined) env.SHOAL_CLUSTER_SECRET = secret;
  const command = [...wrap, process.execPath, ...nodeArgs, '--import', 'tsx', ...argv];
  const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, env });
  const lines: LogLine[] = [];
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { unparsed: text };
    }
    lines.push(line);
    for (const w of waiters) if (w.match(line)) w.resolve(line);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    spec,
    child,
    lines,
    exited,
    stderr: () => stderr,
    waitFor(what, match, timeoutMs) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise<LogLine>((resolve, reject) => {
        const waiter = {
          match,
          resolve: (line: LogLine) => {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${spec.name}: no ${what} within ${timeoutMs} ms; stderr: ${stderr.slice(-1500)}; last lines: ${JSON.stringify(lines.slice(-5))}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async kill9() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!gone()) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Matches a 'child.member' line of `kind` about node `name` (and, if given, that incarnation). */
export function memberEvent(kind: string, name: string, incarnation?: number): (line: LogLine) => boolean {
  return (line) => {
    if (line.event !== 'child.member' || line.kind !== kind) return false;
    const info = line.info as { name?: string; incarnation?: number } | undefined;
    return info?.name === name && (incarnation === undefined || info.incarnation === incarnation);
  };
}
