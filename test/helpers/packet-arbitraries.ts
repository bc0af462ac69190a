// fast-check arbitraries of MQTT packets as mqtt-packet models them (3.1.1 and 5.0, with
// generated properties), whole client sessions (CONNECT first) and byte-level mutations of them.
// Shared by the codec property test (test/property/codec.property.test.ts) and the fuzz test over
// real sockets (test/integration/fuzz.test.ts).
import fc from 'fast-check';
import type { IConnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import { encodePacket } from '../../src/protocol/codec.js';

export type Version = 4 | 5;
export type Props = Record<string, unknown>;

// ---------- arbitraries ----------

export const str = (max = 12): fc.Arbitrary<string> => fc.string({ unit: 'binary', maxLength: max });
export const buf = (max = 24): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((u) => Buffer.from(u));
const u16 = fc.integer({ min: 1, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const packetId = fc.integer({ min: 1, max: 0xffff });
export const qos = fc.constantFrom(0 as const, 1 as const, 2 as const);
export const topicName = fc
  .array(fc.string({ unit: fc.constantFrom('a', 'b', 'é', '€', '😀', ' ', '$'), minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 })
  .map((levels) => levels.join('/'));
// A value that appears twice is parsed into an array, so repeated values come as arrays of 2+.
// mqtt-packet 9.0.2's parser loses a repeated user property whose FIRST value is '' (it tests
// the stored value for truthiness), so repeated ones start with a non-empty value.
export const userProperties = fc.dictionary(
  fc.stringMatching(/^[a-z]{1,4}$/),
  fc.oneof(str(6), fc.tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), fc.array(str(6), { minLength: 1, maxLength: 2 })).map(([h, t]) => [h, ...t])),
  { maxKeys: 3 },
);

/** An optional-property record: each key present or not. */
export function props(model: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Props | undefined> {
  return fc.option(fc.record(model, { requiredKeys: [] }), { nil: undefined });
}

const reasonProps = props({ reasonString: str(), userProperties });

export function connectArb(version: Version): fc.Arbitrary<IConnectPacket> {
  const will = fc.record(
    {
      topic: topicName,
      payload: buf(),
      qos,
      retain: fc.boolean(),
      properties: version === 5
        ? props({
          willDelayInterval: u32, payloadFormatIndicator: fc.boolean(), messageExpiryInterval: u32, contentType: str(),
          responseTopic: topicName, correlationData: buf(), userProperties,
        })
        : fc.constant(undefined),
    },
    { requiredKeys: ['topic', 'payload', 'qos', 'retain'] },
  );
  return fc
    .record({
      clientId: str(23),
      clean: fc.boolean(),
      keepalive: fc.integer({ min: 0, max: 0xffff }),
      will: fc.option(will, { nil: undefined }),
      username: fc.option(str(), { nil: undefined }),
      password: fc.option(buf(), { nil: undefined }),
      properties: version === 5
        ? props({
          sessionExpiryInterval: u32, receiveMaximum: u16, maximumPacketSize: fc.integer({ min: 1, max: 0xffffffff }),
          topicAliasMaximum: u16, requestResponseInformation: fc.boolean(), requestProblemInformation: fc.boolean(),
          userProperties, authenticationMethod: str(), authenticationData: buf(),
        })
        : fc.constant(undefined),
    })
    .map((r) => {
      const p: IConnectPacket = {
        cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId: r.clientId,
        clean: r.clientId === '' ? true : r.clean, keepalive: r.keepalive,
      };
      if (r.will !== undefined) p.will = r.will as IConnectPacket['will'];
      if (r.username !== undefined) {
        p.username = r.username;
        if (r.password !== undefined) p.password = r.password;
      }
      if (r.properties !== undefined) p.properties = r.properties;
      return p;
    });
}

export function publishArb(version: Version, topic: fc.Arbitrary<string> = topicName): fc.Arbitrary<IPublishPacket> {
  return fc
    .record({
      topic,
      payload: buf(40),
      qos,
      dup: fc.boolean(),
      retain: fc.boolean(),
      messageId: packetId,
      properties: version === 5
        ? props({
          payloadFormatIndicator: fc.constant(false), messageExpiryInterval: u32, topicAlias: u16, responseTopic: topicName,
          correlationData: buf(), userProperties, contentType: str(),
          subscriptionIdentifier: fc.oneof(fc.integer({ min: 1, max: 268_435_455 }), fc.array(fc.integer({ min: 1, max: 268_435_455 }), { minLength: 2, maxLength: 3 })),
        })
        : fc.constant(undefined),
    })
    .map((r) => {
      const p: IPublishPacket = { cmd: 'publish', topic: r.topic, payload: r.payload, qos: r.qos, dup: r.qos > 0 && r.dup, retain: r.retain };
      if (r.qos > 0) p.messageId = r.messageId;
      if (r.properties !== undefined) p.properties = r.properties;
      return p;
    });
}

const codes = {
  puback: [0, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  pubrel: [0, 0x92],
  suback5: [0, 1, 2, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
  unsuback: [0, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
  disconnect: [0, 4, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2],
  connack5: [0, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f],
};

function ackArb(cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', version: Version): fc.Arbitrary<Packet> {
  const rc = fc.constantFrom(...(cmd === 'puback' || cmd === 'pubrec' ? codes.puback : codes.pubrel));
  return fc.record({ messageId: packetId, reasonCode: rc, properties: reasonProps }).map((r) =>
    version === 5 ? ({ cmd, ...defined(r) } as Packet) : ({ cmd, messageId: r.messageId } as Packet));
}

export function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Packets a client sends (what a Connection receives), for the given level. */
export function clientPacketArb(version: Version, topic?: fc.Arbitrary<string>): fc.Arbitrary<Packet> {
  const subscribe = fc.record({
    messageId: packetId,
    subscriptions: fc.array(
      fc.record({ topic: topicName, qos, nl: fc.boolean(), rap: fc.boolean(), rh: fc.constantFrom(0, 1, 2) })
        .map((s) => (version === 5 ? s : { topic: s.topic, qos: s.qos })),
      { minLength: 1, maxLength: 3 },
    ),
    properties: version === 5 ? props({ subscriptionIdentifier: fc.integer({ min: 1, max: 268_435_455 }), userProperties }) : fc.constant(undefined),
  }).map((r) => ({ cmd: 'subscribe', ...defined(r) }) as Packet);
  const unsubscribe = fc.record({
    messageId: packetId,
    unsubscriptions: fc.array(topicName, { minLength: 1, maxLength: 3 }),
    properties: version === 5 ? props({ userProperties }) : fc.constant(undefined),
  }).map((r) => ({ cmd: 'unsubscribe', ...defined(r) }) as Packet);
  const arbs: Array<fc.Arbitrary<Packet>> = [
    publishArb(version, topic), subscribe, unsubscribe,
    ackArb('puback', version), ackArb('pubrec', version), ackArb('pubrel', version), ackArb('pubcomp', version),
    fc.constant({ cmd: 'pingreq' } as Packet),
  ];
  if (version === 5) {
    arbs.push(fc.record({ reasonCode: fc.constantFrom(0, 0x18, 0x19), properties: props({ authenticationMethod: str(), authenticationData: buf(), reasonString: str(), userProperties }) })
      .map((r) => ({ cmd: 'auth', ...defined(r) }) as Packet));
  }
  return fc.oneof(...arbs);
}

/** Packets a server sends. */
export function serverPacketArb(version: Version): fc.Arbitrary<Packet> {
  const connack = version === 5
    ? fc.record({
      sessionPresent: fc.boolean(),
      reasonCode: fc.constantFrom(...codes.connack5),
      properties: props({
        sessionExpiryInterval: u32, receiveMaximum: u16, maximumQoS: fc.constantFrom(0, 1), retainAvailable: fc.boolean(),
        maximumPacketSize: fc.integer({ min: 1, max: 0xffffffff }), assignedClientIdentifier: str(), topicAliasMaximum: u16,
        reasonString: str(), userProperties, wildcardSubscriptionAvailable: fc.boolean(), subscriptionIdentifiersAvailable: fc.boolean(),
        sharedSubscriptionAvailable: fc.boolean(), serverKeepAlive: u16, responseInformation: str(), serverReference: str(),
        authenticationMethod: str(), authenticationData: buf(),
      }),
    }).map((r) => ({ cmd: 'connack', ...defined(r) }) as Packet)
    : fc.record({ sessionPresent: fc.boolean(), returnCode: fc.integer({ min: 0, max: 5 }) }).map((r) => ({ cmd: 'connack', ...r }) as Packet);
  const suback = fc.record({
    messageId: packetId,
    granted: fc.array(fc.constantFrom(...(version === 5 ? codes.suback5 : [0, 1, 2, 0x80])), { minLength: 1, maxLength: 4 }),
    properties: version === 5 ? reasonProps : fc.constant(undefined),
  }).map((r) => ({ cmd: 'suback', ...defined(r) }) as Packet);
  const unsuback = fc.record({
    messageId: packetId,
    granted: fc.array(fc.constantFrom(...codes.unsuback), { minLength: 1, maxLength: 4 }),
    properties: reasonProps,
  }).map((r) => (version === 5 ? ({ cmd: 'unsuback', ...defined(r) }) : ({ cmd: 'unsuback', messageId: r.messageId, granted: [] })) as Packet);
  const arbs: Array<fc.Arbitrary<Packet>> = [
    connack, publishArb(version, fc.oneof(topicName, fc.constant(''))), suback, unsuback,
    ackArb('puback', version), ackArb('pubrec', version), ackArb('pubrel', version), ackArb('pubcomp', version),
    fc.constant({ cmd: 'pingresp' } as Packet),
  ];
  if (version === 5) {
    arbs.push(fc.record({ reasonCode: fc.constantFrom(...codes.disconnect), properties: props({ sessionExpiryInterval: u32, reasonString: str(), userProperties, serverReference: str() }) })
      .map((r) => ({ cmd: 'disconnect', ...defined(r) }) as Packet));
  } else {
    arbs.push(fc.constant({ cmd: 'disconnect' } as Packet));
  }
  return fc.oneof(...arbs);
}


/**
 * A position in a stream as a fraction in [0, 1), spread evenly: fc.double() favours values near 0
 * (it biases towards small exponents), which put most mutations and cuts at the first bytes.
 */
export const fractionArb: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0xffff }).map((n) => n / 0x10000);

export type Mutation = { kind: 'flip'; at: number; xor: number } | { kind: 'truncate'; at: number } | { kind: 'insert'; at: number; bytes: Uint8Array } | { kind: 'delete'; at: number; n: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fractionArb, xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fractionArb }),
  fc.record({ kind: fc.constant('insert' as const), at: fractionArb, bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fractionArb, n: fc.integer({ min: 1, max: 4 }) }),
);

export function mutate(bytes: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(bytes);
  for (const m of ms) {
    const at = Math.floor(m.at * b.length);
    if (m.kind === 'flip' && b.length > 0) b[at] = b[at]! ^ m.xor;
    else if (m.kind === 'truncate') b = b.subarray(0, at);
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
  }
  return b;
}

export function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    if (p > at) out.push(bytes.subarray(at, p));
    at = Math.max(at, p);
  }
  if (at < bytes.length) out.push(bytes.subarray(at));
  return out;
}

/** Rewrites each packet of a generated session before it is encoded (see validSessionArb). */
export type PacketTidy = (packet: Packet) => Packet;

const asIs: PacketTidy = (p) => p;

/**
 * A valid client session: CONNECT, packets the Connection accepts, maybe a DISCONNECT. `tidy`
 * rewrites each packet first (the fuzz test uses it to leave no session or retained message behind).
 */
export function validSessionArb(version: Version, tidy: PacketTidy = asIs): fc.Arbitrary<{ packets: Packet[]; connect: Buffer; body: Buffer }> {
  const connect = connectArb(version).map((c) => {
    const p: IConnectPacket = { ...c, clientId: c.clientId.replace(/\u0000/g, '') || 'x' };
    if (p.will) p.will = { ...p.will, properties: p.will.properties && { ...p.will.properties, payloadFormatIndicator: false } };
    // No enhanced authentication: this Connection offers no method, so one would get CONNACK 0x8C.
    if (p.properties) p.properties = { ...p.properties, maximumPacketSize: undefined, authenticationMethod: undefined, authenticationData: undefined };
    return p;
  });
  // AUTH without a method in CONNECT is a protocol error [MQTT-4.12.0-7]: not part of a valid session.
  const body = clientPacketArb(version).filter((p) => p.cmd !== 'auth').map((p) => {
    if (p.cmd === 'publish' && p.properties) {
      const { topicAlias: _a, subscriptionIdentifier: _s, ...rest } = p.properties;
      return { ...p, properties: rest } as Packet;
    }
    return p;
  });
  return fc
    .tuple(connect, fc.array(body, { minLength: 1, maxLength: 8 }), fc.boolean())
    .map(([c, rest, disconnect]) => {
      const packets: Packet[] = [c, ...rest].map(tidy);
      if (disconnect) packets.push(version === 5 ? { cmd: 'disconnect', reasonCode: 0 } : { cmd: 'disconnect' });
      const encoded = packets.map((p) => encodePacket(p, version));
      return { packets, connect: encoded[0]!, body: Buffer.concat(encoded.slice(1)) };
    });
}

/** CONNECT, then well-formed packets of any kind and validity (server-only ones, wildcard topics...). */
export function anySessionArb(version: Version, tidy: PacketTidy = asIs): fc.Arbitrary<Buffer> {
  const badTopic = fc.oneof(topicName, fc.constantFrom('', 'a/+', '#', 'a/#/b', 'x\u0000y', '+'));
  return fc
    .tuple(validSessionArb(version, tidy), fc.array(fc.oneof(clientPacketArb(version, badTopic), serverPacketArb(version), connectArb(version)), { minLength: 1, maxLength: 6 }))
    .map(([s, extra]) => Buffer.concat([s.connect, ...extra.map((p) => encodePacket(tidy(p), version))]));
}
