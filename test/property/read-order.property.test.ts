// Subscriptions in read order, against a real node over real sockets: random SUBSCRIBE /
// UNSUBSCRIBE / PUBLISH sequences on several connections, each connection's packets of a round
// pipelined in one socket write, and every delivery checked against the subscriptions in force at
// the PUBLISH's read position, in a reference model written here.
//
// The read position: within a round, the node reads one connection's write in order; between
// rounds on different connections, the round's connection sends PINGREQ and the test waits for
// its PINGRESP, which the node writes when it reads the PINGREQ, so everything before it has been
// read. That is a read barrier, not a wait for the SUBACK: the SUBACKs are still pending then.
// Per PUBLISH by P on topic T at QoS q, each connection S gets exactly one copy if it holds a
// matching subscription (not counting its No Local ones when S = P [MQTT-3.8.3-3]), at
// min(q, highest granted QoS) [MQTT-3.3.4-2], carrying every matching subscription identifier
// [MQTT-3.3.4-3]; and none otherwise. Copies are compared as multisets once a fence message has
// reached each connection (what was routed to it before the fence arrives before it).
// QoS 0 and 1 PUBLISHes only: a QoS 2 PUBLISH is routed once its duplicate check returns from the
// session (README, "Subscriptions in read order").
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Packet } from 'mqtt-packet';
import { startTestNode, removeDir, type TestNode } from '../helpers/node.js';
import { PipelinedClient } from '../helpers/pipelined-client.js';
import { refMatches } from '../helpers/topic-reference.js';
import { propertyParams } from './harness.js';

const CONNECTIONS = 3;

type Op =
  | { kind: 'sub'; filter: string; qos: 0 | 1; id: number | null; noLocal: boolean }
  | { kind: 'unsub'; filter: string }
  | { kind: 'pub'; topic: string; qos: 0 | 1 };

interface Round {
  conn: number;
  ops: Op[];
}

const topicArb = fc.constantFrom('a', 'b', 'a/a', 'a/b', 'b/a');
const filterArb = fc.oneof(topicArb, fc.constantFrom('+', '#', 'a/+', '+/a', 'a/#', '+/+'));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sub' as const), filter: filterArb, qos: fc.constantFrom<0 | 1>(0, 1), id: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }), noLocal: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unsub' as const), filter: filterArb }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('pub' as const), topic: topicArb, qos: fc.constantFrom<0 | 1>(0, 1) }) },
);
const roundsArb = fc.array(fc.record({ conn: fc.nat(CONNECTIONS - 1), ops: fc.array(opArb, { minLength: 1, maxLength: 6 }) }), { minLength: 1, maxLength: 12 });

interface ModelSub {
  qos: 0 | 1;
  id: number | null;
  noLocal: boolean;
}

/** A copy as compared: payload (which names the PUBLISH), QoS and subscription identifiers. */
function copyKey(payload: string, qos: number, ids: readonly number[]): string {
  return `${payload} q${qos} [${ids.join(',')}]`;
}

/** The copies each connection must get, computed from the subscriptions at each PUBLISH's read position. */
function expectedCopies(rounds: Round[], prefix: string): string[][] {
  const subs = Array.from({ length: CONNECTIONS }, () => new Map<string, ModelSub>());
  const expected: string[][] = Array.from({ length: CONNECTIONS }, () => []);
  let seq = 0;
  for (const { conn, ops } of rounds) {
    for (const op of ops) {
      if (op.kind === 'sub') subs[conn]!.set(op.filter, { qos: op.qos, id: op.id, noLocal: op.noLocal });
      else if (op.kind === 'unsub') subs[conn]!.delete(op.filter);
      else {
        const payload = `${prefix}#${seq++}`;
        for (let s = 0; s < CONNECTIONS; s++) {
          const matching = [...subs[s]!].filter(([filter, o]) => refMatches(filter, op.topic) && !(o.noLocal && s === conn));
          if (matching.length === 0) continue;
          const qos = Math.min(op.qos, Math.max(...matching.map(([, o]) => o.qos)));
          const ids = [...new Set(matching.flatMap(([, o]) => (o.id === null ? [] : [o.id])))].sort((x, y) => x - y);
          expected[s]!.push(copyKey(payload, qos, ids));
        }
      }
    }
  }
  return expected.map((e) => e.sort());
}

/** The packets of one round for connection `c`; PUBLISH payloads number the publishes in order. */
function packetsOf(c: PipelinedClient, ops: Op[], prefix: string, seq: { n: number }): Packet[] {
  return ops.map((op): Packet => {
    if (op.kind === 'sub') {
      return {
        cmd: 'subscribe',
        messageId: c.packetId(),
        subscriptions: [{ topic: `${prefix}/${op.filter}`, qos: op.qos, nl: op.noLocal, rap: false, rh: 0 }],
        ...(op.id === null ? {} : { properties: { subscriptionIdentifier: op.id } }),
      };
    }
    if (op.kind === 'unsub') return { cmd: 'unsubscribe', messageId: c.packetId(), unsubscriptions: [`${prefix}/${op.filter}`] };
    const payload = Buffer.from(`${prefix}#${seq.n++}`);
    const topic = `${prefix}/${op.topic}`;
    return op.qos === 0
      ? { cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false }
      : { cmd: 'publish', topic, payload, qos: 1, messageId: c.packetId(), retain: false, dup: false };
  });
}

let node: TestNode;
let run = 0;

before(async () => {
  node = await startTestNode();
});

after(async () => {
  await node.stop();
  removeDir(node.dataDir);
});

test('pipelined SUBSCRIBE/UNSUBSCRIBE/PUBLISH on several connections: every delivery as the subscriptions at the read position say', async () => {
  await fc.assert(
    fc.asyncProperty(roundsArb, async (rounds) => {
      // Topics and client ids of their own per run: nothing of an earlier run can match.
      const prefix = `ro${run++}`;
      const clients: PipelinedClient[] = [];
      try {
        for (let k = 0; k < CONNECTIONS; k++) {
          const c = await PipelinedClient.connect(node.handle.mqtt.port, `${prefix}-${k}`);
          clients.push(c);
          // The fence subscription is in place before anything else (its SUBACK came): the
          // fence does not depend on what is tested.
          const id = c.packetId();
          await c.write([{ cmd: 'subscribe', messageId: id, subscriptions: [{ topic: `fence/${prefix}/${k}`, qos: 1 }] }]);
          await c.until('the fence SUBACK', () => c.control.find((p) => p.cmd === 'suback' && p.messageId === id));
        }
        const seq = { n: 0 };
        for (let r = 0; r < rounds.length; r++) {
          const { conn, ops } = rounds[r]!;
          const c = clients[conn]!;
          await c.write(packetsOf(c, ops, prefix, seq));
          // Another connection's next round (or the fences) needs the barrier; one connection's
          // rounds are one pipeline, read in order anyway.
          if (r + 1 === rounds.length || rounds[r + 1]!.conn !== conn) await c.barrier();
        }
        // Every round has been read: each connection publishes a fence to itself.
        for (let k = 0; k < CONNECTIONS; k++) {
          const c = clients[k]!;
          const topic = `fence/${prefix}/${k}`;
          await c.write([{ cmd: 'publish', topic, payload: Buffer.from('fence'), qos: 1, messageId: c.packetId(), retain: false, dup: false }]);
        }
        for (const c of clients) await c.until('the fence', () => c.received.find((m) => m.topic.startsWith('fence/')));
        const expected = expectedCopies(rounds, prefix);
        for (let k = 0; k < CONNECTIONS; k++) {
          const got = clients[k]!.received.filter((m) => !m.topic.startsWith('fence/')).map((m) => copyKey(m.payload, m.qos, m.ids)).sort();
          assert.deepEqual(got, expected[k], `connection ${k}: copies received`);
          const refused = clients[k]!.control.find((p) => p.cmd === 'disconnect');
          assert.equal(refused, undefined, `connection ${k} was disconnected`);
        }
      } finally {
        for (const c of clients) c.destroy();
      }
    }),
    propertyParams(),
  );
});
