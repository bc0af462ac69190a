// `shoal scram-user` and `shoal start --scram-users` as an operator runs them (real processes
// through tsx), and the file the command writes used by a real node.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScramUsers } from '../../src/auth/scram-users.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { removeDir, startTestNode, tempDir } from '../helpers/node.js';
import { mqttJsScramConnect } from '../helpers/scram-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = tempDir('shoal-scram-cli-');
after(() => removeDir(dir));

/** Runs `shoal <args>` to its exit with `stdin` as input; SHOAL_* variables of the caller removed. */
function shoal(args: string[], stdin = '', extraEnv: Record<string, string> = {}): { status: number | null; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...extraEnv };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHOAL_')) env[k] = v;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env, input: stdin, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('shoal scram-user and --scram-users', () => {
  const users = join(dir, 'users');

  it('adds users and changes a password from stdin; a node started on the file authenticates with it', async () => {
    const add = shoal(['scram-user', users, 'alice'], 'first-password\n');
    assert.equal(add.status, 0, add.stderr);
    assert.match(add.stderr, /added "alice"/);
    assert.equal(statSync(users).mode & 0o777, 0o600, 'only the owner may read the keys');
    const change = shoal(['scram-user', users, 'alice', '--iterations', '5000'], 'second-password\n');
    assert.equal(change.status, 0, change.stderr);
    assert.match(change.stderr, /changed the password of "alice"/);
    assert.equal(shoal(['scram-user', users, 'bob'], 'builder').status, 0, 'no trailing newline needed');
    const text = readFileSync(users, 'utf8');
    assert.deepEqual([...parseScramUsers(text).keys()], ['alice', 'bob']);
    assert.equal(parseScramUsers(text).get('alice')?.iterations, 5000);
    assert.ok(!text.includes('password') && !text.includes('builder'), 'no password in the file');

    const node = await startTestNode({ scramUsers: users }, { inMemory: true });
    try {
      assert.deepEqual(await mqttJsScramConnect(node.url, 'cli-alice', 'alice', 'second-password'), { reasonCode: 0, verified: true });
      assert.deepEqual(await mqttJsScramConnect(node.url, 'cli-bob', 'bob', 'builder'), { reasonCode: 0, verified: true });
      const old = await mqttJsScramConnect(node.url, 'cli-alice', 'alice', 'first-password');
      assert.equal(old.reasonCode, ReasonCode.BadUserNameOrPassword, 'the old password no longer works');
    } finally {
      await node.stop();
      removeDir(node.dataDir);
    }
  });

  it('refuses a password on the command line, an empty password, and a bad user name, changing nothing', () => {
    const before = readFileSync(users, 'utf8');
    for (const [args, stdin, why] of [
      [['scram-user', users, 'carol', 'secret'], 'secret\n', /expected <file> and <user>, got 3/],
      [['scram-user', users, 'carol', '--password', 'secret'], '', /unknown option --password/],
      [['scram-user', users, 'carol'], '\n', /empty password/],
      [['scram-user', users, '#carol'], 'secret\n', /may not start with "#"/],
      [['scram-user', users, 'carol', '--iterations', '100'], 'secret\n', /allowed 4096\.\./],
    ] as const) {
      const r = shoal([...args], stdin);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, why);
    }
    assert.equal(readFileSync(users, 'utf8'), before);
  });

  it('start fails with exit 2 naming the file (and line) when it is missing or malformed', () => {
    const missing = join(dir, 'nope');
    const r1 = shoal(['start', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--scram-users', missing]);
    assert.equal(r1.status, 2, r1.stderr);
    assert.equal(r1.stderr, `shoal: cannot read the SCRAM users file ${missing} (scramUsers from flag --scram-users): ENOENT; create it with \`shoal scram-user ${missing} <user>\`\n`);

    const broken = join(dir, 'broken');
    writeFileSync(broken, `${readFileSync(users, 'utf8')}carol:plaintext-password\n`);
    const r2 = shoal(['start', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data')], '', { SHOAL_SCRAM_USERS: broken });
    assert.equal(r2.status, 2, r2.stderr);
    assert.match(r2.stderr, new RegExp(`^shoal: SCRAM users file ${broken} \\(scramUsers from env SHOAL_SCRAM_USERS\\), line 3: expected username:salt:iterations:storedKey:serverKey`));
  });
});
