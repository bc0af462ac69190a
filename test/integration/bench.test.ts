// The bench end to end: `npm run bench` as a user runs it, against a real Shoal process: the two
// burst scenarios at full size, every other scenario with small sizes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/node.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Shoal's medians from the round file `scenario` wrote into `dir`. */
function shoalMedians(dir: string, scenario: string): Record<string, number> {
  const files = readdirSync(dir);
  const f = files.find((x) => x.startsWith(`${scenario}-unpinned-`) && x.endsWith('.json'));
  assert.ok(f, `${scenario} wrote its results to --results-dir (found: ${files.join(', ')})`);
  return (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { medians: Record<string, Record<string, number>> }).medians.shoal!;
}

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench ${args.join(' ')} still running after ${timeoutMs} ms:\n${out.slice(-3000)}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

test('persistent and retained run all their bursts against Shoal and report first and warm figures', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-test-'));
  try {
    const port = await freePort();
    const { code, out } = await run(['persistent', 'retained', '--rounds', '1', '--unpinned', '--port-base', String(port), '--results-dir', dir], 280_000);
    assert.equal(code, 0, out.slice(-3000));
    const persistent = shoalMedians(dir, 'persistent');
    for (const key of ['enqueuedPerSec', 'enqueuedWarmPerSec', 'drainedPerSec', 'drainedWarmPerSec']) {
      assert.ok(persistent[key]! > 0 && Number.isFinite(persistent[key]), `persistent ${key} = ${persistent[key]}`);
    }
    // `missing` counts every burst; `drained` is the first burst's 100 sessions × 900 messages.
    assert.equal(persistent.missing, 0);
    assert.equal(persistent.drained, 90_000);
    const retained = shoalMedians(dir, 'retained');
    for (const key of ['retainedPerSec', 'retainedWarmPerSec', 'storedPerSec', 'storedWarmPerSec']) {
      assert.ok(retained[key]! > 0 && Number.isFinite(retained[key]), `retained ${key} = ${retained[key]}`);
    }
    assert.equal(retained.delivered, 100_000);
    assert.match(out, /queued for offline sessions \(bursts 3–5 on the same broker\)/);
    assert.match(out, /retained stored, QoS 1 publish \(first burst\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every other scenario runs against Shoal with small sizes and reports what it measures', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-test-'));
  const scenarios = ['fan-in', 'fan-out', 'qos1', 'qos1-persistent', 'qos2', 'qos1-latency', 'qos1-latency-50k', 'latency', 'shared', 'many-topics', 'connect', 'idle', 'qos1-queue-1000', 'qos1-queue-0'];
  try {
    const port = await freePort();
    const args = [...scenarios, '--rounds', '1', '--duration', '1', '--warmup', '0', '--clients', '300', '--hold', '1', '--unpinned', '--port-base', String(port), '--results-dir', dir];
    const { code, out } = await run(args, 280_000);
    assert.equal(code, 0, out.slice(-3000));
    const shoal = (scenario: string): Record<string, number> => shoalMedians(dir, scenario);
    const positive = (scenario: string, key: string): void => {
      const v = shoal(scenario)[key];
      assert.ok(v !== undefined && Number.isFinite(v) && v > 0, `${scenario} ${key} = ${v}`);
    };
    for (const s of ['fan-in', 'fan-out', 'qos1', 'qos1-persistent', 'qos2', 'shared', 'many-topics', 'latency', 'qos1-latency', 'qos1-latency-50k']) positive(s, 'deliveredPerSec');
    for (const s of ['qos1', 'qos1-persistent', 'qos2', 'qos1-latency', 'qos1-latency-50k', 'latency']) positive(s, 'latencyP99Ms');
    // QoS 1 and 2 are acknowledged end to end: nothing may go missing, whatever the machine's speed.
    for (const s of ['qos1', 'qos1-persistent', 'qos2', 'qos1-latency', 'qos1-latency-50k']) assert.equal(shoal(s).lost, 0, `${s} lost`);
    positive('many-topics', 'subscribeMs');
    // The flows paced by PUBACKs only: what was never delivered is counted after they settle, and
    // with no queue limit nothing is dropped.
    for (const s of ['qos1-queue-1000', 'qos1-queue-0']) {
      positive(s, 'deliveredPerSec');
      assert.ok(Number.isFinite(shoal(s).droppedPct), `${s} droppedPct = ${shoal(s).droppedPct}`);
    }
    assert.equal(shoal('qos1-queue-0').dropped, 0, 'no queue limit: nothing dropped');
    positive('connect', 'connectPerSec');
    positive('connect', 'connectPerSecWarm');
    positive('connect', 'warmCpuUs');
    positive('connect', 'loadgenCoresWarm');
    assert.equal(shoal('connect').warmConnected, 600, 'two more bursts of 300');
    assert.match(out, /load generator warmed up: 20000 connects to its own stub/);
    assert.equal(shoal('connect').held, 300);
    assert.ok(Number.isFinite(shoal('connect').memAfterBurstKb), `connect memAfterBurstKb = ${shoal('connect').memAfterBurstKb}`);
    assert.equal(shoal('idle').held, 300);
    // RSS per connection is measured (300 connections are too few for its sign to mean much).
    assert.ok(Number.isFinite(shoal('idle').memPerConnKb), `idle memPerConnKb = ${shoal('idle').memPerConnKb}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
