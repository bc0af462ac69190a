// Model-based property of the session actor: random sequences of connects (clean or persistent,
// takeovers), disconnects of every kind, deliveries, client acks, subscribes, inbound QoS 2,
// time passing and node crashes, run against the real `handleSession` on a virtual clock. The
// harness (test/helpers/session-model.ts) checks after every step: one live connection per
// client id (replaced ones closed with 0x8E), nothing owed to the client lost unless expired,
// dropped with an event or the session ended, packet ids never reused while inflight and no
// resend after PUBREC, inbound QoS 2 dedup, wills exactly when the spec says, the store ops
// rebuilding the live session, and export → import equality.
import { test } from 'node:test';
import fc from 'fast-check';
import { SESSION_NEVER_EXPIRES, type SessionLimits } from '../../src/actors/session-types.js';
import type { QoS, SubscriptionOptions } from '../../src/protocol/message.js';
import { SessionHarness, type AckVariant, type ConnectSpec, type DisconnectKindSpec } from '../helpers/session-model.js';
import { propertyParams } from './harness.js';

type Cmd = fc.AsyncCommand<object, SessionHarness>;

/** Every command runs in any state: the harness turns an impossible one into a no-op. */
function cmd(label: string, run: (h: SessionHarness) => Promise<void>): Cmd {
  return { check: () => true, run: (_m, h) => run(h), toString: () => label };
}

const qosArb = fc.constantFrom<QoS>(0, 1, 2);
const expiryArb = fc.oneof(
  { arbitrary: fc.constant(0), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 40 }), weight: 2 },
  { arbitrary: fc.constant(SESSION_NEVER_EXPIRES), weight: 1 },
);

const connectArb: fc.Arbitrary<ConnectSpec> = fc.oneof(
  // MQTT 3.1.1: Clean Session decides everything; no Receive Maximum, no Will Delay
  fc.record({ cleanStart: fc.boolean(), will: fc.option(fc.constant({ delaySec: 0 }), { nil: null }) }).map(({ cleanStart, will }) => ({
    version: 4 as const,
    cleanStart,
    expirySec: cleanStart ? 0 : SESSION_NEVER_EXPIRES,
    receiveMaximum: 65535,
    will,
  })),
  fc.record({
    version: fc.constant(5 as const),
    cleanStart: fc.constantFrom(false, false, false, true),
    expirySec: expiryArb,
    receiveMaximum: fc.integer({ min: 1, max: 4 }),
    will: fc.option(fc.record({ delaySec: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 })) }), { nil: null }),
  }),
);

const filterArb = fc.constantFrom('a', 'a/+', '#', 'a/#/b', '$share/g/a', 'toString', '__proto__');
const subscribeArb = fc.array(
  fc.record({
    filter: filterArb,
    options: fc.record({ qos: qosArb, retainHandling: fc.constantFrom<0 | 1 | 2>(0, 1, 2) }).map(
      ({ qos, retainHandling }): SubscriptionOptions => ({ qos, noLocal: false, retainAsPublished: false, retainHandling }),
    ),
  }),
  { minLength: 1, maxLength: 3 },
);

const deliverArb = fc
  .record({ qos: qosArb, bytes: fc.integer({ min: 0, max: 12 }), expiry: fc.option(fc.integer({ min: 1, max: 30 }), { nil: null, freq: 3 }) })
  .map(({ qos, bytes, expiry }) => cmd(`deliver(q${qos}, ${bytes}B, exp ${expiry})`, (h) => h.deliver(qos, bytes, expiry)));
const ackArb = fc
  .record({ k: fc.nat(20), variant: fc.constantFrom<AckVariant>('normal', 'normal', 'normal', 'normal', 'refuse', 'discard', 'wrong', 'stray') })
  .map(({ k, variant }) => cmd(`ack(${k}, ${variant})`, (h) => h.ack(k, variant)));
const advanceArb = fc
  .oneof({ arbitrary: fc.integer({ min: 0, max: 3000 }), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 30_000 }), weight: 1 })
  .map((ms) => cmd(`advance(${ms})`, (h) => h.advance(ms)));

// Repeated entries weigh more: deliveries and acks are most of a session's life.
const commandArbs: fc.Arbitrary<Cmd>[] = [
  connectArb.map((c) => cmd(`connect(${JSON.stringify(c)})`, (h) => h.connect(c))),
  connectArb.map((c) => cmd(`connect(${JSON.stringify(c)})`, (h) => h.connect(c))),
  fc
    .record({ kind: fc.constantFrom<DisconnectKindSpec>('normal', 'will', 'abnormal', 'server'), expiry: fc.option(expiryArb, { nil: undefined }) })
    .map(({ kind, expiry }) => cmd(`disconnect(${kind}, ${expiry})`, (h) => h.disconnect(kind, expiry))),
  deliverArb,
  deliverArb,
  deliverArb,
  ackArb,
  ackArb,
  ackArb,
  subscribeArb.map((r) => cmd(`subscribe(${JSON.stringify(r)})`, (h) => h.subscribe(r))),
  fc.array(filterArb, { minLength: 1, maxLength: 2 }).map((f) => cmd(`unsubscribe(${JSON.stringify(f)})`, (h) => h.unsubscribe(f))),
  advanceArb,
  fc.constant(cmd('timer', (h) => h.timer())),
  fc
    .record({ kind: fc.constantFrom<'check' | 'routed' | 'pubrel'>('check', 'routed', 'pubrel'), id: fc.integer({ min: 1, max: 3 }) })
    .map(({ kind, id }) => cmd(`inbound(${kind}, ${id})`, (h) => h.inbound(kind, id))),
  fc.constant(cmd('crash', (h) => h.crash())),
];

const limitsArb: fc.Arbitrary<SessionLimits> = fc.record({
  maxInflight: fc.integer({ min: 1, max: 4 }),
  maxQueuedMessages: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 })),
  maxQueuedBytes: fc.oneof(fc.constant(0), fc.integer({ min: 8, max: 40 })),
  maxSubscriptions: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 })),
});

test('session actor against its model', async () => {
  await fc.assert(
    fc.asyncProperty(limitsArb, connectArb, fc.commands(commandArbs, { maxCommands: 80, size: 'max' }), async (limits, first, cmds) => {
      await fc.asyncModelRun(async () => {
        const real = new SessionHarness(limits);
        await real.connect(first); // most commands need a session
        return { model: {}, real };
      }, cmds);
    }),
    propertyParams(),
  );
});
