// Properties of the MQTT codec as the Connection uses it:
// (1) every packet type, 3.1.1 and 5.0 with generated properties, survives encodePacket →
//     PacketDecoder (fed in arbitrary chunks, after the CONNECT that sets the protocol level);
// (2) arbitrary and mutated byte streams fed to a real Connection never throw out of it and never
//     hang it: each run ends with exactly one onClose carrying a reason code, the handler only
//     ever sees valid packets, and an unmutated valid stream is delivered exactly.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import type { IConnectPacket, Packet } from 'mqtt-packet';
import { PacketDecoder, encodePacket } from '../../src/protocol/codec.js';
import { validateTopicName } from '../../src/routing/topic.js';
import { Connection, type CloseReason, type ConnectionHandler } from '../../src/transport/connection.js';
import type { ConnectAccepted } from '../../src/protocol/connect.js';
import { propertyParams } from './harness.js';
import {
  anySessionArb,
  clientPacketArb,
  connectArb,
  mutate,
  mutationArb,
  serverPacketArb,
  split,
  validSessionArb,
  type Props,
  type Version,
} from '../helpers/packet-arbitraries.js';

// ---------- normal form for comparing packets ----------

function normProps(p: unknown): Props | undefined {
  if (p === undefined || p === null) return undefined;
  const out: Props = {};
  for (const [k, v] of Object.entries(p as Props)) {
    if (v === undefined) continue;
    out[k] = k === 'userProperties' ? { ...(v as object) } : v;
  }
  if (out.userProperties !== undefined && Object.keys(out.userProperties as object).length === 0) delete out.userProperties;
  return Object.keys(out).length === 0 ? undefined : out;
}

/** The fields that travel on the wire for `version`, with the codec's defaults filled in. */
function norm(p: Packet, version: Version): unknown {
  const v5 = version === 5;
  const a = p as Packet & Record<string, unknown>;
  switch (p.cmd) {
    case 'connect': {
      const will = p.will && {
        topic: p.will.topic, payload: Buffer.from(p.will.payload), qos: p.will.qos ?? 0, retain: p.will.retain ?? false,
        properties: v5 ? normProps(p.will.properties) : undefined,
      };
      return {
        cmd: p.cmd, protocolId: p.protocolId ?? 'MQTT', protocolVersion: p.protocolVersion ?? 4, clean: p.clean ?? true,
        keepalive: p.keepalive ?? 0, clientId: p.clientId, will, username: p.username, password: p.password,
        properties: v5 ? normProps(p.properties) : undefined,
      };
    }
    case 'connack':
      return v5
        ? { cmd: p.cmd, sessionPresent: p.sessionPresent, reasonCode: p.reasonCode ?? 0, properties: normProps(p.properties) }
        : { cmd: p.cmd, sessionPresent: p.sessionPresent, returnCode: p.returnCode };
    case 'publish':
      return {
        cmd: p.cmd, topic: p.topic, payload: Buffer.from(p.payload), qos: p.qos, dup: p.dup, retain: p.retain,
        messageId: p.qos > 0 ? p.messageId : undefined, properties: v5 ? normProps(p.properties) : undefined,
      };
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return { cmd: p.cmd, messageId: p.messageId, reasonCode: v5 ? (p.reasonCode ?? 0) : undefined, properties: v5 ? normProps(p.properties) : undefined };
    case 'subscribe':
      return {
        cmd: p.cmd, messageId: p.messageId, properties: v5 ? normProps(p.properties) : undefined,
        subscriptions: p.subscriptions.map((s) => (v5 ? { topic: s.topic, qos: s.qos, nl: s.nl ?? false, rap: s.rap ?? false, rh: s.rh ?? 0 } : { topic: s.topic, qos: s.qos })),
      };
    case 'suback':
      return { cmd: p.cmd, messageId: p.messageId, granted: [...(p.granted as number[])], properties: v5 ? normProps(p.properties) : undefined };
    case 'unsubscribe':
      return { cmd: p.cmd, messageId: p.messageId, unsubscriptions: [...p.unsubscriptions], properties: v5 ? normProps(p.properties) : undefined };
    case 'unsuback':
      return v5 ? { cmd: p.cmd, messageId: p.messageId, granted: [...p.granted], properties: normProps(p.properties) } : { cmd: p.cmd, messageId: p.messageId };
    case 'disconnect':
    case 'auth':
      return v5 ? { cmd: p.cmd, reasonCode: a.reasonCode ?? 0, properties: normProps(a.properties) } : { cmd: p.cmd };
    default:
      return { cmd: p.cmd };
  }
}

function decodeAll(bytes: Buffer, cuts: number[]): { packets: Packet[]; error: string | null } {
  const packets: Packet[] = [];
  let error: string | null = null;
  const decoder = new PacketDecoder(
    { maxPacketSize: 1 << 20, firstMustBeConnect: true },
    { onPacket: (p) => packets.push(p), onError: (code, detail) => (error = `${code}: ${detail}`) },
  );
  let at = 0;
  for (const cut of [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((x, y) => x - y)) {
    decoder.push(bytes.subarray(at, cut));
    at = cut;
  }
  decoder.push(bytes.subarray(at));
  return { packets, error };
}

describe('codec property: encodePacket → PacketDecoder round trip', () => {
  for (const version of [4, 5] as const) {
    it(`every packet type, MQTT ${version === 5 ? '5.0' : '3.1.1'}, in arbitrary chunks`, () => {
      const packetArb = fc.oneof(clientPacketArb(version), serverPacketArb(version), connectArb(version));
      fc.assert(
        fc.property(
          connectArb(version),
          fc.array(packetArb, { maxLength: 8 }),
          fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
          (connect, rest, cuts) => {
            const sent = [connect, ...rest];
            const encoded = sent.map((p) => encodePacket(p, version));
            const { packets, error } = decodeAll(Buffer.concat(encoded), cuts);
            assert.equal(error, null);
            assert.deepStrictEqual(packets.map((p) => norm(p, version)), sent.map((p) => norm(p, version)));
            // Re-encoding what was decoded gives the same bytes.
            packets.forEach((p, i) => assert.deepStrictEqual(encodePacket(p, version), encoded[i]));
          },
        ),
        propertyParams(),
      );
    });
  }
});

// ---------- property 2: a real Connection under arbitrary input ----------

const connectionLimits = {
  maxPacketSize: 4096,
  connectTimeoutMs: 5000,
  maxKeepaliveSec: 0,
  topicAliasMaximum: 4,
  receiveMaximum: 1000,
  maxWriteBufferBytes: 1 << 20,
  maxPendingRequests: 128,
};

interface Run {
  delivered: Packet[];
  closes: CloseReason[];
  afterClose: number;
  thrown: unknown[];
}

/** The server end of an in-memory pipe: the test pushes bytes in, the Connection writes out. */
function serverStream(): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _enc, cb) {
      cb();
    },
    final(cb) {
      cb();
    },
  });
}

function isDeliverable(p: Packet, version: Version): string | null {
  if (p.cmd === 'publish') {
    const t = validateTopicName(p.topic);
    if (t !== null) return t;
    if (p.qos > 0 && !(p.messageId! >= 1)) return 'publish without packet id';
    if (p.properties?.topicAlias !== undefined) return 'alias not resolved';
  } else if (!['puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'unsubscribe'].includes(p.cmd)) {
    // AUTH included: the Connection answers it (enhanced authentication, §4.12), never the node.
    return `${p.cmd} delivered to the node`;
  }
  if (p.cmd === 'subscribe' && p.subscriptions.length === 0) return 'empty subscribe';
  try {
    encodePacket(p, version);
  } catch (e) {
    return `cannot re-encode: ${String(e)}`;
  }
  return null;
}

async function feed(chunks: Buffer[]): Promise<Run> {
  const run: Run = { delivered: [], closes: [], afterClose: 0, thrown: [] };
  const stream = serverStream();
  let closed!: () => void;
  const done = new Promise<void>((r) => (closed = r));
  const handler: ConnectionHandler = {
    onConnect(conn: Connection, _p: IConnectPacket, _d: ConnectAccepted) {
      if (run.closes.length > 0) run.afterClose++;
      conn.accept({ sessionPresent: false });
    },
    onPublish(_c, p) {
      if (run.closes.length > 0) run.afterClose++;
      run.delivered.push(p);
    },
    onControl(_c, p) {
      if (run.closes.length > 0) run.afterClose++;
      run.delivered.push(p);
    },
    onClose(_c, reason) {
      run.closes.push(reason);
      closed();
    },
  };
  const onUncaught = (e: unknown): void => {
    run.thrown.push(e);
  };
  process.on('uncaughtException', onUncaught);
  try {
    new Connection(stream, handler, connectionLimits, 1, 'memory');
    for (const c of chunks) {
      try {
        stream.push(c);
      } catch (e) {
        run.thrown.push(e);
      }
      await new Promise((r) => setImmediate(r));
    }
    stream.push(null);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('uncaughtException', onUncaught);
    stream.destroy();
  }
  return run;
}

describe('codec property: a real Connection under arbitrary and mutated input', () => {
  it('never throws, never hangs, closes once with a reason code, delivers only valid packets', async () => {
    const input = fc.oneof(
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((u) => ({ version: 5 as Version, valid: null, bytes: Buffer.from(u) })) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom(4 as const, 5 as const), fc.array(mutationArb, { maxLength: 1 }))
          .chain(([version, mutations]) => anySessionArb(version).map((b) => ({ version: version as Version, valid: null, bytes: mutate(b, mutations) }))),
      },
      {
        weight: 4,
        // Mostly mutate what follows CONNECT: a broken CONNECT ends the run before the
        // interesting checks.
        arbitrary: fc
          .tuple(fc.constantFrom(4 as const, 5 as const), fc.array(mutationArb, { maxLength: 3 }), fc.constantFrom('all', 'body', 'body', 'body'))
          .chain(([version, mutations, scope]) =>
            validSessionArb(version).map((s) => ({
              version: version as Version,
              valid: mutations.length === 0 ? s.packets : null,
              bytes: scope === 'all'
                ? mutate(Buffer.concat([s.connect, s.body]), mutations)
                : Buffer.concat([s.connect, mutate(s.body, mutations)]),
            }))),
      },
    );
    await fc.assert(
      fc.asyncProperty(input, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }), async ({ version, valid, bytes }, cuts) => {
        const run = await feed(split(bytes, cuts));
        assert.deepEqual(run.thrown, [], 'nothing thrown out of the Connection');
        assert.equal(run.closes.length, 1, 'onClose exactly once, within the time bound');
        const reason = run.closes[0]!;
        assert.ok(Number.isInteger(reason.reasonCode) && reason.reasonCode >= 0 && reason.reasonCode <= 0xff, `reason code ${reason.reasonCode}`);
        assert.ok(reason.detail.length > 0);
        assert.equal(run.afterClose, 0, 'no handler call after onClose');
        for (const p of run.delivered) assert.equal(isDeliverable(p, version), null, JSON.stringify(p));
        if (valid !== null) {
          // Unmutated: everything after CONNECT except PINGREQ and DISCONNECT reaches the node as sent.
          const expected = valid.slice(1).filter((p) => p.cmd !== 'pingreq' && p.cmd !== 'disconnect');
          assert.deepStrictEqual(run.delivered.map((p) => norm(p, version)), expected.map((p) => norm(p, version)));
          const endsWithDisconnect = valid[valid.length - 1]!.cmd === 'disconnect';
          assert.equal(reason.kind, endsWithDisconnect ? 'normal' : 'abnormal');
        }
      }),
      propertyParams(),
    );
  });
});
