// The `shoal` command as an operator runs it: a real process, real sockets, real signals.
// The sources run through tsx (not bin/shoal.js) so the test never exercises a stale dist/.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { OPTIONS } from '../../src/config/options.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** tsx compiles on the fly, and a node opens SQLite and starts workers: allow for a slow CI box. */
const STARTUP_TIMEOUT_MS = 30_000;
/** main.ts promises to exit within 10 s of SIGTERM; a little slack for process teardown. */
const SHUTDOWN_TIMEOUT_MS = 12_000;

const tmp = mkdtempSync(join(tmpdir(), 'shoal-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The environment without SHOAL_* variables, so the developer's shell cannot change the test. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHOAL_')) env[k] = v;
  return { ...env, ...extra };
}

interface Shoal {
  child: ChildProcessWithoutNullStreams;
  /** Parsed JSON log lines seen so far. */
  lines: Record<string, unknown>[];
  stderr: () => string;
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnShoal(args: string[], env = cleanEnv()): Shoal {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env });
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  createInterface({ input: child.stdout }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text) as Record<string, unknown>);
    } catch {
      lines.push({ unparsed: text });
    }
    for (const wake of waiters) wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      for (const wake of waiters) wake();
      resolve({ code, signal });
    }),
  );
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitForLog(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = lines.find(predicate);
          if (hit) finish(() => resolve(hit));
          else if (done || child.exitCode !== null) {
            finish(() => reject(new Error(`shoal exited (${child.exitCode}) before the expected log line; stderr: ${stderr}`)));
          }
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`no matching log line in ${timeoutMs} ms; got ${JSON.stringify(lines)}; stderr: ${stderr}`))),
          timeoutMs,
        );
        const finish = (settle: () => void): void => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function runToExit(args: string[], env = cleanEnv()) {
  const shoal = spawnShoal(args, env);
  const exit = await within(shoal.exited, STARTUP_TIMEOUT_MS, `shoal ${args.join(' ')}`);
  return { ...exit, stdout: shoal.lines, stderr: shoal.stderr() };
}

function stopOnFailure(shoal: Shoal): void {
  if (shoal.child.exitCode === null && shoal.child.signalCode === null) shoal.child.kill('SIGKILL');
}

test('start serves MQTT on the logged port and exits 0 on SIGTERM', async () => {
  const dataDir = join(tmp, 'data-start');
  const shoal = spawnShoal(['start', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--shards', '1', '--node-name=cli-test', '--http', '127.0.0.1:0']);
  try {
    const effective = await shoal.waitForLog((l) => l.event === 'config.effective', STARTUP_TIMEOUT_MS);
    assert.deepEqual((effective.config as { listen: unknown }).listen, { host: '127.0.0.1', port: 0 });
    assert.equal((effective.sources as Record<string, string>).shards, 'flag --shards');

    const listening = await shoal.waitForLog((l) => l.msg === 'listening', STARTUP_TIMEOUT_MS);
    assert.equal(listening.event, 'node.listening');
    assert.equal(listening.host, '127.0.0.1');
    assert.equal(listening.nodeName, 'cli-test');
    const port = listening.port;
    assert.ok(typeof port === 'number' && port > 0, `bound port ${String(port)}`);

    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 5,
      clientId: 'cli-test-client',
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    });
    try {
      const received = new Promise<string>((resolve) => client.on('message', (_topic, payload) => resolve(payload.toString())));
      await client.subscribeAsync('cli/echo', { qos: 1 });
      await client.publishAsync('cli/echo', 'ping', { qos: 1 });
      assert.equal(await within(received, 5_000, 'echo through the broker'), 'ping');
    } finally {
      await client.endAsync();
    }

    shoal.child.kill('SIGTERM');
    const exit = await within(shoal.exited, SHUTDOWN_TIMEOUT_MS, 'exit after SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${shoal.stderr()}`);
    assert.ok(shoal.lines.some((l) => l.event === 'node.shutdown.begin' && l.signal === 'SIGTERM'));
    assert.ok(shoal.lines.some((l) => l.event === 'node.shutdown.done'), 'shutdown completion is logged');
  } finally {
    stopOnFailure(shoal);
  }
});

test('a port already in use fails startup with exit 1 and a fatal log line', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as AddressInfo;
  try {
    const result = await runToExit(['start', '--listen', `127.0.0.1:${port}`, '--data-dir', join(tmp, 'data-busy'), '--shards', '1', '--http', 'off']);
    assert.equal(result.code, 1, `stderr: ${result.stderr}`);
    const fatal = result.stdout.find((l) => l.event === 'node.start.failed');
    assert.ok(fatal, `fatal line in ${JSON.stringify(result.stdout)}`);
    assert.equal(fatal.level, 'fatal');
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});

test('a configuration error prints one line naming the setting and exits 2', async () => {
  const flag = await runToExit(['start', '--shards', '0']);
  assert.equal(flag.code, 2);
  assert.equal(flag.stderr, 'shoal: invalid shards from flag --shards: "0" (out of range); allowed: integer 1..64\n');
  assert.deepEqual(flag.stdout, [], 'nothing is logged before the config is valid');

  const env = await runToExit(['start'], cleanEnv({ SHOAL_LOG_LEVEL: 'loud' }));
  assert.equal(env.code, 2);
  assert.match(env.stderr, /^shoal: invalid logLevel from env SHOAL_LOG_LEVEL: "loud"; allowed: one of .*\n$/);
  assert.doesNotMatch(env.stderr, /\n\s+at /, 'no stack trace');

  const unknown = await runToExit(['start', '--port', '1883']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown flag --port/);
});

test('--help lists every flag; --version prints the package version; a bad command exits 2', async () => {
  const help = await runToExit(['--help']);
  assert.equal(help.code, 0);
  const text = help.stdout.map((l) => l.unparsed).join('\n');
  for (const o of OPTIONS) assert.ok(text.includes(o.flag) && text.includes(o.env), `--help mentions ${o.flag}`);
  const helpCmd = await runToExit(['help']);
  assert.deepEqual(helpCmd.stdout, help.stdout);

  const version = await runToExit(['--version']);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(version.code, 0);
  assert.deepEqual(version.stdout, [{ unparsed: pkg.version }]);

  const bad = await runToExit(['serve']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^shoal: unknown command "serve"/);
  const none = await runToExit([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^shoal: missing command/);
});
