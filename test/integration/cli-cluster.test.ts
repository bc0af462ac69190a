// `shoal start` with the cluster flags, as an operator runs it. Membership is not wired into the
// node yet: these check that the flags parse, validate (exit 2 with the setting named) and never
// print the secret.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcessNode } from '../helpers/process-node.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SECRET = 'cli-cluster-secret-9f8e7d6c5b4a';
const tmp = mkdtempSync(join(tmpdir(), 'shoal-cli-cluster-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHOAL_')) env[k] = v;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

test('shoal start --seeds over non-loopback addresses without a secret exits 2 naming the setting', async () => {
  const r = await run(['start', '--seeds', '10.0.0.5:7946,10.0.0.6:7946', '--data-dir', join(tmp, 'a')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^shoal: clusterSecret is required: --seeds \(from flag --seeds\) joins a cluster over non-loopback addresses .*set --cluster-secret or SHOAL_CLUSTER_SECRET/);
  assert.equal(r.stdout, '', 'nothing started');
});

test('shoal start with a short secret exits 2 without echoing it', async () => {
  const r = await run(['start', '--cluster-secret', 'too-short', '--data-dir', join(tmp, 'b')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /invalid clusterSecret from flag --cluster-secret: \[redacted\] \(9 characters\)/);
  assert.ok(!r.stderr.includes('too-short'));
});

test('shoal start --seeds with a secret parses; config.effective shows the cluster settings, the secret redacted', async () => {
  const node = await startProcessNode(join(tmp, 'c'), ['--seeds', '10.0.0.5:7946,node-2.example:7946', '--cluster-secret', SECRET, '--gossip', '0.0.0.0:7946']);
  try {
    const effective = node.lines.find((l) => l.event === 'config.effective')!;
    const config = effective.config as Record<string, unknown>;
    const sources = effective.sources as Record<string, string>;
    assert.deepEqual(config.seeds, ['10.0.0.5:7946', 'node-2.example:7946']);
    assert.deepEqual(config.gossip, { host: '0.0.0.0', port: 7946 });
    assert.equal(config.clusterSecret, '[redacted]');
    assert.equal(typeof config.advertise, 'string');
    assert.match(sources.advertise!, /^default: --gossip binds 0\.0\.0\.0: /);
  } finally {
    await node.stop();
  }
  assert.ok(!node.lines.some((l) => JSON.stringify(l).includes(SECRET)), 'the secret is in no log line');
  assert.ok(!node.stderr().includes(SECRET));
});
