import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InflightWindow } from '../../../src/actors/inflight-window.js';
import type { MessageQueue } from '../../../src/actors/message-queue.js';
import { exportSession, importSession, restoreSession } from '../../../src/actors/session.js';
import { ownCopy } from '../../../src/actors/session-outbound.js';
import { newOutput, nextDeadline, SESSION_NEVER_EXPIRES, type SessionLimits, type SubscribeRequest } from '../../../src/actors/session-types.js';
import { decideSubscribe, type SubscribeDecision } from '../../../src/actors/subscribe-decision.js';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';
import type { StoredMessage, StoredSession } from '../../../src/storage/types.js';
import {
  connect,
  deliverEvent,
  effectsOf,
  eventNames,
  LIMITS,
  message,
  SessionDriver,
  subOptions,
  T0,
  will,
  wire,
} from '../../helpers/session-driver.js';

function limits(extra: Partial<SessionLimits>): SessionLimits {
  return { ...LIMITS, ...extra };
}

function connack(out: ReturnType<SessionDriver['send']>): { connId: number; sessionPresent: boolean } {
  const [c] = effectsOf(out, 'connack');
  assert.ok(c, 'a CONNACK');
  return { connId: c.connId, sessionPresent: c.sessionPresent };
}

describe('session: connect, clean start and session expiry', () => {
  it('3.1.1 clean session: not present, never stored, ends with the connection', () => {
    const d = new SessionDriver();
    const out = d.send(connect({ version: 4, cleanStart: true }));
    assert.deepEqual(connack(out), { connId: 1, sessionPresent: false });
    assert.equal(d.live.expiryIntervalSec, 0);
    d.send({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a', options: subOptions(1) }] });
    const q = d.send(deliverEvent(message('a'), 1));
    assert.deepEqual(q.store, []);
    const end = d.send({ type: 'disconnect', connId: 1, kind: 'normal' });
    assert.equal(d.state, null);
    assert.deepEqual(effectsOf(end, 'routes'), [{ type: 'routes', clientId: 'c1', add: [], removeAll: true }]);
  });

  it('3.1.1 persistent session: stored, present on return, discarded by a clean connect', () => {
    const d = new SessionDriver();
    const first = d.send(connect({ version: 4, cleanStart: false }));
    assert.equal(connack(first).sessionPresent, false);
    assert.equal(d.live.expiryIntervalSec, SESSION_NEVER_EXPIRES);
    assert.deepEqual(first.store.map((o) => o.op), ['deleteSession', 'putMeta']);
    d.send({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a', options: subOptions(1) }] });
    d.send({ type: 'disconnect', connId: 1, kind: 'normal' });
    assert.equal(d.live.expiresAt, null, 'never expires');
    assert.equal(nextDeadline(d.live), null);
    const back = d.send(connect({ version: 4, connId: 2, cleanStart: false }));
    assert.equal(connack(back).sessionPresent, true);
    assert.deepEqual(Object.keys(d.live.subscriptions), ['a']);
    d.send({ type: 'disconnect', connId: 2, kind: 'normal' });
    const clean = d.send(connect({ version: 4, connId: 3, cleanStart: true }));
    assert.equal(connack(clean).sessionPresent, false);
    assert.deepEqual(d.live.subscriptions, {});
    assert.ok(effectsOf(clean, 'routes').some((r) => r.removeAll));
    assert.ok(clean.store.some((o) => o.op === 'deleteSession'));
  });

  it('v5 Clean Start with Session Expiry 0: session ends with the connection', () => {
    const d = new SessionDriver();
    d.send(connect({ cleanStart: true, expiry: 0 }));
    const out = d.send({ type: 'disconnect', connId: 1, kind: 'abnormal' });
    assert.equal(d.state, null);
    assert.ok(eventNames(out).includes('session.ended'));
  });

  it('v5 Session Expiry n: the session survives n seconds offline, then ends (routes removed, store deleted)', () => {
    const d = new SessionDriver();
    d.send(connect({ cleanStart: true, expiry: 30 }));
    d.send({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a/#', options: subOptions(1) }] });
    d.now += 1000;
    d.send({ type: 'disconnect', connId: 1, kind: 'normal' });
    assert.equal(d.live.expiresAt, T0 + 1000 + 30_000);
    assert.equal(nextDeadline(d.live), T0 + 31_000);
    d.now = T0 + 30_999;
    const early = d.send({ type: 'timer' });
    assert.deepEqual(early.effects, []);
    assert.notEqual(d.state, null);
    d.now = T0 + 31_000;
    const out = d.send({ type: 'timer' });
    assert.equal(d.state, null);
    assert.ok(effectsOf(out, 'routes').some((r) => r.removeAll && r.clientId === 'c1'));
    assert.deepEqual(out.store, [{ op: 'deleteSession', clientId: 'c1' }]);
  });

  it('v5 Session Expiry 0xFFFFFFFF never expires', () => {
    const d = new SessionDriver();
    d.send(connect({ expiry: SESSION_NEVER_EXPIRES }));
    d.send({ type: 'disconnect', connId: 1, kind: 'normal' });
    assert.equal(nextDeadline(d.live), null);
    d.now += 10 * 365 * 86_400_000;
    d.send({ type: 'timer' });
    assert.notEqual(d.state, null);
  });

  it('v5 Clean Start = 0 with no session: not present; with an offline session: present', () => {
    const d = new SessionDriver();
    assert.equal(connack(d.send(connect({ expiry: 60 }))).sessionPresent, false);
    d.send({ type: 'disconnect', connId: 1, kind: 'normal' });
    assert.equal(connack(d.send(connect({ connId: 2, expiry: 60 }))).sessionPresent, true);
    assert.equal(d.live.expiresAt, null, 'reconnecting stops the expiry clock');
  });

  it('v5 DISCONNECT may shorten the expiry to 0 (session ends) but not raise it from 0 [MQTT-3.14.2-2]', () => {
    const d = new SessionDriver();
    d.send(connect({ expiry: 60 }));
    d.send({ type: 'disconnect', connId: 1, kind: 'normal', expiryIntervalSec: 0 });
    assert.equal(d.state, null);
    const e = new SessionDriver();
    e.send(connect({ expiry: 0 }));
    const out = e.send({ type: 'disconnect', connId: 1, kind: 'normal', expiryIntervalSec: 60 });
    assert.equal(e.state, null, 'a session that started with expiry 0 ends with its connection');
    assert.deepEqual(out.store.filter((o) => o.op !== 'deleteSession'), []);
  });

  it('store ops only for persistent sessions; a session that stops being persistent is deleted', () => {
    const d = new SessionDriver();
    d.send(connect({ expiry: 0 }));
    const ops = [
      d.send({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a', options: subOptions(2) }] }),
      d.send(deliverEvent(message('a'), 2)),
      d.send({ type: 'pubrec', connId: 1, packetId: 1, reasonCode: 0 }),
      d.send({ type: 'qos2Routed', connId: 1, packetId: 9, reasonCode: 0 }),
    ].flatMap((o) => o.store);
    assert.deepEqual(ops, []);
    const p = new SessionDriver();
    p.send(connect({ expiry: 60 }));
    p.send({ type: 'disconnect', connId: 1, kind: 'normal' });
    const now0 = p.send(connect({ connId: 2, expiry: 0 }));
    assert.deepEqual(now0.store, [{ op: 'deleteSession', clientId: 'c1' }]);
  });
});

describe('session: takeover', () => {
  it('closes the old connection with 0x8E and continues the session', () => {
    const d = new SessionDriver();
    d.send(connect({ connId: 1, expiry: 60 }));
    d.send({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a', options: subOptions(1) }] });
    d.send(deliverEvent(message('a'), 1));
    const out = d.send(connect({ connId: 2, expiry: 60 }));
    assert.deepEqual(effectsOf(out, 'close').map((c) => [c.connId, c.reasonCode]), [[1, ReasonCode.SessionTakenOver]]);
    assert.equal(connack(out).sessionPresent, true);
    assert.equal(d.live.connId, 2);
    assert.deepEqual(wire(out), ['pub:a#1+dup']);
    // The replaced connection's late packets and close are ignored.
    const stale = [
      d.send({ type: 'puback', connId: 1, packetId: 1 }),
      d.send({ type: 'disconnect', connId: 1, kind: 'takeover' }),
    ];
    assert.deepEqual(stale.flatMap((o) => [...o.effects, ...o.store]), []);
    assert.equal(d.live.connId, 2);
    assert.equal(d.live.inflight.length, 1);
  });

  it('takeover of a connection with Session Expiry 0: that session ends, the new one is not present', () => {
    // The old session lasted as long as its connection [MQTT-3.1.2-6]; closing it ends the session.
    const d = new SessionDriver();
    d.send(connect({ connId: 1, version: 4, cleanStart: true, will: will('w') }));
    d.send({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a', options: subOptions(1) }] });
    const out = d.send(connect({ connId: 2, version: 4, cleanStart: false }));
    assert.equal(connack(out).sessionPresent, false);
    assert.deepEqual(d.live.subscriptions, {});
    assert.ok(effectsOf(out, 'routes').some((r) => r.removeAll));
    assert.equal(effectsOf(out, 'route').length, 1, 'the old will is published');
  });

  it('the old will: published at once with delay 0, cancelled by the takeover with a delay', () => {
    const a = new SessionDriver();
    a.send(connect({ connId: 1, expiry: 60, will: will('w', 0) }));
    assert.equal(effectsOf(a.send(connect({ connId: 2, expiry: 60 })), 'route').length, 1);
    const b = new SessionDriver();
    b.send(connect({ connId: 1, expiry: 60, will: will('w', 10) }));
    const out = b.send(connect({ connId: 2, expiry: 60 }));
    assert.equal(effectsOf(out, 'route').length, 0);
    assert.equal(b.live.willDueAt, null);
    const c = new SessionDriver();
    c.send(connect({ connId: 1, expiry: 60, will: will('w', 10) }));
    assert.equal(effectsOf(c.send(connect({ connId: 2, cleanStart: true, expiry: 60 })), 'route').length, 1, 'Clean Start ends the old session: its will fires');
  });
});

describe('session: outbound QoS 1 and QoS 2', () => {
  function online(lim: SessionLimits = LIMITS, receiveMaximum = 65535): SessionDriver {
    const d = new SessionDriver(lim);
    d.send(connect({ expiry: 60, receiveMaximum }));
    return d;
  }

  it('QoS 1: PUBLISH with a packet id, stored inflight, removed on PUBACK', () => {
    const d = online();
    const out = d.send(deliverEvent(message('a'), 1, [7]));
    const [p] = effectsOf(out, 'publish');
    assert.deepEqual(p?.publish, { message: message('a'), qos: 1, packetId: 1, dup: false, retain: false, subscriptionIds: [7] });
    assert.deepEqual(out.store.map((o) => o.op === 'putMessage' && o.message.state), ['inflight']);
    const ack = d.send({ type: 'puback', connId: 1, packetId: 1 });
    assert.deepEqual(ack.store, [{ op: 'deleteMessage', clientId: 'c1', seq: 1 }]);
    assert.equal(d.live.inflight.length, 0);
    assert.deepEqual(eventNames(d.send({ type: 'puback', connId: 1, packetId: 1 })), ['session.ack.unknown']);
  });

  it('QoS 2: PUBREC → PUBREL (stored released) → PUBCOMP completes once', () => {
    const d = online();
    d.send(deliverEvent(message('a'), 2));
    const rec = d.send({ type: 'pubrec', connId: 1, packetId: 1, reasonCode: 0 });
    assert.deepEqual(wire(rec), ['rel#1']);
    assert.deepEqual(rec.store, [{ op: 'updateMessage', clientId: 'c1', seq: 1, state: 'released', packetId: 1 }]);
    assert.deepEqual(wire(d.send({ type: 'pubrec', connId: 1, packetId: 1, reasonCode: 0 })), ['rel#1'], 'a repeated PUBREC gets PUBREL again');
    const comp = d.send({ type: 'pubcomp', connId: 1, packetId: 1 });
    assert.deepEqual(comp.store, [{ op: 'deleteMessage', clientId: 'c1', seq: 1 }]);
    const again = d.send({ type: 'pubcomp', connId: 1, packetId: 1 });
    assert.deepEqual(again.store, []);
    assert.deepEqual(eventNames(again), ['session.ack.unknown']);
    const late = d.send({ type: 'pubrec', connId: 1, packetId: 1, reasonCode: 0 });
    assert.deepEqual(effectsOf(late, 'packet').map((p) => p.packet), [{ cmd: 'pubrel', messageId: 1, reasonCode: ReasonCode.PacketIdentifierNotFound }]);
  });

  it('QoS 2: a PUBREC with a failure code ends the flow without PUBREL', () => {
    const d = online();
    d.send(deliverEvent(message('a'), 2));
    const rec = d.send({ type: 'pubrec', connId: 1, packetId: 1, reasonCode: ReasonCode.NotAuthorized });
    assert.deepEqual(wire(rec), []);
    assert.equal(d.live.inflight.length, 0);
  });

  it('PUBACK does not complete a QoS 2 message, PUBCOMP does not complete one not yet released', () => {
    const d = online();
    d.send(deliverEvent(message('a'), 2));
    d.send({ type: 'puback', connId: 1, packetId: 1 });
    d.send({ type: 'pubcomp', connId: 1, packetId: 1 });
    assert.equal(d.live.inflight.length, 1);
  });

  it('the inflight window is min(maxInflight, client Receive Maximum); beyond it messages queue in order', () => {
    for (const [maxInflight, receiveMaximum] of [[10, 2], [2, 100]] as const) {
      const d = online(limits({ maxInflight }), receiveMaximum);
      const sent = ['a', 'b', 'c', 'd'].flatMap((t) => wire(d.send(deliverEvent(message(t), 1))));
      assert.deepEqual(sent, ['pub:a#1', 'pub:b#2']);
      // QoS 0 does not overtake the queued QoS 1 messages
      assert.deepEqual(wire(d.send(deliverEvent(message('z'), 0))), []);
      assert.equal(d.live.queue.length, 3);
      assert.deepEqual(wire(d.send({ type: 'puback', connId: 1, packetId: 2 })), ['pub:c#3']);
      assert.deepEqual(wire(d.send({ type: 'puback', connId: 1, packetId: 1 })), ['pub:d#4', 'pub:z']);
      assert.equal(d.live.queue.length, 0);
    }
  });

  it('packet ids skip those still inflight and wrap after 65535 [MQTT-2.2.1-3]', () => {
    const d = online(limits({ maxInflight: 3 }));
    d.send(deliverEvent(message('a'), 1)); // id 1 stays inflight
    d.live.nextPacketId = 65535;
    assert.deepEqual(wire(d.send(deliverEvent(message('b'), 1))), ['pub:b#65535']);
    assert.deepEqual(wire(d.send(deliverEvent(message('c'), 1))), ['pub:c#2']);
  });

  it('discarded (too large for the client) completes the packet and opens the window', () => {
    const d = online(limits({ maxInflight: 1 }));
    d.send(deliverEvent(message('a'), 2));
    d.send(deliverEvent(message('b'), 1));
    assert.deepEqual(wire(d.send({ type: 'discarded', connId: 1, packetId: 1 })), ['pub:b#2']);
  });
});

describe('session: resume', () => {
  it('resends unacknowledged PUBLISH with DUP and PUBREL of released ones, in the original order [MQTT-4.4.0-1]', () => {
    const d = new SessionDriver();
    d.send(connect({ expiry: 60, receiveMaximum: 3 }));
    for (const [t, q] of [['a', 2], ['b', 1], ['c', 2], ['d', 1], ['e', 0]] as const) d.send(deliverEvent(message(t), q));
    d.send({ type: 'pubrec', connId: 1, packetId: 1, reasonCode: 0 });
    d.send({ type: 'disconnect', connId: 1, kind: 'abnormal' });
    d.send(deliverEvent(message('f'), 1));
    d.now += 1000;
    const out = d.send(connect({ connId: 2, expiry: 60, receiveMaximum: 4 }));
    // The window grew from 3 to 4 with the new Receive Maximum: d goes out, and e (QoS 0) behind it
    assert.deepEqual(wire(out), ['rel#1', 'pub:b#2+dup', 'pub:c#3+dup', 'pub:d#4', 'pub:e']);
    assert.deepEqual(d.live.queue.toArray().map((m) => m.message.topic), ['f']);
    const ack = d.send({ type: 'puback', connId: 2, packetId: 2 });
    assert.deepEqual(wire(ack), ['pub:f#5']);
  });

  it('expired messages are never sent: dropped on delivery, purged on resume, skipped on drain', () => {
    const d = new SessionDriver(limits({ maxInflight: 1 }));
    d.send(connect({ expiry: 600 }));
    assert.deepEqual(d.send(deliverEvent(message('old', 'x', { expiresAt: T0 }), 1)).effects, []);
    d.send({ type: 'disconnect', connId: 1, kind: 'normal' });
    d.send(deliverEvent(message('short', 'x', { expiresAt: T0 + 5000 }), 1));
    d.send(deliverEvent(message('long', 'x', { expiresAt: T0 + 60_000 }), 1));
    d.send(deliverEvent(message('later', 'x', { expiresAt: T0 + 20_000 }), 1));
    d.now = T0 + 10_000;
    const out = d.send(connect({ connId: 2, expiry: 600 }));
    assert.deepEqual(wire(out), ['pub:long#1']);
    assert.deepEqual(out.store.filter((o) => o.op === 'deleteMessage').map((o) => o.op === 'deleteMessage' && o.seq), [1]);
    d.now = T0 + 30_000;
    const ack = d.send({ type: 'puback', connId: 2, packetId: 1 });
    assert.deepEqual(wire(ack), []);
    assert.equal(d.live.queue.length, 0);
    assert.equal(d.live.queuedBytes, 0);
  });
});

describe('session: offline queue limits', () => {
  it('count limit: the oldest QoS 0 is dropped first, then the new message; every drop is an event', () => {
    const d = new SessionDriver(limits({ maxQueuedMessages: 3 }));
    d.send(connect({ expiry: 60 }));
    d.send({ type: 'disconnect', connId: 1, kind: 'normal' });
    d.send(deliverEvent(message('a0'), 0));
    d.send(deliverEvent(message('b1'), 1));
    d.send(deliverEvent(message('c0'), 0));
    const d1 = d.send(deliverEvent(message('d1'), 1));
    assert.deepEqual(eventNames(d1), ['session.queue.drop']);
    assert.deepEqual(d1.store.map((o) => o.op), ['deleteMessage', 'putMessage']);
    assert.deepEqual(eventNames(d.send(deliverEvent(message('e1'), 1))), ['session.queue.drop']);
    const f = d.send(deliverEvent(message('f1'), 1));
    assert.deepEqual(eventNames(f), ['session.queue.drop']);
    assert.deepEqual(f.store, []);
    assert.deepEqual(d.live.queue.toArray().map((m) => m.message.topic), ['b1', 'd1', 'e1']);
  });

  it('byte limit (payload + topic) is kept, and queuedBytes tracks the queue', () => {
    const d = new SessionDriver(limits({ maxQueuedBytes: 10 }));
    d.send(connect({ expiry: 60 }));
    d.send({ type: 'disconnect', connId: 1, kind: 'normal' });
    d.send(deliverEvent(message('a', '1234'), 0)); // 5 bytes
    d.send(deliverEvent(message('b', '1234'), 1)); // 5 bytes
    const c = d.send(deliverEvent(message('c', '12'), 1)); // 3: a must go
    assert.deepEqual(eventNames(c), ['session.queue.drop']);
    assert.deepEqual(d.live.queue.toArray().map((m) => m.message.topic), ['b', 'c']);
    assert.equal(d.live.queuedBytes, 8);
  });

  it('a message that can never fit is dropped without evicting others', () => {
    const d = new SessionDriver(limits({ maxQueuedBytes: 10 }));
    d.send(connect({ expiry: 60 }));
    d.send({ type: 'disconnect', connId: 1, kind: 'normal' });
    d.send(deliverEvent(message('a', '12'), 0));
    const big = d.send(deliverEvent(message('b', '0123456789'), 1));
    assert.deepEqual(eventNames(big), ['session.queue.drop']);
    assert.deepEqual(d.live.queue.toArray().map((m) => m.message.topic), ['a']);
  });
});

describe('session: inbound QoS 2', () => {
  it('qos2Check is a duplicate after qos2Routed until PUBREL', () => {
    const d = new SessionDriver();
    d.send(connect({ expiry: 60 }));
    const status = (): boolean => effectsOf(d.send({ type: 'qos2Check', connId: 1, packetId: 5 }), 'qos2Status')[0]!.duplicate;
    assert.equal(status(), false);
    const routed = d.send({ type: 'qos2Routed', connId: 1, packetId: 5, reasonCode: 0 });
    assert.deepEqual(effectsOf(routed, 'packet').map((p) => p.packet), [{ cmd: 'pubrec', messageId: 5 }]);
    assert.deepEqual(routed.store, [{ op: 'putQos2', clientId: 'c1', packetId: 5 }]);
    assert.equal(status(), true);
    const rel = d.send({ type: 'pubrel', connId: 1, packetId: 5 });
    assert.deepEqual(effectsOf(rel, 'packet').map((p) => p.packet), [{ cmd: 'pubcomp', messageId: 5 }]);
    assert.equal(status(), false);
    const unknown = d.send({ type: 'pubrel', connId: 1, packetId: 5 });
    assert.deepEqual(effectsOf(unknown, 'packet').map((p) => p.packet), [{ cmd: 'pubcomp', messageId: 5, reasonCode: ReasonCode.PacketIdentifierNotFound }]);
  });

  it('the dedup set survives reconnect of a persistent session, not a clean start', () => {
    const d = new SessionDriver();
    d.send(connect({ expiry: 60 }));
    d.send({ type: 'qos2Routed', connId: 1, packetId: 5, reasonCode: 0 });
    d.send({ type: 'disconnect', connId: 1, kind: 'abnormal' });
    d.send(connect({ connId: 2, expiry: 60 }));
    assert.equal(effectsOf(d.send({ type: 'qos2Check', connId: 2, packetId: 5 }), 'qos2Status')[0]!.duplicate, true);
    d.send(connect({ connId: 3, cleanStart: true, expiry: 60 }));
    assert.equal(effectsOf(d.send({ type: 'qos2Check', connId: 3, packetId: 5 }), 'qos2Status')[0]!.duplicate, false);
  });

  it('3.1.1 acks carry no reason code', () => {
    const d = new SessionDriver();
    d.send(connect({ version: 4 }));
    const rel = d.send({ type: 'pubrel', connId: 1, packetId: 9 });
    assert.deepEqual(effectsOf(rel, 'packet').map((p) => p.packet), [{ cmd: 'pubcomp', messageId: 9 }]);
  });
});

describe('session: subscribe and unsubscribe', () => {
  function subscribed(version: 4 | 5, lim: SessionLimits = LIMITS): SessionDriver {
    const d = new SessionDriver(lim);
    d.send(connect({ version, expiry: version === 5 ? 60 : undefined }));
    return d;
  }
  const suback = (out: ReturnType<SessionDriver['send']>): number[] => {
    const p = effectsOf(out, 'packet')[0]?.packet;
    assert.ok(p && p.cmd === 'suback');
    return p.granted as number[];
  };

  it('grants the requested QoS, rejects invalid filters (0x8F) and over-quota ones (0x97)', () => {
    const d = subscribed(5, limits({ maxSubscriptions: 2 }));
    const out = d.send({ type: 'subscribe', connId: 1, packetId: 3, requests: [
      { filter: 'a', options: subOptions(2) },
      { filter: 'a/#/b', options: subOptions(1) },
      { filter: 'b', options: subOptions(0) },
      { filter: 'c', options: subOptions(1) },
      { filter: 'a', options: subOptions(1) }, // replacing is not a new subscription
    ] });
    assert.deepEqual(suback(out), [2, ReasonCode.TopicFilterInvalid, 0, ReasonCode.QuotaExceeded, 1]);
    assert.deepEqual(Object.keys(d.live.subscriptions).sort(), ['a', 'b']);
    assert.deepEqual(effectsOf(out, 'routes'), [], 'the main thread applied the routes when it read the packet');
    assert.deepEqual(out.store.map((o) => o.op === 'putSubscription' && o.filter), ['a', 'b', 'a']);
  });

  it('3.1.1 gets 0x80 for every failure', () => {
    const d = subscribed(4, limits({ maxSubscriptions: 1 }));
    const out = d.send({ type: 'subscribe', connId: 1, packetId: 3, requests: [
      { filter: 'a+', options: subOptions(1) }, { filter: 'a', options: subOptions(1) }, { filter: 'b', options: subOptions(1) },
    ] });
    assert.deepEqual(suback(out), [0x80, 1, 0x80]);
  });

  /** What main decides for `requests` over the session's subscriptions, then the session handles them. */
  const decided = (d: SessionDriver, requests: SubscribeRequest[]): SubscribeDecision => {
    const subs = d.live.subscriptions;
    const decision = decideSubscribe({ has: (f) => Object.hasOwn(subs, f) }, Object.keys(subs).length, requests, 0);
    d.send({ type: 'subscribe', connId: 1, packetId: 1, requests });
    return decision;
  };

  it('retain handling 0 always, 1 only for a new subscription, 2 never, and never for $share', () => {
    const d = subscribed(5);
    const retainedFor = (filter: string, retainHandling: 0 | 1 | 2): string[] =>
      decided(d, [{ filter, options: subOptions(1, { retainHandling }) }]).retained.map((q) => q.filter);
    assert.deepEqual(retainedFor('x', 0), ['x']);
    assert.deepEqual(retainedFor('x', 0), ['x']);
    assert.deepEqual(retainedFor('y', 1), ['y']);
    assert.deepEqual(retainedFor('y', 1), []);
    assert.deepEqual(retainedFor('z', 2), []);
    assert.deepEqual(retainedFor('$share/g/x', 0), []);
  });

  it('No Local on a shared subscription closes the connection and changes nothing [MQTT-3.8.3-4]', () => {
    const d = subscribed(5);
    const out = d.send({ type: 'subscribe', connId: 1, packetId: 1, requests: [
      { filter: 'a', options: subOptions(1) }, { filter: '$share/g/b', options: subOptions(1, { noLocal: true }) },
    ] });
    assert.deepEqual(effectsOf(out, 'close').map((c) => c.reasonCode), [ReasonCode.ProtocolError]);
    assert.deepEqual(d.live.subscriptions, {});
    assert.deepEqual(out.store, []);
  });

  it('unsubscribe: success when present, 0x11 when absent', () => {
    const d = subscribed(5);
    d.send({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a', options: subOptions(1) }] });
    const out = d.send({ type: 'unsubscribe', connId: 1, packetId: 2, filters: ['a', 'b'] });
    assert.deepEqual(effectsOf(out, 'packet').map((p) => p.packet), [{ cmd: 'unsuback', messageId: 2, granted: [0, ReasonCode.NoSubscriptionExisted] }]);
    assert.deepEqual(effectsOf(out, 'routes'), [], 'the main thread removed the route when it read the packet');
    assert.deepEqual(out.store, [{ op: 'deleteSubscription', clientId: 'c1', filter: 'a' }]);
  });

  it('filters named like Object.prototype members are ordinary filters', () => {
    const d = subscribed(5);
    const un = d.send({ type: 'unsubscribe', connId: 1, packetId: 1, filters: ['toString', '__proto__'] });
    assert.deepEqual(effectsOf(un, 'packet')[0]!.packet, { cmd: 'unsuback', messageId: 1, granted: [0x11, 0x11] });
    const sub = decided(d, [
      { filter: '__proto__', options: subOptions(1, { retainHandling: 1 }) }, { filter: 'constructor', options: subOptions(1, { retainHandling: 1 }) },
    ]);
    assert.deepEqual(sub.retained.map((r) => r.filter), ['__proto__', 'constructor']);
    assert.deepEqual(Object.keys(d.live.subscriptions), ['__proto__', 'constructor']);
    assert.equal(Object.getPrototypeOf(d.live.subscriptions), Object.prototype);
    assert.deepEqual(importSession(exportSession(d.live)), d.live);
  });
});

describe('session: will', () => {
  it('published on abnormal close and on DISCONNECT 0x04, not on a normal DISCONNECT', () => {
    for (const [kind, fires] of [['abnormal', true], ['will', true], ['server', true], ['normal', false]] as const) {
      const d = new SessionDriver();
      d.send(connect({ expiry: 60, will: will('w', 0, { messageExpirySec: 30 }) }));
      d.now += 5;
      const out = d.send({ type: 'disconnect', connId: 1, kind });
      const routed = effectsOf(out, 'route');
      assert.equal(routed.length, fires ? 1 : 0, kind);
      if (fires) assert.equal(routed[0]!.message.expiresAt, T0 + 5 + 30_000, 'will expiry counts from publication');
      assert.equal(d.live.will, null);
      assert.equal(nextDeadline(d.live), T0 + 5 + 60_000);
    }
  });

  it('3.1.1 will on a lost clean-session connection', () => {
    const d = new SessionDriver();
    d.send(connect({ version: 4, cleanStart: true, will: will('w') }));
    assert.equal(effectsOf(d.send({ type: 'disconnect', connId: 1, kind: 'abnormal' }), 'route').length, 1);
  });

  it('Will Delay: cancelled by a reconnect in time', () => {
    const d = new SessionDriver();
    d.send(connect({ expiry: 60, will: will('w', 10) }));
    d.send({ type: 'disconnect', connId: 1, kind: 'abnormal' });
    assert.equal(d.live.willDueAt, T0 + 10_000);
    d.now = T0 + 9_999;
    assert.deepEqual(effectsOf(d.send({ type: 'timer' }), 'route'), []);
    const back = d.send(connect({ connId: 2, expiry: 60 }));
    assert.deepEqual(effectsOf(back, 'route'), []);
    assert.equal(nextDeadline(d.live), null);
    d.now = T0 + 20_000;
    assert.deepEqual(effectsOf(d.send({ type: 'timer' }), 'route'), []);
  });

  it('Will Delay: published when the timer comes at or after the due time, then persisted as gone', () => {
    const d = new SessionDriver();
    d.send(connect({ expiry: 60, will: will('w', 10) }));
    d.send({ type: 'disconnect', connId: 1, kind: 'abnormal' });
    d.now = T0 + 12_000;
    const out = d.send({ type: 'timer' });
    assert.equal(effectsOf(out, 'route').length, 1);
    assert.deepEqual(out.store.map((o) => o.op === 'putMeta' && o.meta.will), [null]);
    assert.equal(nextDeadline(d.live), T0 + 60_000);
    assert.deepEqual(effectsOf(d.send({ type: 'timer' }), 'route'), [], 'only once');
  });

  it('Will Delay: published at session expiry when that comes first', () => {
    const d = new SessionDriver();
    d.send(connect({ expiry: 5, will: will('w', 10) }));
    d.send({ type: 'disconnect', connId: 1, kind: 'abnormal' });
    assert.equal(nextDeadline(d.live), T0 + 5_000);
    d.now = T0 + 5_000;
    const out = d.send({ type: 'timer' });
    assert.equal(effectsOf(out, 'route').length, 1);
    assert.equal(d.state, null);
  });

  it('Will Delay with Session Expiry 0: published at once as the session ends', () => {
    const d = new SessionDriver();
    d.send(connect({ expiry: 0, will: will('w', 10) }));
    assert.equal(effectsOf(d.send({ type: 'disconnect', connId: 1, kind: 'abnormal' }), 'route').length, 1);
    assert.equal(d.state, null);
  });
});

describe('session: restore and export', () => {
  function stored(extra: Partial<StoredSession['meta']> = {}): StoredSession {
    return {
      meta: { clientId: 'c1', username: null, protocolVersion: 5, expiryIntervalSec: 60, disconnectedAt: T0, will: null, ...extra },
      subscriptions: { 'a/#': subOptions(1) },
      inboundQos2: [4],
      messages: [
        { seq: 3, state: 'released', packetId: 7, qos: 2, retain: false, subscriptionIds: [], message: message('a/1') },
        { seq: 5, state: 'inflight', packetId: 8, qos: 1, retain: false, subscriptionIds: [], message: message('a/2') },
        { seq: 6, state: 'queued', packetId: null, qos: 1, retain: false, subscriptionIds: [], message: message('a/3', 'abc') },
      ],
    };
  }

  it('rebuilds an offline session: routes, inflight/queue split, counters, timers', () => {
    const out = newOutput();
    const s = restoreSession(stored({ will: will('w', 10) }), T0 + 1000, out);
    assert.ok(s);
    assert.deepEqual(effectsOf(out, 'routes'), [{ type: 'routes', clientId: 'c1', add: [{ filter: 'a/#', options: subOptions(1) }], removeAll: false, username: null }]);
    assert.deepEqual(s.inflight.toArray().map((m) => m.seq), [3, 5]);
    assert.deepEqual(s.queue.toArray().map((m) => m.seq), [6]);
    assert.equal(s.queuedBytes, 6);
    assert.equal(s.nextSeq, 7);
    assert.equal(s.nextPacketId, 9);
    assert.deepEqual(s.inboundQos2, [4]);
    assert.equal(s.connId, null);
    assert.equal(s.willDueAt, T0 + 10_000);
    assert.equal(s.expiresAt, T0 + 60_000);
    assert.deepEqual(out.store, []);
    const resumed = newOutput();
    handleSessionOn(s, resumed);
    assert.deepEqual(wire(resumed), ['rel#7', 'pub:a/2#8+dup', 'pub:a/3#9']);
  });

  it('a session connected at the crash counts as closed abnormally at restore', () => {
    const out = newOutput();
    const s = restoreSession(stored({ disconnectedAt: null, will: will('w', 0) }), T0 + 1000, out);
    assert.ok(s);
    assert.equal(effectsOf(out, 'route').length, 1);
    assert.deepEqual(out.store, [{ op: 'putMeta', meta: { clientId: 'c1', username: null, protocolVersion: 5, expiryIntervalSec: 60, disconnectedAt: T0 + 1000, will: null } }]);
    assert.equal(s.expiresAt, T0 + 61_000);
  });

  it('a session whose expiry passed while down ends at restore, with its delayed will', () => {
    const out = newOutput();
    const s = restoreSession(stored({ will: will('w', 100) }), T0 + 61_000, out);
    assert.equal(s, null);
    assert.equal(effectsOf(out, 'route').length, 1);
    assert.deepEqual(out.store.at(-1), { op: 'deleteSession', clientId: 'c1' });
  });

  it('export → import is deep-equal and independent', () => {
    const d = new SessionDriver();
    d.send(connect({ expiry: 60, will: will('w', 5), receiveMaximum: 1 }));
    d.send({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a', options: subOptions(2, { subscriptionId: 3 }) }] });
    d.send(deliverEvent(message('a'), 2));
    d.send(deliverEvent(message('a', 'y', { expiresAt: T0 + 9000, properties: { userProperties: { k: ['1', '2'] } } }), 1));
    d.send({ type: 'qos2Routed', connId: 1, packetId: 2, reasonCode: 0 });
    d.send({ type: 'disconnect', connId: 1, kind: 'abnormal' });
    const copy = importSession(exportSession(d.live));
    assert.deepEqual(exportSession(copy), exportSession(d.live));
    copy.queue.peek()!.message.payload[0] = 0;
    assert.notDeepEqual(exportSession(copy), exportSession(d.live));
  });
});

function handleSessionOn(s: NonNullable<ReturnType<typeof restoreSession>>, out: ReturnType<typeof newOutput>): void {
  const d = new SessionDriver();
  d.state = s;
  const r = d.send(connect({ connId: 9, expiry: 60 }));
  out.effects.push(...r.effects);
  out.store.push(...r.store);
}

describe('session: the empty lists new sessions share (idle memory)', () => {
  it('a session writes to lists of its own, never to the shared empty ones', () => {
    const a = new SessionDriver();
    const b = new SessionDriver();
    a.send(connect({ expiry: 60, receiveMaximum: 1 }));
    b.send(connect({ expiry: 60, receiveMaximum: 1 }));
    // An idle session keeps no arrays or object of its own.
    assert.equal(a.live.queue, b.live.queue);
    assert.equal(a.live.inflight, b.live.inflight);
    assert.equal(a.live.inboundQos2, b.live.inboundQos2);
    assert.equal(a.live.subscriptions, b.live.subscriptions);
    a.send({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'f', options: subOptions(1) }] });
    a.send(deliverEvent(message('f', '1'), 1)); // inflight (window 1)
    a.send(deliverEvent(message('f', '2'), 1)); // queued behind it
    a.send({ type: 'qos2Routed', connId: 1, packetId: 9, reasonCode: 0 });
    assert.deepEqual(Object.keys(a.live.subscriptions), ['f']);
    assert.equal(a.live.inflight.length, 1);
    assert.equal(a.live.queue.length, 1);
    assert.deepEqual(a.live.inboundQos2, [9]);
    const c = new SessionDriver();
    c.send(connect());
    for (const s of [b.live, c.live]) {
      assert.deepEqual(Object.keys(s.subscriptions), []);
      assert.equal(s.inflight.length + s.queue.length + s.inboundQos2.length, 0);
    }
    // A write that bypassed writable() throws rather than reaching every session.
    assert.throws(() => (b.live.queue as MessageQueue).push(a.live.queue.peek()!), TypeError);
    assert.throws(() => (b.live.inflight as InflightWindow).add(a.live.inflight.toArray()[0]!), TypeError);
    // Emptied again, a's lists stay its own and keep working.
    a.send({ type: 'puback', connId: 1, packetId: 1 });
    a.send({ type: 'puback', connId: 1, packetId: 2 });
    a.send({ type: 'pubrel', connId: 1, packetId: 9 });
    a.send({ type: 'unsubscribe', connId: 1, packetId: 2, filters: ['f'] });
    assert.equal(a.live.inflight.length + a.live.queue.length + a.live.inboundQos2.length, 0);
    assert.deepEqual(Object.keys(a.live.subscriptions), []);
  });
});

describe('session: subscriptions keyed by client text', () => {
  it("'__proto__', 'toString' and 'constructor' are filters like any other: own entries, counted against the limit, removable", () => {
    const d = new SessionDriver({ ...LIMITS, maxSubscriptions: 3 });
    d.send(connect({ version: 5 }));
    const filters = ['__proto__', 'toString', 'constructor', 'a'];
    const out = d.send({ type: 'subscribe', connId: 1, packetId: 1, requests: filters.map((filter) => ({ filter, options: subOptions(1) })) });
    const suback = out.effects.find((e) => e.type === 'packet');
    assert.deepEqual(suback?.type === 'packet' && suback.packet.cmd === 'suback' && suback.packet.granted, [1, 1, 1, ReasonCode.QuotaExceeded]);
    const subs = d.live.subscriptions;
    assert.deepEqual(Object.keys(subs), ['__proto__', 'toString', 'constructor']);
    assert.equal(Object.getPrototypeOf(subs), Object.prototype, 'the prototype is untouched');
    assert.equal(subs['__proto__']?.qos, 1);
    d.send({ type: 'unsubscribe', connId: 1, packetId: 2, filters: ['__proto__'] });
    assert.deepEqual(Object.keys(d.live.subscriptions), ['toString', 'constructor']);
    // Re-subscribing an existing filter at the limit replaces it; one new filter fits again.
    const again = d.send({ type: 'subscribe', connId: 1, packetId: 3, requests: ['toString', 'b', 'c'].map((filter) => ({ filter, options: subOptions(0) })) });
    const suback2 = again.effects.find((e) => e.type === 'packet');
    assert.deepEqual(suback2?.type === 'packet' && suback2.packet.cmd === 'suback' && suback2.packet.granted, [0, 0, ReasonCode.QuotaExceeded]);
  });
});

describe('ownCopy', () => {
  it('copies every field of a (frozen, shared) StoredMessage into a new plain object, with the seq given', () => {
    const shared: StoredMessage = Object.freeze({ seq: 7, state: 'queued' as const, packetId: null, qos: 1 as const, retain: true, subscriptionIds: [3, 4], message: message('t', 'x') });
    const own: StoredMessage = ownCopy(shared);
    assert.deepEqual(own, { ...shared });
    assert.notEqual(own, shared);
    assert.equal(Object.isFrozen(own), false);
    own.packetId = 5; // a session's own copy takes its packet id
    assert.equal(shared.packetId, null);
    assert.deepEqual(ownCopy(shared, 9), { ...shared, seq: 9 });
    // Every field of the type, and nothing else.
    assert.deepEqual(Object.keys(own).sort(), ['message', 'packetId', 'qos', 'retain', 'seq', 'state', 'subscriptionIds']);
  });
});
