// --password-file, --acl-file, --allow-anonymous, --session-owner-check and the login lockout
// against a whole node over real TCP, with a password file written by Mosquitto's own
// mosquitto_passwd, on MQTT 3.1.1 and 5.0.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IConnackPacket, IConnectPacket, IPubackPacket, IPubrecPacket, ISubackPacket, Packet } from 'mqtt-packet';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { collector, connect, connectCollecting, removeDir, startTestNode, tempDir, type TestNode } from '../helpers/node.js';
import { makePki } from '../helpers/certs.js';
import { RawClient } from '../helpers/raw-client.js';

const ACL = `# anonymous
topic read public/#

user alice
topic readwrite alice/#
topic deny alice/secret
topic read news/#
topic write public/#

user bob
topic readwrite bob/#
topic read alice/shared/#

pattern readwrite clients/%c/#
pattern read inbox/%u
`;

function connectPacket(version: 4 | 5, clientId: string, username?: string, password?: string, extra: Partial<IConnectPacket> = {}): IConnectPacket {
  const p: IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: true, keepalive: 0, ...extra };
  if (username !== undefined) p.username = username;
  if (password !== undefined) p.password = Buffer.from(password);
  return p;
}

describe('password file, ACL and session owners', () => {
  let node: TestNode;
  let dir: string;
  const raws: RawClient[] = [];

  before(async () => {
    dir = tempDir('shoal-auth-');
    const passwords = join(dir, 'passwd');
    // Mosquitto's own tool writes the file Shoal reads.
    execFileSync('mosquitto_passwd', ['-c', '-b', passwords, 'alice', 'alice pw']);
    execFileSync('mosquitto_passwd', ['-b', passwords, 'bob', 'bob-pw']);
    execFileSync('mosquitto_passwd', ['-b', passwords, 'eve', 'eve-pw']);
    const acl = join(dir, 'acl');
    writeFileSync(acl, ACL);
    // Anonymous allowed explicitly (a password file alone would refuse it), so the anonymous ACL
    // section is reachable; the default is tested below.
    // No lockout here: every client comes from 127.0.0.1, and the wrong-password cases would lock
    // out the rest (the lockout has its own node below).
    node = await startTestNode({ passwordFile: passwords, aclFile: acl, allowAnonymous: 'true', authLockoutFailures: 0 }, { dataDir: join(dir, 'data') });
  });

  after(async () => {
    for (const r of raws) r.destroy();
    await node.stop();
    removeDir(dir);
  });

  async function raw(version: 4 | 5): Promise<RawClient> {
    const r = await RawClient.open(node.handle.mqtt.port, version);
    raws.push(r);
    return r;
  }

  /** The CONNACK code for this CONNECT (3.1.1 return code or v5 reason code), and whether the connection then closed. */
  async function connackFor(p: IConnectPacket, node_ = node): Promise<number> {
    const r = await RawClient.open(node_.handle.mqtt.port, p.protocolVersion as 4 | 5);
    raws.push(r);
    r.send(p);
    const ack = (await r.next('CONNACK')) as IConnackPacket;
    assert.equal(ack.cmd, 'connack');
    const code = p.protocolVersion === 5 ? ack.reasonCode! : ack.returnCode!;
    if (code !== 0) await r.waitClosed();
    return code;
  }

  it('accepts the passwords mosquitto_passwd hashed, on 3.1.1 and 5.0', async () => {
    assert.equal(await connackFor(connectPacket(4, 'a4', 'alice', 'alice pw')), 0);
    assert.equal(await connackFor(connectPacket(5, 'a5', 'alice', 'alice pw')), 0);
    const c = await connect(node.url, { clientId: 'bob-mqttjs', username: 'bob', password: 'bob-pw', protocolVersion: 5 });
    await c.endAsync();
  });

  it('refuses a wrong password, an unknown user and a missing password: 3.1.1 0x05, 5.0 0x86', async () => {
    for (const [user, pw] of [['alice', 'wrong'], ['nobody', 'x'], ['bob', undefined]] as const) {
      assert.equal(await connackFor(connectPacket(4, `w4-${user}`, user, pw)), 5, `${user} 3.1.1`);
      assert.equal(await connackFor(connectPacket(5, `w5-${user}`, user, pw)), ReasonCode.BadUserNameOrPassword, `${user} 5.0`);
    }
    const failed = node.logs.filter((l) => l.event === 'auth.failed');
    assert.ok(failed.length > 0 && failed.every((l) => typeof l.address === 'string' && (l.address as string).startsWith('127.0.0.1:')), 'logged with the address');
  });

  it('applies the ACL to SUBSCRIBE: 3.1.1 0x80, 5.0 0x87, granted filters unaffected', async () => {
    for (const version of [4, 5] as const) {
      const r = await raw(version);
      r.send(connectPacket(version, `sub${version}`, 'alice', 'alice pw'));
      assert.equal(((await r.next('CONNACK')) as IConnackPacket).cmd, 'connack');
      r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'alice/#', qos: 1 }, { topic: 'bob/#', qos: 1 }, { topic: 'alice/secret', qos: 0 }, { topic: 'news/+', qos: 0 }] });
      const suback = (await r.next('SUBACK')) as ISubackPacket;
      const refused = version === 5 ? ReasonCode.NotAuthorized : 0x80;
      assert.deepEqual(suback.granted, [1, refused, refused, 0], `v${version}`);
    }
  });

  it('drops a PUBLISH the ACL refuses: 5.0 PUBACK/PUBREC 0x87, 3.1.1 acknowledged; nobody receives it', async () => {
    const watcher = await connect(node.url, { clientId: 'watch-bob', username: 'bob', password: 'bob-pw', protocolVersion: 5 });
    const seen = collector(watcher);
    await watcher.subscribeAsync('bob/#', { qos: 1 });
    for (const version of [4, 5] as const) {
      const r = await raw(version);
      r.send(connectPacket(version, `pub${version}`, 'alice', 'alice pw'));
      await r.next('CONNACK');
      r.send({ cmd: 'publish', topic: 'bob/inbox', payload: Buffer.from('forged'), qos: 1, messageId: 7, retain: false, dup: false });
      const puback = (await r.next('PUBACK')) as IPubackPacket;
      assert.equal(puback.cmd, 'puback');
      assert.equal(puback.reasonCode ?? 0, version === 5 ? ReasonCode.NotAuthorized : 0);
      r.send({ cmd: 'publish', topic: 'bob/inbox', payload: Buffer.from('forged2'), qos: 2, messageId: 8, retain: true, dup: false });
      const pubrec = (await r.next('PUBREC')) as IPubrecPacket;
      assert.equal(pubrec.cmd, 'pubrec');
      assert.equal(pubrec.reasonCode ?? 0, version === 5 ? ReasonCode.NotAuthorized : 0);
      if (version === 4) {
        r.send({ cmd: 'pubrel', messageId: 8 });
        assert.equal((await r.next('PUBCOMP')).cmd, 'pubcomp', '3.1.1 completes the exchange');
      }
    }
    // A permitted message on the same connection as a marker: everything before it was dropped.
    const bob = await connect(node.url, { clientId: 'bob-pub', username: 'bob', password: 'bob-pw', protocolVersion: 4 });
    await bob.publishAsync('bob/inbox', 'real', { qos: 1 });
    const got = await seen.until(1);
    assert.deepEqual(got.map((m) => m.payload), ['real']);
    await bob.endAsync();
    await watcher.endAsync();
  });

  it('never delivers what a client may not read: live copies, retained messages, wildcards, patterns (3.1.1 and 5.0)', async () => {
    const alice = await connect(node.url, { clientId: 'alice-pub', username: 'alice', password: 'alice pw', protocolVersion: 5 });
    await alice.publishAsync('alice/shared/doc', 'retained-readable', { qos: 1, retain: true });
    await alice.publishAsync('alice/private', 'retained-private', { qos: 1, retain: true });
    for (const version of [4, 5] as const) {
      // bob may read alice/shared/# only; '#' overlaps it, so the SUBSCRIBE is granted and the rest is filtered.
      const { c: bob, got } = await connectCollecting(node.url, { clientId: `bob-read-${version}`, username: 'bob', password: 'bob-pw', protocolVersion: version });
      const granted = await bob.subscribeAsync('alice/#', { qos: 1 });
      assert.equal(granted[0]!.qos, 1);
      await alice.publishAsync('alice/private', 'live-private', { qos: 1 });
      await alice.publishAsync('alice/shared/doc', 'live-readable', { qos: 1 });
      const msgs = await got.until(2);
      assert.deepEqual(msgs.map((m) => m.payload).sort(), ['live-readable', 'retained-readable']);
      // A pattern grants per client id: clients/<own id>/# only, for reading and writing.
      await bob.subscribeAsync('clients/+/cmd', { qos: 1 });
      const other = await connect(node.url, { clientId: `other-${version}`, protocolVersion: 5 });
      await other.publishAsync(`clients/other-${version}/cmd`, 'not-bobs', { qos: 1 });
      await other.endAsync();
      await bob.publishAsync(`clients/bob-read-${version}/cmd`, 'mine', { qos: 1 });
      await alice.publishAsync('alice/shared/marker', 'marker', { qos: 1 });
      await got.until(4);
      assert.deepEqual(got.messages.slice(2).map((m) => m.payload), ['mine', 'marker']);
      await bob.endAsync();
    }
    await alice.endAsync();
  });

  it('lets an anonymous client read the anonymous section only', async () => {
    const { c, got } = await connectCollecting(node.url, { clientId: 'anon', protocolVersion: 4 });
    assert.equal((await c.subscribeAsync('public/#', { qos: 0 }))[0]!.qos, 0);
    await assert.rejects(c.subscribeAsync('alice/#', { qos: 0 }), /Subscribe error/, 'SUBACK 0x80');
    const alice = await connect(node.url, { clientId: 'alice-pub2', username: 'alice', password: 'alice pw', protocolVersion: 5 });
    await alice.publishAsync('public/1', 'p1', { qos: 1 });
    await alice.publishAsync('alice/x', 'no', { qos: 1 });
    await alice.publishAsync('public/2', 'p2', { qos: 1 });
    assert.deepEqual((await got.until(2)).map((m) => m.payload), ['p1', 'p2']);
    await alice.endAsync();
    await c.endAsync();
  });

  it('refuses resuming or taking over a session under another user name (0x87 / 0x05), leaving it and its queue as they were', async () => {
    const owner = await connect(node.url, { clientId: 'owned', username: 'alice', password: 'alice pw', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
    await owner.subscribeAsync('alice/q', { qos: 1 });
    await owner.endAsync();
    const pub = await connect(node.url, { clientId: 'alice-q-pub', username: 'alice', password: 'alice pw', protocolVersion: 5 });
    await pub.publishAsync('alice/q', 'queued-1', { qos: 1 });
    assert.equal(await connackFor(connectPacket(5, 'owned', 'bob', 'bob-pw', { clean: false, properties: { sessionExpiryInterval: 3600 } })), ReasonCode.NotAuthorized);
    assert.equal(await connackFor(connectPacket(4, 'owned', 'bob', 'bob-pw', { clean: true })), 5, '3.1.1, even with Clean Session');
    assert.equal(await connackFor(connectPacket(4, 'owned', undefined, undefined, { clean: false })), 5, 'anonymous');
    assert.ok(node.logs.some((l) => l.event === 'session.owner.refused'), 'logged');
    // Taking over a live session fails the same way, and the live connection stays.
    const { c: back, got } = await connectCollecting(node.url, { clientId: 'owned', username: 'alice', password: 'alice pw', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
    assert.deepEqual((await got.until(1)).map((m) => m.payload), ['queued-1'], 'the queue is intact');
    assert.equal(await connackFor(connectPacket(5, 'owned', 'eve', 'eve-pw', { clean: false, properties: { sessionExpiryInterval: 3600 } })), ReasonCode.NotAuthorized);
    await pub.publishAsync('alice/q', 'live-2', { qos: 1 });
    assert.deepEqual((await got.until(2)).map((m) => m.payload), ['queued-1', 'live-2'], 'still connected and subscribed');
    await back.endAsync();
    await pub.endAsync();
  });

  it('throttles brute force per address: after 3 wrong passwords even the right one is refused (0x9F)', async () => {
    // A fresh node: the earlier cases' failures count towards this node's lockout too.
    const fresh = await startTestNode({ passwordFile: join(dir, 'passwd'), authLockoutFailures: 3, authLockoutMaxSec: 60 }, { inMemory: true });
    try {
      for (let i = 0; i < 3; i++) assert.equal(await connackFor(connectPacket(5, `bf${i}`, 'alice', `guess${i}`), fresh), ReasonCode.BadUserNameOrPassword);
      assert.equal(await connackFor(connectPacket(5, 'bf-right', 'alice', 'alice pw'), fresh), ReasonCode.ConnectionRateExceeded);
      assert.equal(await connackFor(connectPacket(4, 'bf-right4', 'alice', 'alice pw'), fresh), 3, '3.1.1: Server unavailable');
      assert.ok(fresh.logs.some((l) => l.event === 'auth.failed' && l.why === 'locked'));
    } finally {
      await fresh.stop();
    }
  });

  it('refuses anonymous clients by default when a password file is set, and says so at start-up', async () => {
    const strict = await startTestNode({ passwordFile: join(dir, 'passwd') }, { inMemory: true });
    try {
      const line = strict.logs.find((l) => l.event === 'auth.anonymous');
      assert.equal(line?.allowed, false);
      assert.match(String(line?.msg), /anonymous clients are refused/);
      assert.equal(await connackFor(connectPacket(5, 'anon5'), strict), ReasonCode.NotAuthorized);
      assert.equal(await connackFor(connectPacket(4, 'anon4'), strict), 5);
      assert.equal(await connackFor(connectPacket(4, 'named4', 'alice', 'alice pw'), strict), 0);
    } finally {
      await strict.stop();
    }
    const open = await startTestNode({}, { inMemory: true });
    try {
      assert.equal(open.logs.find((l) => l.event === 'auth.anonymous')?.allowed, true, 'loopback only, no password file');
      assert.equal(await connackFor(connectPacket(4, 'anon4'), open), 0);
    } finally {
      await open.stop();
    }
  });

  it('a TLS client certificate CN (--tls-cn-as-username) is an authenticated user: no password, its own ACL rules', async () => {
    const pkiDir = tempDir('shoal-auth-pki-');
    const pki = makePki(pkiDir);
    const server = pki.server('server', '1001');
    const acl = join(pkiDir, 'acl');
    writeFileSync(acl, 'user sensor-1\ntopic readwrite sensors/#\n');
    const tlsNode = await startTestNode(
      { tls: '127.0.0.1:0', tlsCert: server.cert, tlsKey: server.key, tlsCa: pki.ca, tlsRequireClientCert: true, tlsCnAsUsername: true, passwordFile: join(dir, 'passwd'), aclFile: acl },
      { inMemory: true },
    );
    try {
      const cert = pki.client('sensor', 'sensor-1', '2001');
      const c = await connect(`mqtts://localhost:${tlsNode.handle.transports.tls!.port}`, {
        clientId: 'sensor-conn', protocolVersion: 5, ca: readFileSync(pki.ca), cert: readFileSync(cert.cert), key: readFileSync(cert.key),
      });
      assert.equal((await c.subscribeAsync('sensors/#', { qos: 1 }))[0]!.qos, 1, "sensor-1's rule");
      await assert.rejects(c.subscribeAsync('alice/#', { qos: 1 }));
      await c.endAsync();
    } finally {
      await tlsNode.stop();
      removeDir(pkiDir);
    }
  });

  it('refuses a will on a topic the client may not write (0x87)', async () => {
    const p = connectPacket(5, 'will-bob', 'bob', 'bob-pw', { will: { topic: 'alice/fake', payload: Buffer.from('x'), qos: 0, retain: false } });
    assert.equal(await connackFor(p), ReasonCode.NotAuthorized);
  });
});

export type { Packet };
