import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessControl, hostOf, type LoginRequest, type LoginResult } from '../../../src/auth/access-control.js';
import { formatPasswordHash, hashPassword } from '../../../src/auth/password-file.js';
import { ConfigError } from '../../../src/config/errors.js';
import { parseConfig } from '../../../src/config/options.js';

const req = (username: string | undefined, password?: string, address = '10.0.0.1:5000'): LoginRequest => ({
  username,
  password: password === undefined ? undefined : Buffer.from(password),
  authenticatedAs: undefined,
  address,
});

async function withFiles(fn: (dir: string, passwd: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-ac-'));
  try {
    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, `alice:${formatPasswordHash(await hashPassword('right'))}\n`);
    await fn(dir, passwd);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const why = (r: LoginResult): string => (r.ok ? `ok:${r.username}` : r.why);

test('without a password file a user name is taken as given, if anonymous access is allowed', async () => {
  const open = new AccessControl(parseConfig({ listen: '127.0.0.1:1883' }, 't'));
  assert.equal(why(await open.login(req('bob'), 0)), 'ok:bob');
  assert.equal(why(await open.login(req(undefined), 0)), 'ok:null');
  const closed = new AccessControl(parseConfig({ listen: '0.0.0.0:1883' }, 't'));
  assert.equal(why(await closed.login(req('bob'), 0)), 'anonymous');
  assert.equal(why(await closed.login({ ...req('bob'), authenticatedAs: 'carol' }, 0)), 'ok:carol', 'SCRAM or a certificate proved it');
});

test('a password file: right, wrong, unknown and missing passwords; then a lockout per host', async () => {
  await withFiles(async (_dir, passwd) => {
    const ac = new AccessControl(parseConfig({ listen: '0.0.0.0:1883', passwordFile: passwd, authLockoutFailures: 3 }, 't'));
    assert.equal(why(await ac.login(req('alice', 'right'), 0)), 'ok:alice');
    assert.equal(why(await ac.login(req('alice', 'wrong'), 1)), 'credentials');
    assert.equal(why(await ac.login(req('nobody', 'right'), 2)), 'credentials');
    assert.equal(why(await ac.login(req('alice'), 3)), 'credentials');
    assert.equal(why(await ac.login(req('alice', 'right'), 4)), 'locked', 'three failures in a row from 10.0.0.1');
    assert.equal(why(await ac.login(req('alice', 'right', '[::1]:7'), 4)), 'ok:alice', 'another host is not locked');
    assert.equal(why(await ac.login(req('alice', 'right'), 1005)), 'ok:alice', 'the first lockout lasts 1 s');
    assert.equal(why(await ac.login(req(undefined), 1006)), 'anonymous');
  });
});

test('at most two password checks run at once; the others wait their turn and all finish', async () => {
  await withFiles(async (_dir, passwd) => {
    const ac = new AccessControl(parseConfig({ listen: '127.0.0.1:1883', passwordFile: passwd, authLockoutFailures: 0 }, 't'));
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => ac.login(req('alice', i % 2 === 0 ? 'right' : 'no', `10.0.0.${i}:1`), 0)));
    assert.deepEqual(results.map(why), Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'ok:alice' : 'credentials')));
  });
});

test('a bad file fails start-up with a ConfigError naming it; on reload it keeps the old contents', async () => {
  await withFiles(async (dir, passwd) => {
    const acl = join(dir, 'acl');
    writeFileSync(acl, 'topic read a/#\n');
    assert.throws(() => new AccessControl(parseConfig({ aclFile: join(dir, 'missing') }, 't')), (e: unknown) => e instanceof ConfigError && /aclFile .*missing.*cannot read it: ENOENT/.test(e.message));
    const ac = new AccessControl(parseConfig({ listen: '127.0.0.1:1883', passwordFile: passwd, aclFile: acl }, 't'));
    writeFileSync(acl, 'topic read b/#\nbogus\n');
    writeFileSync(passwd, 'alice:plain\n');
    const outcomes = ac.reload();
    assert.deepEqual(outcomes.map((o) => [o.file, o.error !== null]), [['passwordFile', true], ['aclFile', true]]);
    assert.match(outcomes[1]!.error!, /line 2: unknown keyword "bogus"/);
    assert.equal(ac.acl!.mayRead(null, 'c', 'a/1'), true, 'old ACL in force');
    assert.equal(why(await ac.login(req('alice', 'right'), 0)), 'ok:alice', 'old password file in force');
    writeFileSync(acl, 'topic read b/#\n');
    const again = ac.reload();
    assert.equal(again[0]!.error, outcomes[0]!.error, 'the password file is still broken');
    assert.equal(again[1]!.error, null);
    assert.equal(ac.acl!.mayRead(null, 'c', 'b/1'), true, 'new ACL in force');
  });
});

test('hostOf strips the port', () => {
  assert.equal(hostOf('1.2.3.4:5678'), '1.2.3.4');
  assert.equal(hostOf('[::1]:5678'), '::1');
  assert.equal(hostOf('[::ffff:1.2.3.4]:1'), '::ffff:1.2.3.4');
});
