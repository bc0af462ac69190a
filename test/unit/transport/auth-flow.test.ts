// The MQTT side of enhanced authentication (§4.12), driven with a scripted method: which AUTH a
// client may send when, and which reason code each failure ends with.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IAuthPacket, IConnectPacket } from 'mqtt-packet';
import { AuthMethods, type AuthMethod, type AuthStep } from '../../../src/auth/enhanced-auth.js';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';
import { AuthFlow, type AuthOutcome } from '../../../src/transport/auth-flow.js';
import { ProtocolViolation } from '../../../src/transport/errors.js';

/** Data "more" → challenge "next"; "ok:<user>" → success as user; "bad" → wrong credentials; else refused. */
const scripted: AuthMethod = {
  name: 'TEST-1',
  begin() {
    return {
      step(data): AuthStep {
        const text = data?.toString() ?? '';
        if (text === 'more') return { kind: 'continue', data: Buffer.from('next') };
        if (text.startsWith('ok:')) return { kind: 'success', identity: text.slice(3), data: Buffer.from('final') };
        if (text === 'bad') return { kind: 'failure', why: 'credentials', detail: 'bad proof' };
        return { kind: 'failure', why: 'refused', detail: 'not this method' };
      },
    };
  },
};
const methods = new AuthMethods([scripted]);

function connect(data: string, username?: string, method = 'TEST-1'): IConnectPacket {
  const p: IConnectPacket = { cmd: 'connect', protocolVersion: 5, clientId: 'c', properties: { authenticationMethod: method, authenticationData: Buffer.from(data) } };
  if (username !== undefined) p.username = username;
  return p;
}

/** `method` null: none. */
function auth(reasonCode: number, data?: string, method: string | null = 'TEST-1'): IAuthPacket {
  const properties: IAuthPacket['properties'] = {};
  if (method !== null) properties.authenticationMethod = method;
  if (data !== undefined) properties.authenticationData = Buffer.from(data);
  return { cmd: 'auth', reasonCode, properties };
}

function started(p: IConnectPacket): { flow: AuthFlow; outcome: AuthOutcome } {
  const { flow, outcome } = AuthFlow.begin(methods, p.properties!.authenticationMethod!, p);
  assert.ok(flow !== null);
  return { flow, outcome };
}

/** A flow whose CONNECT was accepted as `user`. */
function connected(user = 'alice'): AuthFlow {
  const { flow, outcome } = started(connect(`ok:${user}`));
  assert.equal(outcome.kind, 'connected');
  return flow;
}

function violation(fn: () => unknown, code = ReasonCode.ProtocolError): void {
  assert.throws(fn, (e: unknown) => e instanceof ProtocolViolation && e.reasonCode === code);
}

describe('enhanced authentication flow', () => {
  it('refuses a method not offered with 0x8C, matching names exactly [MQTT-4.12.0-1]', () => {
    for (const name of ['SCRAM-SHA-1', 'test-1', 'TEST-1 ']) {
      const { flow, outcome } = AuthFlow.begin(methods, name, connect('ok:a', undefined, name));
      assert.equal(flow, null);
      assert.deepEqual(outcome.kind === 'refused' && outcome.reasonCode, ReasonCode.BadAuthenticationMethod, name);
    }
    assert.equal(AuthFlow.begin(undefined, 'TEST-1', connect('ok:a')).outcome.kind, 'refused', 'no methods at all');
  });

  it('challenges with AUTH 0x18 carrying the method, then connects with the final data for the CONNACK', () => {
    const p = connect('more');
    const { flow, outcome } = started(p);
    assert.deepEqual(outcome, { kind: 'challenge', packet: auth(ReasonCode.ContinueAuthentication, 'next') });
    assert.ok(flow.authenticating);
    const done = flow.onAuth(auth(ReasonCode.ContinueAuthentication, 'ok:alice'));
    assert.deepEqual(done, { kind: 'connected', connect: p, method: 'TEST-1', data: Buffer.from('final'), identity: 'alice' });
    assert.ok(!flow.authenticating);
  });

  it('refuses before CONNACK with 0x86 for credentials and 0x87 for anything else', () => {
    assert.deepEqual(pick(started(connect('bad')).outcome), ['refused', ReasonCode.BadUserNameOrPassword]);
    assert.deepEqual(pick(started(connect('junk')).outcome), ['refused', ReasonCode.NotAuthorized]);
    const { flow } = started(connect('more'));
    assert.deepEqual(pick(flow.onAuth(auth(0x18, 'bad'))), ['refused', ReasonCode.BadUserNameOrPassword]);
  });

  it('refuses a CONNECT whose User Name is not the authenticated user with 0x86', () => {
    assert.deepEqual(pick(started(connect('ok:alice', 'mallory')).outcome), ['refused', ReasonCode.BadUserNameOrPassword]);
    assert.equal(started(connect('ok:alice', 'alice')).outcome.kind, 'connected');
  });

  it('before CONNACK accepts only AUTH 0x18 with the CONNECT method [MQTT-4.12.0-3], [MQTT-4.12.0-5]', () => {
    violation(() => started(connect('more')).flow.onAuth(auth(ReasonCode.ReAuthenticate, 'ok:a')));
    violation(() => started(connect('more')).flow.onAuth(auth(ReasonCode.Success, 'ok:a')));
    violation(() => started(connect('more')).flow.onAuth(auth(0x18, 'ok:a', 'TEST-2')));
    violation(() => started(connect('more')).flow.onAuth(auth(0x18, 'ok:a', null)));
  });

  it('re-authenticates with AUTH 0x19, through challenges, to AUTH 0x00 [MQTT-4.12.1-1]', () => {
    const flow = connected();
    assert.deepEqual(flow.onAuth(auth(ReasonCode.ReAuthenticate, 'more')), { kind: 'challenge', packet: auth(0x18, 'next') });
    assert.deepEqual(flow.onAuth(auth(0x18, 'ok:alice')), { kind: 'reauthenticated', packet: auth(ReasonCode.Success, 'final') });
    assert.deepEqual(flow.onAuth(auth(ReasonCode.ReAuthenticate, 'ok:alice')).kind, 'reauthenticated', 'and again');
  });

  it('ends a failed re-authentication with 0x87, a DISCONNECT code, whatever the cause [MQTT-4.12.1-2]', () => {
    assert.deepEqual(pick(connected().onAuth(auth(0x19, 'bad'))), ['refused', ReasonCode.NotAuthorized]);
    assert.deepEqual(pick(connected().onAuth(auth(0x19, 'junk'))), ['refused', ReasonCode.NotAuthorized]);
    assert.deepEqual(pick(connected('alice').onAuth(auth(0x19, 'ok:bob'))), ['refused', ReasonCode.NotAuthorized], 'another user');
  });

  it('after CONNACK: 0x18 needs a re-authentication in progress, 0x19 needs none, 0x00 never comes from a client', () => {
    violation(() => connected().onAuth(auth(0x18, 'more')));
    const flow = connected();
    flow.onAuth(auth(0x19, 'more'));
    violation(() => flow.onAuth(auth(0x19, 'more')));
    violation(() => connected().onAuth(auth(ReasonCode.Success, 'ok:alice')));
    violation(() => connected().onAuth(auth(0x19, 'ok:alice', 'TEST-2')));
  });
});

function pick(o: AuthOutcome): [string, number | undefined] {
  return [o.kind, o.kind === 'refused' ? o.reasonCode : undefined];
}
