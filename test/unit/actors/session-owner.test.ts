// --session-owner-check: a session belongs to the user name that made it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exportSession, importSession, restoreSession } from '../../../src/actors/session.js';
import { newOutput } from '../../../src/actors/session-types.js';
import { decideSubscribe } from '../../../src/actors/subscribe-decision.js';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';
import { connect, deliverEvent, effectsOf, eventNames, message, SessionDriver, subOptions, T0 } from '../../helpers/session-driver.js';

function offlineSessionOf(username: string | null): SessionDriver {
  const d = new SessionDriver();
  d.send(connect({ expiry: 3600, username }));
  d.send({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a/#', options: subOptions(1) }] });
  d.send({ type: 'disconnect', connId: 1, kind: 'normal' });
  d.send(deliverEvent(message('a/1'), 1));
  return d;
}

describe('session owner', () => {
  it('refuses another user resuming an offline session (0x87), leaving it as it was', () => {
    const d = offlineSessionOf('alice');
    const before = JSON.stringify(exportSession(d.live));
    for (const [username, cleanStart] of [['bob', false], [null, false], ['bob', true]] as const) {
      const out = d.send(connect({ connId: 2, expiry: 3600, username, cleanStart }));
      assert.deepEqual(effectsOf(out, 'connack'), []);
      const [close] = effectsOf(out, 'close');
      assert.equal(close?.connId, 2);
      assert.equal(close?.reasonCode, ReasonCode.NotAuthorized);
      assert.match(close!.detail, /user "alice"/);
      assert.deepEqual(eventNames(out), ['session.owner.refused']);
      assert.deepEqual(out.store, [], 'nothing stored');
      assert.equal(JSON.stringify(exportSession(d.live)), before, 'session, queue and subscriptions untouched');
    }
    const out = d.send(connect({ connId: 3, expiry: 3600, username: 'alice' }));
    assert.deepEqual(effectsOf(out, 'connack'), [{ type: 'connack', connId: 3, clientId: 'c1', sessionPresent: true }]);
    assert.equal(effectsOf(out, 'publish').length, 1, 'the queued message goes to its owner');
  });

  it('refuses a takeover of a live session by another user; the live connection stays', () => {
    const d = new SessionDriver();
    d.send(connect({ connId: 1, expiry: 60, username: 'alice' }));
    const out = d.send(connect({ connId: 2, expiry: 60, username: 'mallory' }));
    assert.deepEqual(out.effects.map((e) => e.type), ['close', 'event'], 'no flow, no close of connection 1');
    assert.equal(effectsOf(out, 'close')[0]!.connId, 2);
    assert.equal(d.live.connId, 1);
  });

  it("an anonymous session is anonymous's: a user may not take it either", () => {
    const d = offlineSessionOf(null);
    assert.equal(effectsOf(d.send(connect({ connId: 2, expiry: 3600, username: 'alice' })), 'close')[0]?.reasonCode, ReasonCode.NotAuthorized);
    assert.equal(effectsOf(d.send(connect({ connId: 3, expiry: 3600, username: null })), 'connack').length, 1);
  });

  it('with the check off (Mosquitto), another user resumes it and becomes its owner', () => {
    const d = offlineSessionOf('alice');
    const out = d.send(connect({ connId: 2, expiry: 3600, username: 'bob', ownerCheck: false }));
    assert.equal(effectsOf(out, 'connack')[0]?.sessionPresent, true);
    assert.equal(d.live.username, 'bob');
    assert.equal(out.store.some((o) => o.op === 'putMeta' && o.meta.username === 'bob'), true, 'stored');
  });

  it('the owner is stored, restored and moved with the session', () => {
    const d = offlineSessionOf('alice');
    assert.equal(importSession(exportSession(d.live)).username, 'alice');
    const out = newOutput();
    const restored = restoreSession({ meta: { clientId: 'c1', username: 'alice', protocolVersion: 5, expiryIntervalSec: 3600, disconnectedAt: T0, will: null }, subscriptions: {}, inboundQos2: [], messages: [] }, T0, out);
    assert.equal(restored?.username, 'alice');
    assert.equal(effectsOf(out, 'routes')[0]?.username, 'alice', 'the node learns whose it is');
  });
});

describe('subscribe decision with the ACL', () => {
  it('a denied request gets 0x87 (0x80 on 3.1.1) and adds nothing', () => {
    const d = decideSubscribe(new Set<string>(), 0, [{ filter: 'a/#', options: subOptions(1) }, { filter: 'b', options: subOptions(0), denied: true }], 0);
    assert.deepEqual(d.codes, [1, ReasonCode.NotAuthorized]);
    assert.deepEqual(d.add.map((r) => r.filter), ['a/#']);
    assert.deepEqual(d.refused.map((r) => r.name), ['session.subscribe.denied']);
  });
});
