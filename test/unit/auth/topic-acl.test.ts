import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AclFileFormatError, parseAclFile } from '../../../src/auth/acl-file.js';
import { TopicAcl, covers, overlaps } from '../../../src/auth/topic-acl.js';

const FILE = `# anonymous clients
topic read public/#
topic $SYS/broker/uptime

user alice
topic readwrite alice/#
topic deny alice/secret
topic write shared/in
topic read shared/#

user bob
topic read alice/+/feed

# everyone
pattern readwrite devices/%c/#
pattern read users/%u/inbox
pattern deny devices/%c/locked
`;

const acl = new TopicAcl(parseAclFile(FILE));

test('anonymous clients get the rules before the first user line, and patterns', () => {
  assert.equal(acl.mayRead(null, 'c1', 'public/news'), true);
  assert.equal(acl.mayPublish(null, 'c1', 'public/news'), false, 'read only');
  assert.equal(acl.mayPublish(null, 'c1', '$SYS/broker/uptime'), true, 'no access word: readwrite');
  assert.equal(acl.mayRead(null, 'c1', 'alice/x'), false);
  assert.equal(acl.mayPublish(null, 'c1', 'devices/c1/t'), true, '%c');
  assert.equal(acl.mayRead(null, 'c1', 'users/%u/inbox'), false, 'a %u rule never applies without a user name');
});

test("a user gets that user's rules, not the anonymous ones; deny rules come first", () => {
  assert.equal(acl.mayPublish('alice', 'a', 'alice/notes'), true);
  assert.equal(acl.mayRead('alice', 'a', 'alice/secret'), false, 'deny listed after the grant still wins');
  assert.equal(acl.mayPublish('alice', 'a', 'alice/secret'), false);
  assert.equal(acl.mayRead('alice', 'a', 'public/news'), false, 'anonymous rules are not a user\'s');
  // write-only shared/in matches first, without read: the next rule (read shared/#) decides.
  assert.equal(acl.mayRead('alice', 'a', 'shared/in'), true);
  assert.equal(acl.mayPublish('alice', 'a', 'shared/out'), false);
  assert.equal(acl.mayRead('alice', 'a', 'users/alice/inbox'), true, '%u');
  assert.equal(acl.mayRead('bob', 'b', 'users/alice/inbox'), false);
  assert.equal(acl.mayRead('bob', 'b', 'alice/x/feed'), true);
  assert.equal(acl.mayRead('carol', 'c', 'devices/c/t'), true, 'a user without rules still gets the patterns');
  assert.equal(acl.mayPublish('carol', 'c', 'devices/c/locked'), false, 'pattern deny');
});

test("patterns never apply to a client id or user name with '+' or '#'", () => {
  assert.equal(acl.mayPublish(null, '+', 'devices/+/x'), false);
  assert.equal(acl.mayPublish('ev#l', 'c', 'devices/c/x'), false);
  assert.equal(acl.mayPublish('alice', 'a+', 'alice/x'), true, "a user's own topic rules still apply");
});

test("a '$' topic is matched only by rules that start with it", () => {
  const all = new TopicAcl(parseAclFile('topic read #\n'));
  assert.equal(all.mayRead(null, 'c', 'a/b'), true);
  assert.equal(all.mayRead(null, 'c', '$SYS/broker/uptime'), false);
});

test('SUBSCRIBE: refused when a deny rule covers the filter or no read rule overlaps it', () => {
  assert.equal(acl.maySubscribe('alice', 'a', 'alice/#'), true);
  assert.equal(acl.maySubscribe('alice', 'a', '#'), true, 'overlaps alice/#: deliveries are filtered');
  assert.equal(acl.maySubscribe('alice', 'a', 'alice/secret'), false, 'deny covers it');
  assert.equal(acl.maySubscribe('alice', 'a', 'bob/#'), false, 'nothing readable there');
  assert.equal(acl.maySubscribe(null, 'c1', 'public/+'), true);
  assert.equal(acl.maySubscribe(null, 'c1', '$share/g/public/#'), true, 'the shared filter is checked');
  assert.equal(acl.maySubscribe(null, 'c1', '$share/g/private/#'), false);
  assert.equal(acl.maySubscribe(null, 'c1', 'devices/c1/#'), true);
  assert.equal(acl.maySubscribe(null, 'c1', 'devices/c2/#'), false);
  assert.equal(acl.maySubscribe(null, 'c1', '$SYS/#'), true);
  assert.equal(acl.maySubscribe('bob', 'b', '$SYS/#'), false);
});

test('filter relations: covers and overlaps', () => {
  const s = (f: string): string[] => f.split('/');
  assert.equal(covers(s('a/#'), s('a/+/b')), true);
  assert.equal(covers(s('a/+'), s('a/#')), false);
  assert.equal(covers(s('#'), s('$SYS/x')), false);
  assert.equal(covers(s('a/#'), s('a')), true);
  assert.equal(overlaps(s('a/+'), s('+/b')), true);
  assert.equal(overlaps(s('a/b'), s('a/c')), false);
  assert.equal(overlaps(s('a/#'), s('a')), true);
  assert.equal(overlaps(s('#'), s('$SYS/#')), false);
  assert.equal(overlaps(s('a/b/c'), s('a/+')), false);
});

test('a bad ACL line is an error naming it', () => {
  const cases: [string, number, RegExp][] = [
    ['topic read a\nfoo bar\n', 2, /unknown keyword "foo"/],
    ['user\n', 1, /without a user name/],
    ['topic maybe a/b\n', 1, /access "maybe"/],
    ['topic read a/#/b\n', 1, /filter "a\/#\/b"/],
    ['pattern\n', 1, /without a topic filter/],
  ];
  for (const [text, line, message] of cases) {
    assert.throws(() => parseAclFile(text), (e: unknown) => e instanceof AclFileFormatError && e.line === line && message.test(e.message), text);
  }
});
