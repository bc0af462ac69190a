// The password and ACL files with real processes: `shoal passwd` writes a file Mosquitto accepts,
// and a `shoal start` process reloads both files on SIGHUP without dropping connections, keeping
// the old contents when a new file is broken.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { spawnJsonLogChild, type JsonLogChild, type LogLine } from '../helpers/membership-process.js';
import { collector, connect, freePort, removeDir, tempDir } from '../helpers/node.js';
import { withTimeout } from '../helpers/raw-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WAIT_MS = 15_000;

/** `shoal passwd <args>` with `stdin` as its input; resolves with the exit code and stderr. */
function shoalPasswd(args: string[], stdin: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'passwd', ...args], { cwd: ROOT });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stderr }));
    child.stdin.end(stdin);
  });
}

/** mosquitto_pub's exit code for one publish with these credentials. */
async function mosquittoPub(port: number, user: string, password: string): Promise<number> {
  try {
    await promisify(execFile)('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-u', user, '-P', password, '-t', 't', '-m', 'x', '-q', '1']);
    return 0;
  } catch (e) {
    return (e as { code: number }).code;
  }
}

describe('shoal passwd with Mosquitto', () => {
  let dir: string;
  before(() => {
    dir = tempDir('shoal-passwd-');
  });
  after(() => removeDir(dir));

  it('writes a file Mosquitto accepts; -D deletes a user; the password never comes from argv', async () => {
    const file = join(dir, 'passwd');
    assert.equal((await shoalPasswd([file, 'alice'], 'alice pw\n')).code, 0);
    assert.equal((await shoalPasswd([file, 'bob'], 'bob-pw\n')).code, 0);
    assert.equal((await shoalPasswd([file, 'gone'], 'x\n')).code, 0);
    assert.equal((await shoalPasswd(['-D', file, 'gone'], '')).code, 0);
    assert.match(readFileSync(file, 'utf8'), /^alice:\$7\$101\$[^$]{16}\$[^$]{88}\nbob:\$7\$101\$/);
    const refused = await shoalPasswd([file, 'carol', '--password', 'x'], '');
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /never from the command line/);

    const port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    // `user`: run as root, Mosquitto would drop to user "mosquitto", which cannot read a 0600 file.
    writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${file}\nuser ${userInfo().username}\n`);
    const mosquitto = spawn('mosquitto', ['-c', conf]);
    let log = '';
    const exited = new Promise((resolve) => mosquitto.once('exit', resolve));
    // Mosquitto logs "mosquitto version X running" once its listeners are open.
    const running = new Promise<void>((resolve) => {
      for (const s of [mosquitto.stdout, mosquitto.stderr]) {
        s.setEncoding('utf8').on('data', (c: string) => {
          log += c;
          if (/ running/.test(log)) resolve();
        });
      }
    });
    try {
      await withTimeout(Promise.race([running, exited.then(() => assert.fail(`mosquitto exited: ${log}`))]), WAIT_MS, 'mosquitto to start');
      assert.equal(await mosquittoPub(port, 'alice', 'alice pw'), 0);
      assert.equal(await mosquittoPub(port, 'bob', 'bob-pw'), 0);
      assert.notEqual(await mosquittoPub(port, 'alice', 'wrong'), 0);
      assert.notEqual(await mosquittoPub(port, 'gone', 'x'), 0);
    } finally {
      mosquitto.kill('SIGTERM');
      await exited;
    }
  });
});

describe('SIGHUP reloads the password and ACL files', () => {
  let dir: string;
  let node: JsonLogChild<{ name: string }>;
  let url: string;
  const clients: MqttClient[] = [];
  let passwords: string;
  let acl: string;

  before(async () => {
    dir = tempDir('shoal-sighup-');
    passwords = join(dir, 'passwd');
    acl = join(dir, 'acl');
    assert.equal((await shoalPasswd([passwords, 'alice'], 'alice pw\n')).code, 0);
    assert.equal((await shoalPasswd([passwords, 'writer'], 'writer pw\n')).code, 0);
    writeFileSync(acl, 'user alice\ntopic read a/#\n\nuser writer\ntopic write #\n');
    node = spawnJsonLogChild({ name: 'sighup' }, ['src/main.ts', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--shards', '2', '--sys-interval', '0', '--password-file', passwords, '--acl-file', acl], undefined);
    const line = await Promise.race([
      node.waitFor('node.listening', (l) => l.event === 'node.listening', 30_000),
      node.exited.then(({ code }) => {
        throw new Error(`shoal exited (${code}) before listening: ${node.stderr()}`);
      }),
    ]);
    url = `mqtt://127.0.0.1:${line.port as number}`;
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
    await node.stop();
    removeDir(dir);
  });

  /** Sends SIGHUP and waits for one outcome line per file after `from` (an index into the log). */
  async function sighup(): Promise<LogLine[]> {
    const from = node.lines.length;
    node.child.kill('SIGHUP');
    const isOutcome = (l: LogLine): boolean => l.event === 'auth.reloaded' || l.event === 'auth.reload.failed';
    await node.waitFor('two reload outcomes', () => node.lines.slice(from).filter(isOutcome).length >= 2, WAIT_MS);
    return node.lines.slice(from).filter(isOutcome);
  }

  it('applies a new user and new ACL rules to a connection that stays up; a broken file keeps the old one', async () => {
    const alice = await connect(url, { clientId: 'alice', username: 'alice', password: 'alice pw', protocolVersion: 5 });
    clients.push(alice);
    const got = collector(alice);
    let closed = false;
    alice.on('close', () => (closed = true));
    assert.equal((await alice.subscribeAsync('#', { qos: 1 }))[0]!.qos, 1, 'overlaps a/#');
    const writer = await connect(url, { clientId: 'writer', username: 'writer', password: 'writer pw', protocolVersion: 4 });
    clients.push(writer);
    await writer.publishAsync('b/1', 'before', { qos: 1 });
    await writer.publishAsync('a/1', 'marker-1', { qos: 1 });
    assert.deepEqual((await got.until(1)).map((m) => m.payload), ['marker-1'], 'b/# not readable yet');

    await assert.rejects(withTimeout(connect(url, { clientId: 'carol', username: 'carol', password: 'carol pw', reconnectPeriod: 0 }), 5000, 'carol refused'));
    assert.equal((await shoalPasswd([passwords, 'carol'], 'carol pw\n')).code, 0);
    writeFileSync(acl, 'user alice\ntopic read a/#\ntopic read b/#\n\nuser writer\ntopic write #\n');
    const outcomes = await sighup();
    assert.deepEqual(outcomes.map((l) => [l.event, l.file]), [['auth.reloaded', 'passwordFile'], ['auth.reloaded', 'aclFile']]);
    const carol = await connect(url, { clientId: 'carol', username: 'carol', password: 'carol pw', protocolVersion: 5 });
    clients.push(carol);
    await writer.publishAsync('b/2', 'after', { qos: 1 });
    assert.deepEqual((await got.until(2)).map((m) => m.payload), ['marker-1', 'after'], 'the new rule applies to the live subscription');

    writeFileSync(acl, 'user alice\ntopic sometimes b/#\n');
    writeFileSync(passwords, 'alice:plaintext\n');
    const broken = await sighup();
    assert.deepEqual(broken.map((l) => [l.event, l.file]), [['auth.reload.failed', 'passwordFile'], ['auth.reload.failed', 'aclFile']]);
    assert.match(String(broken[1]!.msg), /line 2: access "sometimes"/);
    await writer.publishAsync('b/3', 'still', { qos: 1 });
    assert.deepEqual((await got.until(3)).map((m) => m.payload), ['marker-1', 'after', 'still'], 'the old rules stay in force');
    const again = await connect(url, { clientId: 'carol2', username: 'carol', password: 'carol pw', protocolVersion: 5 });
    clients.push(again);
    assert.equal(closed, false, 'no connection was dropped');
  });
});
