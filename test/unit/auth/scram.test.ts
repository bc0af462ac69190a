// The SCRAM-SHA-256 server state machine: RFC 7677's test vector, then every way an exchange can
// fail, and the users file it reads.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ScramServer, scramCredentials, type ScramCredentials, type ScramResult } from '../../../src/auth/scram.js';
import { ScramUsersFormatError, formatScramUser, parseScramUsers, upsertScramUser } from '../../../src/auth/scram-users.js';
import { ScramClient } from '../../helpers/scram-client.js';

// RFC 7677 §3: user "user", password "pencil".
const RFC = {
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

const pencil = scramCredentials('pencil', RFC.salt, 4096);
const fakeSaltKey = randomBytes(32);

function server(users: Record<string, ScramCredentials> = { user: pencil }, serverNonce = RFC.serverNonce): ScramServer {
  return new ScramServer({ lookup: (u) => users[u], serverNonce, fakeSaltKey });
}

function failureOf(r: ScramResult): string {
  assert.equal(r.kind, 'failure', JSON.stringify(r));
  return r.kind === 'failure' ? r.failure : '';
}

describe('SCRAM-SHA-256 server', () => {
  it('answers RFC 7677 test vector message for message', () => {
    const s = server();
    assert.deepEqual(s.step(RFC.clientFirst), { kind: 'continue', message: RFC.serverFirst });
    assert.deepEqual(s.step(RFC.clientFinal), { kind: 'success', message: RFC.serverFinal, username: 'user' });
  });

  it('the test client produces the vector client-final and verifies its server-final', () => {
    const c = new ScramClient('user', 'pencil', RFC.clientNonce);
    assert.equal(c.first(), RFC.clientFirst);
    assert.equal(c.final(RFC.serverFirst), RFC.clientFinal);
    assert.ok(c.verify(RFC.serverFinal));
    assert.ok(!c.verify('v=AAAA'));
  });

  it('refuses a wrong password with a credentials failure, after the full exchange', () => {
    const s = server();
    const c = new ScramClient('user', 'pencils');
    const first = s.step(c.first());
    assert.equal(first.kind, 'continue');
    const r = s.step(c.final(first.kind === 'continue' ? first.message : ''));
    assert.equal(failureOf(r), 'credentials');
    assert.match(r.kind === 'failure' ? r.detail : '', /wrong proof/);
  });

  it('runs an unknown user to the end with a stable fake salt, then refuses it like a wrong password', () => {
    const salts = [0, 1].map(() => {
      const s = server({}, `nonce${Math.random()}`.replace('.', ''));
      const c = new ScramClient('ghost', 'pencil');
      const first = s.step(c.first());
      assert.equal(first.kind, 'continue');
      const message = first.kind === 'continue' ? first.message : '';
      const r = s.step(c.final(message));
      assert.equal(failureOf(r), 'credentials');
      return /,s=([^,]+),i=4096$/.exec(message)?.[1];
    });
    assert.ok(salts[0] !== undefined && salts[0] === salts[1], 'same fake salt on every try');
  });

  it('unescapes =2C and =3D in user names, and refuses other escapes', () => {
    const name = 'a,b=c';
    const s = server({ [name]: pencil });
    const c = new ScramClient(name, 'pencil');
    const first = s.step(c.first());
    assert.equal(first.kind, 'continue');
    const r = s.step(c.final(first.kind === 'continue' ? first.message : ''));
    assert.deepEqual(r.kind === 'success' && r.username, name);
    assert.equal(failureOf(server().step('n,,n=us=2Der,r=abc')), 'malformed');
  });

  it('accepts an authorization identity equal to the user, refuses another', () => {
    assert.equal(server().step('n,a=user,n=user,r=abc').kind, 'continue');
    assert.equal(failureOf(server().step('n,a=admin,n=user,r=abc')), 'unsupported');
  });

  it('refuses channel binding and mandatory extensions as unsupported', () => {
    assert.equal(failureOf(server().step('p=tls-unique,,n=user,r=abc')), 'unsupported');
    assert.equal(failureOf(server().step('n,,m=ext,n=user,r=abc')), 'unsupported');
    assert.equal(server().step('y,,n=user,r=abc').kind, 'continue', "'y': the client can bind, we do not");
  });

  for (const [what, message] of [
    ['no gs2 header', 'n=user,r=abc'],
    ['an unknown binding flag', 'x,,n=user,r=abc'],
    ['no user', 'n,,r=abc'],
    ['an empty user', 'n,,n=,r=abc'],
    ['no nonce', 'n,,n=user'],
    ['a nonce with a comma-free but non-printable byte', 'n,,n=user,r=a\u0001b'],
  ] as const) {
    it(`refuses a client-first with ${what} as malformed`, () => {
      assert.equal(failureOf(server().step(message)), 'malformed');
    });
  }

  const proof = RFC.clientFinal.slice(RFC.clientFinal.indexOf(',p='));
  for (const [what, message] of [
    ['no proof', 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0'],
    ['another channel binding', `c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0${proof}`],
    ['another nonce', `c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1${proof}`],
    ['only the client nonce', `c=biws,r=rOprNGfwEbeRWgbNEkqO${proof}`],
    ['a short proof', 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA'],
    ['a proof that is not base64', 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!'],
  ] as const) {
    it(`refuses a client-final with ${what} as malformed`, () => {
      const s = server();
      assert.equal(s.step(RFC.clientFirst).kind, 'continue');
      assert.equal(failureOf(s.step(message)), 'malformed');
    });
  }

  it('ends after success or failure: a further message is refused', () => {
    const s = server();
    s.step(RFC.clientFirst);
    s.step(RFC.clientFinal);
    assert.equal(failureOf(s.step(RFC.clientFinal)), 'malformed');
    const f = server();
    f.step('garbage');
    assert.equal(failureOf(f.step(RFC.clientFirst)), 'malformed', 'a failed first step ends the exchange too');
  });

  it('rejects a server nonce SCRAM cannot carry', () => {
    assert.throws(() => server({}, 'has,comma'), RangeError);
  });
});

describe('SCRAM users file', () => {
  const line = formatScramUser('user', pencil);

  it('round-trips credentials, skipping comments and blank lines, with ":" allowed in names', () => {
    const users = parseScramUsers(`# users\n\n${line}\r\n${formatScramUser('a:b', pencil)}\n`);
    assert.deepEqual([...users.keys()], ['user', 'a:b']);
    assert.deepEqual(users.get('a:b'), pencil);
  });

  for (const [what, text, lineNo] of [
    ['too few fields', `${line}\nuser2:abc:4096`, 2],
    ['a bad salt', 'u:not base64!:4096:AAAA:AAAA', 1],
    ['too few iterations', `u:${pencil.salt.toString('base64')}:4095:${pencil.storedKey.toString('base64')}:${pencil.serverKey.toString('base64')}`, 1],
    ['a short StoredKey', `u:${pencil.salt.toString('base64')}:4096:AAAA:${pencil.serverKey.toString('base64')}`, 1],
    ['a duplicate user', `# x\n${line}\n${line}`, 3],
    ['a name with white space around it', ` ${line}`, 1],
  ] as const) {
    it(`names the line of ${what}`, () => {
      assert.throws(() => parseScramUsers(text), (e: unknown) => e instanceof ScramUsersFormatError && e.line === lineNo);
    });
  }

  it('upsert replaces the user\'s line in place and appends a new user, keeping comments', () => {
    const other = scramCredentials('other', Buffer.from('salt'), 4096);
    const start = `# keep me\n${line}\n${formatScramUser('bob', pencil)}\n`;
    const changed = upsertScramUser(start, 'user', other);
    assert.equal(changed.added, false);
    assert.equal(changed.text, `# keep me\n${formatScramUser('user', other)}\n${formatScramUser('bob', pencil)}\n`);
    const added = upsertScramUser(changed.text, 'carol', pencil);
    assert.equal(added.added, true);
    assert.deepEqual([...parseScramUsers(added.text).keys()], ['user', 'bob', 'carol']);
    assert.throws(() => upsertScramUser('broken line\n', 'x', pencil), ScramUsersFormatError);
  });
});
