// MQTT 5 enhanced authentication (§4.12) with SCRAM-SHA-256 over real TCP against a whole node:
// raw mqtt-packet clients for exact AUTH flows, MQTT.js for a real client's view.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IAuthPacket, IConnackPacket, IConnectPacket, IDisconnectPacket, Packet } from 'mqtt-packet';
import { scramCredentials } from '../../src/auth/scram.js';
import { formatScramUser } from '../../src/auth/scram-users.js';
import type { NodeEvents } from '../../src/node.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import type { CloseReason } from '../../src/transport/connection.js';
import { removeDir, startTestNode, tempDir, waitFor, type TestNode } from '../helpers/node.js';
import { RawClient } from '../helpers/raw-client.js';
import { ScramClient, mqttJsScramConnect } from '../helpers/scram-client.js';

const METHOD = 'SCRAM-SHA-256';
/** Short, so the stalled-exchange test waits little; every step here takes a few ms. */
const CONNECT_TIMEOUT_MS = 1500;

describe('enhanced authentication: SCRAM-SHA-256 over TCP', () => {
  let node: TestNode;
  let dir: string;
  const raws: RawClient[] = [];

  before(async () => {
    dir = tempDir('shoal-scram-');
    const users = join(dir, 'scram-users');
    writeFileSync(users, `# test users\n${formatScramUser('alice', scramCredentials('wonderland', randomBytes(16), 4096))}\n${formatScramUser('bob', scramCredentials('builder', randomBytes(16), 4096))}\n`);
    node = await startTestNode({ scramUsers: users, connectTimeoutMs: CONNECT_TIMEOUT_MS }, { dataDir: join(dir, 'data') });
  });

  after(async () => {
    for (const r of raws) r.destroy();
    await node.stop();
    removeDir(dir);
  });

  async function raw(): Promise<RawClient> {
    const r = await RawClient.open(node.handle.mqtt.port, 5);
    raws.push(r);
    return r;
  }

  function connectWith(clientId: string, data: string | undefined, extra: Partial<IConnectPacket> = {}, method = METHOD): IConnectPacket {
    const properties: IConnectPacket['properties'] = { authenticationMethod: method };
    if (data !== undefined) properties.authenticationData = Buffer.from(data);
    return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 0, properties, ...extra };
  }

  function authWith(reasonCode: number, data: string, method = METHOD): IAuthPacket {
    return { cmd: 'auth', reasonCode, properties: { authenticationMethod: method, authenticationData: Buffer.from(data) } };
  }

  async function expectPacket<T extends Packet>(c: RawClient, cmd: T['cmd'], what: string): Promise<T> {
    const p = await c.next(what);
    assert.equal(p.cmd, cmd, `${what}: got ${JSON.stringify(p)}`);
    return p as T;
  }

  /** AUTH 0x18 carrying the method [MQTT-4.12.0-2], [MQTT-4.12.0-5]; returns its data. */
  async function expectChallenge(c: RawClient): Promise<string> {
    const p = await expectPacket<IAuthPacket>(c, 'auth', 'AUTH 0x18');
    assert.equal(p.reasonCode, ReasonCode.ContinueAuthentication);
    assert.equal(p.properties?.authenticationMethod, METHOD);
    return p.properties?.authenticationData?.toString() ?? '';
  }

  async function expectRefusal(c: RawClient, reasonCode: number): Promise<void> {
    const p = await expectPacket<IConnackPacket>(c, 'connack', `CONNACK 0x${reasonCode.toString(16)}`);
    assert.equal(p.reasonCode, reasonCode, JSON.stringify(p));
    await c.waitClosed();
  }

  /** Runs the CONNECT exchange as `user`; resolves with the CONNACK. */
  async function scramConnect(c: RawClient, clientId: string, user: string, password: string, extra: Partial<IConnectPacket> = {}): Promise<{ connack: IConnackPacket | null; scram: ScramClient }> {
    const scram = new ScramClient(user, password);
    c.send(connectWith(clientId, scram.first(), extra));
    const serverFirst = await expectChallenge(c);
    c.send(authWith(ReasonCode.ContinueAuthentication, scram.final(serverFirst)));
    const p = await c.next('CONNACK');
    assert.equal(p.cmd, 'connack', JSON.stringify(p));
    return { connack: p as IConnackPacket, scram };
  }

  function nextClose(clientId: string): Promise<CloseReason> {
    return waitFor<NodeEvents['client.disconnected']>(node.handle.events, 'client.disconnected', (e) => e.clientId === clientId, 5000).then(([e]) => e.reason);
  }

  it('authenticates: CONNACK 0 carries the method and a server-final the client verifies; the connection works', async () => {
    const c = await raw();
    const { connack, scram } = await scramConnect(c, 'scram-ok', 'alice', 'wonderland');
    assert.equal(connack?.reasonCode, 0);
    assert.equal(connack?.properties?.authenticationMethod, METHOD); // [MQTT-4.12.0-5]
    assert.ok(scram.verify(connack?.properties?.authenticationData?.toString() ?? ''), 'server-final proves the server knows the user');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'scram/ok', qos: 1 }] });
    // After the SUBACK: a PUBLISH pipelined behind a SUBSCRIBE is issue 19's other part.
    assert.equal((await expectPacket(c, 'suback', 'SUBACK')).cmd, 'suback');
    c.send({ cmd: 'publish', topic: 'scram/ok', payload: Buffer.from('hi'), qos: 0, dup: false, retain: false });
    const delivered = await expectPacket<Packet & { payload: Buffer }>(c, 'publish', 'own message');
    assert.equal(delivered.payload.toString(), 'hi');
  });

  it('accepts a CONNECT User Name equal to the SCRAM user, refuses another with 0x86', async () => {
    const same = await raw();
    assert.equal((await scramConnect(same, 'scram-same-name', 'alice', 'wonderland', { username: 'alice' })).connack?.reasonCode, 0);
    const other = await raw();
    const closed = nextClose('scram-other-name');
    assert.equal((await scramConnect(other, 'scram-other-name', 'alice', 'wonderland', { username: 'bob' })).connack?.reasonCode, ReasonCode.BadUserNameOrPassword);
    await other.waitClosed();
    assert.match((await closed).detail, /User Name "bob" is not the authenticated user "alice"/);
  });

  it('refuses a wrong password with CONNACK 0x86 and closes', async () => {
    const c = await raw();
    const { connack } = await scramConnect(c, 'scram-wrong', 'alice', 'not-the-password');
    assert.equal(connack?.reasonCode, ReasonCode.BadUserNameOrPassword);
    assert.equal(connack?.properties?.authenticationData, undefined, 'no server-final for a failure');
    await c.waitClosed();
  });

  it('refuses an unknown user exactly like a wrong password (0x86, after a full exchange)', async () => {
    const c = await raw();
    const { connack } = await scramConnect(c, 'scram-ghost', 'ghost', 'wonderland');
    assert.equal(connack?.reasonCode, ReasonCode.BadUserNameOrPassword);
    await c.waitClosed();
  });

  it('refuses a method it does not offer with CONNACK 0x8C and closes, names matched exactly [MQTT-4.12.0-1]', async () => {
    for (const [i, method] of ['SCRAM-SHA-512', 'scram-sha-256'].entries()) {
      const c = await raw();
      c.send(connectWith(`scram-method-${i}`, 'n,,n=alice,r=abc', {}, method));
      await expectRefusal(c, ReasonCode.BadAuthenticationMethod);
    }
  });

  it('refuses a client-first that is not SCRAM with CONNACK 0x87', async () => {
    const c = await raw();
    c.send(connectWith('scram-garbage', 'hello'));
    await expectRefusal(c, ReasonCode.NotAuthorized);
  });

  it('refuses anything but AUTH or DISCONNECT during the exchange with CONNACK 0x82 [MQTT-3.1.2-30]', async () => {
    const c = await raw();
    c.send(connectWith('scram-early-publish', new ScramClient('alice', 'wonderland').first()));
    await expectChallenge(c);
    c.send({ cmd: 'publish', topic: 'scram/early', payload: Buffer.from('x'), qos: 0, dup: false, retain: false });
    await expectRefusal(c, ReasonCode.ProtocolError);
  });

  it('refuses an AUTH naming another method during the exchange with CONNACK 0x82 [MQTT-4.12.0-5]', async () => {
    const c = await raw();
    const scram = new ScramClient('alice', 'wonderland');
    c.send(connectWith('scram-switch', scram.first()));
    const serverFirst = await expectChallenge(c);
    c.send(authWith(ReasonCode.ContinueAuthentication, scram.final(serverFirst), 'SCRAM-SHA-1'));
    await expectRefusal(c, ReasonCode.ProtocolError);
  });

  it('closes a client that stalls mid-exchange after the connect timeout', async () => {
    const c = await raw();
    const closed = nextClose('scram-stall');
    c.send(connectWith('scram-stall', new ScramClient('alice', 'wonderland').first()));
    await expectChallenge(c);
    const sentAt = Date.now();
    await c.waitClosed(CONNECT_TIMEOUT_MS + 3000);
    const reason = await closed;
    assert.match(reason.detail, /no AUTH to continue the authentication within 1500 ms/);
    assert.ok(Date.now() - sentAt >= CONNECT_TIMEOUT_MS - 100, 'not before the timeout');
  });

  it('re-authenticates on a live connection: AUTH 0x19 → 0x18 → 0x18 → AUTH 0x00 with a verified server-final', async () => {
    const c = await raw();
    assert.equal((await scramConnect(c, 'scram-reauth', 'alice', 'wonderland')).connack?.reasonCode, 0);
    for (let round = 0; round < 2; round++) {
      const again = new ScramClient('alice', 'wonderland');
      c.send(authWith(ReasonCode.ReAuthenticate, again.first()));
      const serverFirst = await expectChallenge(c);
      c.send(authWith(ReasonCode.ContinueAuthentication, again.final(serverFirst)));
      const done = await expectPacket<IAuthPacket>(c, 'auth', 'AUTH 0x00');
      assert.equal(done.reasonCode, ReasonCode.Success);
      assert.equal(done.properties?.authenticationMethod, METHOD);
      assert.ok(again.verify(done.properties?.authenticationData?.toString() ?? ''), `round ${round}: server-final verified`);
    }
    c.send({ cmd: 'pingreq' });
    assert.equal((await expectPacket(c, 'pingresp', 'PINGRESP')).cmd, 'pingresp', 'the connection carries on');
  });

  it('packets keep flowing while a re-authentication is in progress (§4.12.1)', async () => {
    const c = await raw();
    assert.equal((await scramConnect(c, 'scram-reauth-flow', 'alice', 'wonderland')).connack?.reasonCode, 0);
    const again = new ScramClient('alice', 'wonderland');
    c.send(authWith(ReasonCode.ReAuthenticate, again.first()));
    const serverFirst = await expectChallenge(c);
    c.send({ cmd: 'pingreq' });
    assert.equal((await expectPacket(c, 'pingresp', 'PINGRESP')).cmd, 'pingresp');
    c.send(authWith(ReasonCode.ContinueAuthentication, again.final(serverFirst)));
    assert.equal((await expectPacket<IAuthPacket>(c, 'auth', 'AUTH 0x00')).reasonCode, ReasonCode.Success);
  });

  for (const [what, user, password] of [
    ['a wrong password', 'alice', 'wrong'],
    ['another user', 'bob', 'builder'],
  ] as const) {
    it(`ends a re-authentication with ${what} by DISCONNECT 0x87 [MQTT-4.12.1-2]`, async () => {
      const c = await raw();
      assert.equal((await scramConnect(c, `scram-reauth-fail-${user}`, 'alice', 'wonderland')).connack?.reasonCode, 0);
      const again = new ScramClient(user, password);
      c.send(authWith(ReasonCode.ReAuthenticate, again.first()));
      const serverFirst = await expectChallenge(c);
      c.send(authWith(ReasonCode.ContinueAuthentication, again.final(serverFirst)));
      const p = await expectPacket<IDisconnectPacket>(c, 'disconnect', 'DISCONNECT 0x87');
      assert.equal(p.reasonCode, ReasonCode.NotAuthorized);
      await c.waitClosed();
    });
  }

  it('treats AUTH on a connection whose CONNECT named no method as a protocol error: DISCONNECT 0x82 [MQTT-4.12.0-7]', async () => {
    const c = await raw();
    await c.handshake('no-method');
    c.send(authWith(ReasonCode.ReAuthenticate, 'n,,n=alice,r=abc'));
    const p = await expectPacket<IDisconnectPacket>(c, 'disconnect', 'DISCONNECT 0x82');
    assert.equal(p.reasonCode, ReasonCode.ProtocolError);
    await c.waitClosed();
  });

  it('works with MQTT.js: CONNECT with Authentication Data, handleAuth answers the challenge', async () => {
    assert.deepEqual(await mqttJsScramConnect(node.url, 'scram-mqttjs', 'bob', 'builder'), { reasonCode: 0, verified: true });
    assert.deepEqual(await mqttJsScramConnect(node.url, 'scram-mqttjs', 'bob', 'wrong'), { reasonCode: ReasonCode.BadUserNameOrPassword, verified: false });
  });
});

describe('enhanced authentication on a node without --scram-users', () => {
  it('refuses SCRAM-SHA-256 with CONNACK 0x8C', async () => {
    const node = await startTestNode({}, { inMemory: true });
    const c = await RawClient.open(node.handle.mqtt.port, 5);
    try {
      c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'no-scram', clean: true, keepalive: 0, properties: { authenticationMethod: METHOD, authenticationData: Buffer.from('n,,n=alice,r=abc') } });
      const p = await c.next('CONNACK');
      assert.equal(p.cmd === 'connack' && p.reasonCode, ReasonCode.BadAuthenticationMethod);
      await c.waitClosed();
    } finally {
      c.destroy();
      await node.stop();
      removeDir(node.dataDir);
    }
  });
});
