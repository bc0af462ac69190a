// Generators of the MQTT values sessions hold (messages with properties, wills, subscription
// options), shared by the storage and takeover-codec properties.
import fc from 'fast-check';
import type { AppMessage, SubscriptionOptions, WillMessage } from '../../src/protocol/message.js';

const bytesArb = fc.uint8Array({ maxLength: 8 });
const textArb = fc.string({ maxLength: 6 });

export const appMessageArb: fc.Arbitrary<AppMessage> = fc.record(
  {
    topic: fc.constantFrom('t', 'a/b', 'x/y/z', '€/ü'),
    payload: bytesArb,
    qos: fc.constantFrom(0 as const, 1 as const, 2 as const),
    retain: fc.boolean(),
    properties: fc.record(
      {
        payloadFormatIndicator: fc.boolean(),
        contentType: textArb,
        responseTopic: textArb,
        correlationData: bytesArb,
        userProperties: fc.dictionary(fc.constantFrom('k1', 'k2', 'k3'), fc.oneof(textArb, fc.array(textArb, { maxLength: 3 })), { noNullPrototype: true }),
      },
      { requiredKeys: [], noNullPrototype: true },
    ),
    expiresAt: fc.nat(),
    publisherId: fc.constantFrom('p1', 'p2'),
  },
  { requiredKeys: ['topic', 'payload', 'qos', 'retain', 'publisherId'], noNullPrototype: true },
);

export const willArb: fc.Arbitrary<WillMessage | null> = fc.option(fc.record({ message: appMessageArb, delaySec: fc.nat({ max: 3600 }) }, { noNullPrototype: true }), { nil: null });

export const subOptionsArb: fc.Arbitrary<SubscriptionOptions> = fc.record(
  {
    qos: fc.constantFrom(0 as const, 1 as const, 2 as const),
    noLocal: fc.boolean(),
    retainAsPublished: fc.boolean(),
    retainHandling: fc.constantFrom(0 as const, 1 as const, 2 as const),
    subscriptionId: fc.integer({ min: 1, max: 268_435_455 }),
  },
  { requiredKeys: ['qos', 'noLocal', 'retainAsPublished', 'retainHandling'], noNullPrototype: true },
);

