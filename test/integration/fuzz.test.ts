// Fuzz over real sockets: a generated stream of client sessions (CONNECT first, then valid packets
// of every kind, 3.1.1 and 5.0, from mqtt-packet's generate), mutated (bit flips, truncation,
// inserted and deleted bytes, wrong and huge remaining lengths, or nothing but random bytes) and
// written to one node over TCP split at random points, several clients at a time. Meanwhile a
// well-behaved v5 subscriber and 3.1.1 publisher exchange QoS 1 messages. Checked:
// - every fuzz connection is closed, and the node logs its close (client.disconnected) with a
//   reason code and a detail, never an internal error; no error line is logged at all;
// - the good pair is never disconnected and loses nothing (every message, in order);
// - afterwards the node answers a new client, and the main thread's heap after GC is back within
//   heapMargin() of what it was before the fuzz (after a warm-up round).
// SHOAL_FUZZ_RUNS sets the number of rounds (each 1..6 clients), SHOAL_SEED replays a failure.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import type { IConnectPacket, Packet } from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import type { NodeEvents } from '../../src/node.js';
import { encodeVarInt, readFixedHeader } from '../../src/protocol/codec.js';
import { reasonName } from '../../src/protocol/reason-codes.js';
import type { CloseReason } from '../../src/transport/connection.js';
import { connect, removeDir, startTestNode, type TestNode } from '../helpers/node.js';
import { RawClient, withTimeout } from '../helpers/raw-client.js';
import { anySessionArb, fractionArb, mutate, mutationArb, split, validSessionArb, type Mutation, type Version } from '../helpers/packet-arbitraries.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const MB = 1024 * 1024;

const RUNS = Number(process.env.SHOAL_FUZZ_RUNS ?? 300);
const DETAIL = process.env.SHOAL_FUZZ_DETAIL === '1';
const WARMUP_RUNS = 20;
const SEED = process.env.SHOAL_SEED === undefined ? undefined : Number(process.env.SHOAL_SEED);
/**
 * How far heap after GC (code spaces left out) may end above its value before the fuzz: 1.5 MB,
 * plus 100 bytes per fuzz connection for longer runs (a flipped flag can leave a persistent
 * session or a retained message behind, legitimately). Measured: +0.2 to +0.6 MB over the default
 * 300 rounds (~1000 connections), +1.5 MB over 3000 rounds (~10,000). With the node mutated to
 * keep every closed Connection (onClose not deleting it from byConnId), the default run ends
 * +2.2 MB and fails.
 */
function heapMargin(connections: number): number {
  return 1.5 * MB + 100 * connections;
}
/** Small, so that huge and wrong remaining lengths hit it often. */
const MAX_PACKET_SIZE = 64 * 1024;
/** Low, so that generated topics (1..4 levels) cross them: the limits' paths are fuzzed too. */
const MAX_TOPIC_LEVELS = 3;
const MAX_TOPIC_LENGTH = 32;
/** A connection that never completes CONNECT is closed after this. */
const CONNECT_TIMEOUT_MS = 1000;
/** A fuzz connection must be closed within this of its last byte (it half-closes then). */
const CLOSE_WITHIN_MS = 10_000;

/**
 * Heap in use after GC, code spaces left out: V8 keeps compiling code as new paths get hot, which
 * is not state the fuzz left behind (it was most of the growth in the heap snapshots compared).
 */
function heapAfterGc(): number {
  gc();
  gc();
  let used = 0;
  for (const space of v8.getHeapSpaceStatistics()) if (!space.space_name.startsWith('code')) used += space.space_used_size;
  return used;
}

// ---------- what a fuzz client sends ----------

/** Rewrites the remaining length of one packet of a stream: far too large, or off by `delta`. */
type LengthMutation = { at: number; kind: 'huge' } | { at: number; kind: 'delta'; delta: number };

const lengthMutationArb: fc.Arbitrary<LengthMutation> = fc.oneof(
  fc.record({ at: fractionArb, kind: fc.constant('huge' as const) }),
  fc.record({ at: fractionArb, kind: fc.constant('delta' as const), delta: fc.integer({ min: -8, max: 300 }) }),
);

/** Applies `m` to the packet at fraction `m.at` of the stream's (well-formed) packets. */
function mutateLength(stream: Buffer, m: LengthMutation): Buffer {
  const starts: { at: number; headerLength: number; remainingLength: number }[] = [];
  for (let at = 0; at < stream.length; ) {
    const h = readFixedHeader(stream, at);
    if (h.kind !== 'header') break;
    starts.push({ at, headerLength: h.headerLength, remainingLength: h.remainingLength });
    at += h.headerLength + h.remainingLength;
  }
  const p = starts[Math.floor(m.at * starts.length)];
  if (p === undefined) return stream;
  const length = m.kind === 'huge' ? Buffer.from([0xff, 0xff, 0xff, 0x7f]) : encodeVarInt(Math.max(0, p.remainingLength + m.delta));
  return Buffer.concat([stream.subarray(0, p.at + 1), length, stream.subarray(p.at + p.headerLength)]);
}

/**
 * Sessions that leave nothing behind when unmutated: clean start, no session expiry, nothing
 * retained, no will delay. (A mutation may still flip a flag; the heap margin covers a few.)
 */
function leaveNothing(p: Packet): Packet {
  if (p.cmd === 'connect') {
    const c: IConnectPacket = { ...p, clean: true };
    if (c.properties !== undefined) c.properties = { ...c.properties, sessionExpiryInterval: 0 };
    if (c.will !== undefined) c.will = { ...c.will, retain: false, properties: c.will.properties && { ...c.will.properties, willDelayInterval: 0 } };
    return c;
  }
  return p.cmd === 'publish' ? { ...p, retain: false } : p;
}

interface Script {
  version: Version;
  bytes: Buffer;
  /** Fractions of the stream where a write ends. */
  cuts: number[];
}

const versionArb = fc.constantFrom(4 as const, 5 as const);

const scriptArb: fc.Arbitrary<Script> = fc
  .tuple(
    versionArb,
    fc.oneof(
      // Only random bytes: closed before or at a CONNECT that cannot parse.
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((u) => ({ valid: Buffer.from(u), lengths: [] as LengthMutation[], mutations: [] as Mutation[] })) },
      // Valid packets of any kind after a valid CONNECT (server-only ones, invalid topics...), maybe mutated.
      {
        weight: 2,
        arbitrary: fc.record({ valid: fc.constant(null), lengths: fc.array(lengthMutationArb, { maxLength: 1 }), mutations: fc.array(mutationArb, { maxLength: 2 }) }),
      },
      // A valid session, unmutated or mutated.
      {
        weight: 4,
        arbitrary: fc.record({ valid: fc.constant(undefined), lengths: fc.array(lengthMutationArb, { maxLength: 2 }), mutations: fc.array(mutationArb, { maxLength: 3 }) }),
      },
    ),
    fc.array(fractionArb, { maxLength: 6 }),
  )
  .chain(([version, shape, cuts]) => {
    const base: fc.Arbitrary<Buffer> =
      shape.valid instanceof Buffer
        ? fc.constant(shape.valid)
        : shape.valid === null
          ? anySessionArb(version, leaveNothing)
          : validSessionArb(version, leaveNothing).map((s) => Buffer.concat([s.connect, s.body]));
    return base.map((valid): Script => {
      let bytes = valid;
      for (const m of shape.lengths) bytes = mutateLength(bytes, m);
      return { version, bytes: mutate(bytes, shape.mutations), cuts };
    });
  });

// ---------- the node and the good pair ----------

describe('fuzz: generated and mutated packet streams over TCP', () => {
  let node: TestNode;
  let sub: MqttClient;
  let pub: MqttClient;
  const nonce = randomBytes(8).toString('hex');
  const goodTopic = `good/${nonce}`;
  const trouble: string[] = [];
  /** The good pair's messages: sent, and received in order (a gap or reorder is recorded). */
  let sent = 0;
  let received = 0;
  const disorder: string[] = [];
  let publishing: Promise<void> = Promise.resolve();
  let stopPublishing = false;
  /** The node's close record per fuzz connection, by its remote host:port. */
  const closes = new Map<string, CloseReason>();
  const closeWaiters = new Map<string, () => void>();
  const onDisconnected = (e: NodeEvents['client.disconnected'][0]): void => {
    closes.set(e.address, e.reason);
    closeWaiters.get(e.address)?.();
  };
  /** Close reasons seen, for the summary line. */
  const tally = new Map<string, number>();
  let bytesWritten = 0;
  let connections = 0;

  before(async () => {
    node = await startTestNode({
      maxPacketSize: MAX_PACKET_SIZE,
      maxWriteBufferBytes: MAX_PACKET_SIZE * 4,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      maxTopicLevels: MAX_TOPIC_LEVELS,
      maxTopicLength: MAX_TOPIC_LENGTH,
    });
    node.handle.events.on('client.disconnected', onDisconnected);
    sub = await connect(node.url, { protocolVersion: 5, clientId: `good-sub-${nonce}` });
    pub = await connect(node.url, { protocolVersion: 4, clientId: `good-pub-${nonce}` });
    for (const [name, c] of [['subscriber', sub], ['publisher', pub]] as const) {
      for (const ev of ['close', 'disconnect', 'offline', 'error'] as const) c.on(ev, () => trouble.push(`${name}: ${ev}`));
    }
    sub.on('message', (topic, payload) => {
      if (topic !== goodTopic) return;
      const n = Number(payload.toString());
      if (n !== received) disorder.push(`expected ${received}, got ${n}`);
      received = n + 1;
    });
    await sub.subscribeAsync(goodTopic, { qos: 1 });
    // QoS 1, one at a time, for as long as the fuzz runs.
    publishing = (async () => {
      while (!stopPublishing) {
        await pub.publishAsync(goodTopic, String(sent), { qos: 1 });
        sent++;
      }
    })();
  });

  after(async () => {
    stopPublishing = true;
    await publishing.catch(() => {});
    node.handle.events.off('client.disconnected', onDisconnected);
    sub.end(true);
    pub.end(true);
    await node.stop();
    removeDir(node.dataDir);
  });

  /** Runs one fuzz client to its close and checks how the node closed it. */
  async function runClient(script: Script): Promise<void> {
    const socket = net.connect({ host: '127.0.0.1', port: node.handle.mqtt.port, noDelay: true });
    socket.on('error', () => {}); // resets from the broker closing us are expected
    socket.on('data', () => {}); // read and discard: a client that does not read is another test
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await withTimeout(new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject)), 5000, 'TCP connect');
    const address = `127.0.0.1:${socket.localPort}`;
    const nodeClosed = new Promise<void>((resolve) => {
      if (closes.has(address)) resolve();
      else closeWaiters.set(address, resolve);
    });
    connections++;
    for (const chunk of split(script.bytes, script.cuts)) {
      if (socket.destroyed) break;
      socket.write(chunk);
      bytesWritten += chunk.length;
      // Lets the broker read this piece before the next: the split reaches it as separate reads.
      await new Promise((r) => setImmediate(r));
    }
    if (!socket.destroyed) socket.end(); // the rest of the session: whatever the node does at EOF
    const what = `node to close the fuzz connection ${address} (${script.bytes.length} bytes, v${script.version}: ${script.bytes.subarray(0, 64).toString('hex')}...)`;
    await withTimeout(Promise.all([socketClosed, nodeClosed]), CLOSE_WITHIN_MS, what);
    closeWaiters.delete(address);
    const reason = closes.get(address)!;
    closes.delete(address);
    assert.ok(reason.detail.length > 0, `a close detail for ${address}`);
    // A bug above the parser closes with 0x83 'internal error handling ...' (Connection.onPacket);
    // a client may send 0x83 in its own DISCONNECT, which is fine.
    assert.ok(!/internal error/.test(reason.detail), `${address}: ${reason.detail}`);
    // SHOAL_FUZZ_DETAIL=1 tallies the details too (numbers masked), to see what the fuzz reaches.
    const key = `${reason.kind} ${reasonName(reason.reasonCode)}${DETAIL ? ` ${reason.detail.replace(/\d+/g, 'N').slice(0, 70)}` : ''}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
  }

  /** Checks the log lines written so far, then drops them (they would count as heap growth). */
  function checkAndDropLogs(): void {
    const errors = node.logs.filter((l) => typeof l.level === 'number' ? l.level >= 50 : l.level === 'error' || l.level === 'fatal');
    assert.deepEqual(errors, [], 'no error lines');
    for (const l of node.logs) {
      if (l.event !== 'client.disconnected') continue;
      assert.ok(typeof l.reason === 'string' && typeof l.detail === 'string' && l.detail.length > 0, `a logged reason: ${JSON.stringify(l)}`);
      assert.equal(typeof l.address, 'string');
    }
    node.logs.length = 0;
  }

  /**
   * The rounds, generated up front from `seed`: what the generator allocates (mqtt-packet keeps a
   * cache of encoded lengths, up to 16384 entries) is then in the heap before the baseline is
   * taken, not counted as the node's growth. The price is no shrinking: a failure names its
   * round, its client's first bytes and the seed that regenerates it.
   */
  function rounds(numRuns: number, seed: number): Script[][] {
    return fc.sample(fc.array(scriptArb, { minLength: 1, maxLength: 6 }), { numRuns, seed });
  }

  async function fuzz(all: Script[][], seed: number): Promise<void> {
    for (const [i, scripts] of all.entries()) {
      try {
        await Promise.all(scripts.map((s) => runClient(s)));
        checkAndDropLogs();
        assert.deepEqual(trouble, [], 'the good pair was never disconnected');
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        throw new Error(`fuzz round ${i + 1} of ${all.length} failed (replay with SHOAL_SEED=${seed}): ${why}`, { cause: e });
      }
    }
  }

  it(`${RUNS} rounds of fuzz clients: each closed alone with a logged reason; the good pair loses nothing; heap returns to baseline`, async () => {
    const seed = SEED ?? (Date.now() ^ randomBytes(4).readInt32LE()) | 0;
    console.log(`fuzz seed ${seed} (replay with SHOAL_SEED=${seed})`);
    const warmup = rounds(WARMUP_RUNS, seed + 1);
    const main = rounds(RUNS, seed);
    const started = Date.now();
    await fuzz(warmup, seed);
    const statsBefore = node.handle.stats();
    const before = heapAfterGc();
    const connectionsBefore = connections;
    await fuzz(main, seed);
    const fuzzMs = Date.now() - started;

    // The good pair: everything sent arrives, in order, without a disconnect.
    stopPublishing = true;
    await publishing;
    const fence = sent;
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = (): void => (received >= fence ? resolve() : void setImmediate(check));
        check();
      }),
      10_000,
      `the good subscriber to receive all ${fence} messages (has ${received})`,
    );
    assert.deepEqual(disorder, [], 'no message lost or reordered');
    assert.equal(received, fence);
    assert.deepEqual(trouble, []);

    // The node answers a new client.
    const fresh = await RawClient.open(node.handle.mqtt.port, 5);
    await fresh.handshake(`fresh-${nonce}`);
    fresh.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `fresh/${nonce}`, qos: 0 }] });
    assert.equal((await fresh.next('SUBACK')).cmd, 'suback');
    await pub.publishAsync(`fresh/${nonce}`, 'hello', { qos: 1 });
    assert.equal((await fresh.next('PUBLISH')).cmd, 'publish');
    fresh.destroy();

    checkAndDropLogs();
    const statsAfter = node.handle.stats();
    const delta = heapAfterGc() - before;
    const reasons = [...tally.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`).join(', ');
    console.log(
      `fuzz: ${connections - connectionsBefore} connections after ${connectionsBefore} warm-up, ${(bytesWritten / MB).toFixed(2)} MB written in ${fuzzMs} ms; ` +
        `good pair ${fence} QoS 1 messages; heap after GC ${(delta / MB).toFixed(2)} MB from baseline; ` +
        `sessions ${statsBefore.clientsTotal} -> ${statsAfter.clientsTotal}, retained ${statsBefore.retained} -> ${statsAfter.retained}; closes: ${reasons}`,
    );
    const margin = heapMargin(connections - connectionsBefore);
    assert.ok(delta < margin, `heap after GC grew by ${(delta / MB).toFixed(2)} MB (margin ${(margin / MB).toFixed(2)} MB)`);
  });
});
