// The takeover wire codec (src/cluster/takeover-codec.ts) through real protobuf bytes (the
// Takeover call's serializer from proto/cluster.proto): every message kind and any session state
// decode to what was encoded; sessions built by the real session actor round-trip deep-equal.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as protoLoader from '@grpc/proto-loader';
import { decodeTakeover, encodeTakeover, type SessionTakeoverMessage } from '../../src/cluster/takeover-codec.js';
import type { TakeoverMessage, TakeoverMessage__Output } from '../../src/cluster/gen/cluster/v1/TakeoverMessage.js';
import { WireDecodeError } from '../../src/cluster/wire-codec.js';
import type { SessionSnapshot } from '../../src/actors/session-types.js';
import { exportSession } from '../../src/actors/session.js';
import type { StoredMessage } from '../../src/storage/types.js';
import { SessionDriver, connect, deliverEvent, message, subOptions, will } from '../helpers/session-driver.js';
import { propertyParams } from './harness.js';
import { appMessageArb, subOptionsArb, willArb } from './message-arbitraries.js';

const definition = protoLoader.loadSync(fileURLToPath(new URL('../../proto/cluster.proto', import.meta.url)), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const call = (definition['cluster.v1.Cluster'] as Record<string, protoLoader.MethodDefinition<TakeoverMessage, unknown, TakeoverMessage__Output, unknown>>)['Takeover']!;

/**
 * `m` as the codec gives it back: user properties travel as key/value pairs (as in forwarding,
 * src/cluster/wire-codec.ts), so a key with one value comes back as that value, and keys without
 * values, or no user properties at all, come back absent. The same message for MQTT.
 */
function canonical<T>(value: T): T {
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(canonical) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'userProperties') {
      const user: Record<string, unknown> = {};
      for (const [uk, uv] of Object.entries(v as Record<string, string | string[]>)) {
        if (Array.isArray(uv) && uv.length === 0) continue;
        user[uk] = Array.isArray(uv) && uv.length === 1 ? uv[0] : uv;
      }
      if (Object.keys(user).length > 0) out['userProperties'] = user;
      continue;
    }
    // Defined, not assigned: '__proto__' is a valid filter (a subscriptions key).
    Object.defineProperty(out, k, { value: canonical(v), enumerable: true, writable: true, configurable: true });
  }
  return out as T;
}

function overTheWire(m: SessionTakeoverMessage): SessionTakeoverMessage {
  return decodeTakeover(call.requestDeserialize(call.requestSerialize(encodeTakeover(m, 'sender'))));
}

const copyArb: fc.Arbitrary<StoredMessage> = fc.record({
  seq: fc.integer({ min: 1, max: 2 ** 40 }),
  state: fc.constantFrom('queued' as const, 'inflight' as const, 'released' as const),
  packetId: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null }),
  qos: fc.constantFrom(0 as const, 1 as const, 2 as const),
  retain: fc.boolean(),
  subscriptionIds: fc.array(fc.integer({ min: 1, max: 268_435_455 }), { maxLength: 3 }),
  message: appMessageArb,
}, { noNullPrototype: true });
const msArb = fc.option(fc.integer({ min: 0, max: 2 ** 45 }), { nil: null });

const sessionArb: fc.Arbitrary<SessionSnapshot> = fc
  .record({
    clientId: fc.string({ minLength: 1, maxLength: 10 }),
    // '' is a user name too (an empty MQTT string), distinct from none.
    username: fc.option(fc.string({ maxLength: 10 }), { nil: null }),
    protocolVersion: fc.constantFrom(3 as const, 4 as const, 5 as const),
    expiryIntervalSec: fc.constantFrom(1, 60, 0xffffffff),
    disconnectedAt: msArb,
    clientReceiveMaximum: fc.integer({ min: 1, max: 65535 }),
    subscriptions: fc.dictionary(fc.constantFrom('a/#', '+/b', 'x', '__proto__', 'toString'), subOptionsArb, { noNullPrototype: true }),
    inboundQos2: fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { maxLength: 3 }),
    inflight: fc.array(copyArb, { maxLength: 3 }),
    queue: fc.array(copyArb, { maxLength: 3 }),
    nextSeq: fc.integer({ min: 1, max: 2 ** 40 }),
    nextPacketId: fc.integer({ min: 1, max: 65535 }),
    will: willArb,
    willDueAt: msArb,
    expiresAt: msArb,
  }, { noNullPrototype: true })
  .map((s) => ({
    ...s,
    connId: null,
    subscriptionCount: Object.keys(s.subscriptions).length,
    queuedBytes: s.queue.reduce((n, m) => n + m.message.payload.byteLength + m.message.topic.length, 0),
    queuedQos0: s.queue.filter((m) => m.qos === 0).length,
  }));

const head = { id: 'B/1/7', clientId: 'c' };
const messageArb: fc.Arbitrary<SessionTakeoverMessage> = fc.oneof(
  fc.constant<SessionTakeoverMessage>({ kind: 'claim', ...head, from: 'B' }),
  fc.record({ granted: fc.boolean(), holder: fc.option(fc.constantFrom('A', 'C'), { nil: null }) }, { noNullPrototype: true }).map((x): SessionTakeoverMessage => ({ kind: 'claimed', ...head, ...x })),
  fc.record({ location: fc.option(fc.constantFrom('A', 'B'), { nil: null }), since: fc.nat() }, { noNullPrototype: true }).map((x): SessionTakeoverMessage => ({ kind: 'release', ...head, from: 'B', ...x })),
  fc.constant<SessionTakeoverMessage>({ kind: 'released', ...head }),
  fc.boolean().map((cleanStart): SessionTakeoverMessage => ({ kind: 'begin', ...head, from: 'B', cleanStart })),
  fc.record({ busy: fc.boolean(), session: fc.option(sessionArb, { nil: null }) }, { noNullPrototype: true }).map((x): SessionTakeoverMessage => ({ kind: 'exported', ...head, ...x })),
  fc.constant<SessionTakeoverMessage>({ kind: 'end', ...head, from: 'B' }),
  fc.record({ outcome: fc.constantFrom('ended' as const, 'aborted' as const), buffered: fc.array(copyArb, { maxLength: 3 }) }, { noNullPrototype: true }).map((x): SessionTakeoverMessage => ({ kind: 'ended', ...head, ...x })),
  fc.constant<SessionTakeoverMessage>({ kind: 'abort', ...head, from: 'B' }),
);

describe('takeover wire codec', () => {
  it('every message kind, with any session and copies, decodes to what was encoded', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        assert.deepEqual(overTheWire(m), canonical(m));
      }),
      propertyParams(),
    );
  });

  it('a session the actor built (inflight QoS 1 and released QoS 2, queue, PUBREL pending, delayed will) round-trips', () => {
    const d = new SessionDriver();
    d.send(connect({ expiry: 60, will: will('w', 5, { messageExpirySec: 9 }), receiveMaximum: 2 }));
    d.send({ type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a/+', options: subOptions(2, { subscriptionId: 3, noLocal: true }) }, { filter: '__proto__', options: subOptions(1) }] });
    d.send(deliverEvent(message('a/1', 'one'), 1, [3]));
    d.send(deliverEvent(message('a/2', 'two', { properties: { userProperties: { k: ['1', '2'] }, correlationData: new Uint8Array([1, 2]) } }), 2, [3]));
    d.send(deliverEvent(message('a/3', 'three', { expiresAt: 1_700_000_009_000 }), 1)); // the window (2) is full: queued
    d.send({ type: 'pubrec', connId: 1, packetId: 2, reasonCode: 0 });
    d.send({ type: 'qos2Routed', connId: 1, packetId: 7, reasonCode: 0 });
    d.send({ type: 'disconnect', connId: 1, kind: 'abnormal' });
    const s = exportSession(d.live);
    assert.deepEqual(s.inflight.map((m) => m.state), ['inflight', 'released']);
    assert.equal(s.queue.length, 1);
    assert.ok(s.willDueAt !== null);
    const back = overTheWire({ kind: 'exported', ...head, busy: false, session: s });
    assert.deepEqual(back, { kind: 'exported', ...head, busy: false, session: s });
    assert.ok(Object.hasOwn((back as { session: SessionSnapshot }).session.subscriptions, '__proto__'));
  });

  it('refuses what the schema cannot: a bad QoS, an unknown copy state, an empty envelope', () => {
    const ok = encodeTakeover({ kind: 'ended', ...head, outcome: 'ended', buffered: [{ seq: 1, state: 'queued', packetId: null, qos: 1, retain: false, subscriptionIds: [], message: message('t') }] }, 'A');
    const decoded = call.requestDeserialize(call.requestSerialize(ok));
    assert.equal(decodeTakeover(decoded).kind, 'ended');
    const badQos = structuredClone(decoded);
    badQos.ended!.arrived[0]!.qos = 3;
    assert.throws(() => decodeTakeover(badQos), WireDecodeError);
    const badState = structuredClone(decoded);
    badState.ended!.arrived[0]!.state = 'sent';
    assert.throws(() => decodeTakeover(badState), /not queued, inflight or released/);
    assert.throws(() => decodeTakeover(call.requestDeserialize(call.requestSerialize({ id: 'x', client_id: 'c' }))), /no takeover message/);
  });
});
