import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  PasswordFileFormatError,
  formatPasswordHash,
  hashPassword,
  parsePasswordFile,
  upsertPasswordUser,
  verifyPassword,
} from '../../../src/auth/password-file.js';

// Written by mosquitto_passwd 2.0.11 (`mosquitto_passwd -c -b pw alice 'secret one'`).
const MOSQUITTO_LINE = 'alice:$7$101$idTg7gNP4cS/HJLh$AabXx9sCjK1lCtkAlT/Fih9YNR/Hno9laZF2k90Dll1ERVn8vz0E0N9qtAq0XMGXScZKCxRzPY3i7oxpTGzshQ==';

test('reads a $7$ line as mosquitto_passwd writes it and verifies its password', async () => {
  const users = parsePasswordFile(`# users\n${MOSQUITTO_LINE}\n\n`);
  const alice = users.get('alice')!;
  assert.equal(alice.kind, 'pbkdf2-sha512');
  assert.equal(alice.kind === 'pbkdf2-sha512' && alice.iterations, 101);
  assert.equal(await verifyPassword(alice, Buffer.from('secret one')), true);
  assert.equal(await verifyPassword(alice, Buffer.from('secret two')), false);
  assert.equal(await verifyPassword(alice, Buffer.alloc(0)), false);
  assert.equal(`alice:${formatPasswordHash(alice)}`, MOSQUITTO_LINE, 'written back byte for byte');
});

test('reads a $6$ line: SHA-512 of the password, then the salt (Mosquitto 1.x)', async () => {
  const salt = Buffer.from('0123456789ab');
  const hash = createHash('sha512').update('pw').update(salt).digest();
  const users = parsePasswordFile(`old:$6$${salt.toString('base64')}$${hash.toString('base64')}\r\n`);
  assert.equal(await verifyPassword(users.get('old')!, Buffer.from('pw')), true);
  assert.equal(await verifyPassword(users.get('old')!, Buffer.from('pW')), false);
});

test('a malformed line is an error naming the line; lines without ":" and comments are skipped', () => {
  const good = MOSQUITTO_LINE;
  const cases: [string, number, RegExp][] = [
    [`${good}\nbob:plaintext\n`, 2, /not a \$6\$ or \$7\$ hash/],
    [`x\n${good}\nbob:$7$101$short$AAAA\n`, 3, /salt is not 12 bytes/],
    [`bob:$7$0$${'A'.repeat(16)}$${'A'.repeat(86)}==\n`, 1, /iterations "0"/],
    [`bob:$7$101$${'A'.repeat(16)}$AAAA\n`, 1, /hash is not 64 bytes/],
    [`bob:$7$101$${'A'.repeat(16)}\n`, 1, /expected \$7\$<iterations>/],
    [`${good}\n${good}\n`, 2, /"alice" appears twice/],
    [`:$7$101$x$y\n`, 1, /user name is empty/],
  ];
  for (const [text, line, message] of cases) {
    assert.throws(() => parsePasswordFile(text), (e: unknown) => e instanceof PasswordFileFormatError && e.line === line && message.test(e.message), text);
  }
  assert.equal(parsePasswordFile('# only a comment\nno colon here\n').size, 0);
});

test('hashPassword makes what mosquitto_passwd makes: $7$101, 12-byte salt, 64-byte hash', async () => {
  const h = await hashPassword('pw');
  assert.match(formatPasswordHash(h), /^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
  assert.equal(await verifyPassword(h, Buffer.from('pw')), true);
});

test('upsert replaces, appends and deletes one user, keeping the other lines', async () => {
  const h = await hashPassword('x');
  const text = `# keep me\n${MOSQUITTO_LINE}\n`;
  const added = upsertPasswordUser(text, 'bob', h);
  assert.equal(added.found, false);
  assert.deepEqual([...parsePasswordFile(added.text).keys()], ['alice', 'bob']);
  assert.ok(added.text.startsWith('# keep me\n'));
  const changed = upsertPasswordUser(added.text, 'alice', h);
  assert.equal(changed.found, true);
  assert.equal(await verifyPassword(parsePasswordFile(changed.text).get('alice')!, Buffer.from('x')), true);
  const deleted = upsertPasswordUser(changed.text, 'alice', null);
  assert.deepEqual([...parsePasswordFile(deleted.text).keys()], ['bob']);
  assert.throws(() => upsertPasswordUser('bob:plain\n', 'x', h), PasswordFileFormatError);
});
