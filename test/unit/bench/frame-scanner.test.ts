import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt-packet';
import { FrameDecodeError, FrameScanner, PacketType, publishLayout } from '../../../bench/loadgen/frame-scanner.js';

const payload64 = Buffer.alloc(64, 7);
const bigPayload = Buffer.alloc(300, 9); // remaining length needs two bytes
const packets: Buffer[] = [
  mqtt.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }),
  mqtt.generate({ cmd: 'publish', topic: 'a/b', payload: payload64, qos: 0, retain: false, dup: false }),
  mqtt.generate({ cmd: 'publish', topic: 'bench/x', payload: bigPayload, qos: 1, messageId: 513, retain: false, dup: false }),
  mqtt.generate({ cmd: 'pingresp' }), // zero-length body
  mqtt.generate({ cmd: 'puback', messageId: 42 }),
  mqtt.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 2, messageId: 65535, retain: true, dup: false }),
  mqtt.generate({ cmd: 'suback', messageId: 7, granted: [0, 1, 128] }),
];
const stream = Buffer.concat(packets);

interface Seen { type: number; flags: number; body: string }

function scan(chunks: Buffer[], mask: number): { scanner: FrameScanner; seen: Seen[] } {
  const seen: Seen[] = [];
  // Copy the body: it is only valid during the callback.
  const scanner = new FrameScanner(mask, (type, flags, body) => seen.push({ type, flags, body: body.toString('hex') }));
  for (const c of chunks) scanner.push(c);
  return { scanner, seen };
}

function expectedCounts(): number[] {
  const c = new Array<number>(16).fill(0);
  for (const p of packets) c[p[0]! >> 4]!++;
  return c;
}

/** Deterministic xorshift so a failure replays exactly. */
function splits(seed: number, len: number): number[] {
  let x = seed;
  const cuts: number[] = [];
  for (let i = 1; i < len; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    if ((x >>> 0) % 5 === 0) cuts.push(i);
  }
  return cuts;
}

function cut(buf: Buffer, at: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const a of at) { out.push(buf.subarray(prev, a)); prev = a; }
  out.push(buf.subarray(prev));
  return out;
}

const all = FrameScanner.mask(PacketType.PUBLISH, PacketType.PUBACK, PacketType.SUBACK, PacketType.CONNACK, PacketType.PINGRESP);
const reference = scan([stream], all);

describe('FrameScanner', () => {
  it('counts each packet type of one whole chunk and hands out exact bodies', () => {
    assert.deepEqual(Array.from(reference.scanner.counts), expectedCounts());
    assert.equal(reference.seen.length, packets.length);
    const big = reference.seen[2]!;
    assert.equal(big.type, PacketType.PUBLISH);
    assert.equal(big.flags, 0x02);
    assert.equal(Buffer.from(big.body, 'hex').length, 2 + 7 + 2 + 300);
  });

  it('gives the same frames for every two-chunk split point', () => {
    for (let at = 1; at < stream.length; at++) {
      const r = scan(cut(stream, [at]), all);
      assert.deepEqual(r.seen, reference.seen, `split at ${at}`);
      assert.deepEqual(Array.from(r.scanner.counts), expectedCounts(), `split at ${at}`);
    }
  });

  it('gives the same frames fed one byte at a time and in random splits', () => {
    const bytes = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(scan(cut(stream, bytes), all).seen, reference.seen);
    for (let seed = 1; seed <= 50; seed++) {
      assert.deepEqual(scan(cut(stream, splits(seed, stream.length)), all).seen, reference.seen, `seed ${seed}`);
    }
  });

  it('counts without calling back for types outside the mask, even when split', () => {
    for (let at = 1; at < stream.length; at++) {
      const r = scan(cut(stream, [at]), FrameScanner.mask(PacketType.PUBACK));
      assert.deepEqual(r.seen.map((s) => s.type), [PacketType.PUBACK]);
      assert.equal(r.scanner.counts[PacketType.PUBLISH], 3);
    }
  });

  it('counts frames across many repeated packets split at odd sizes', () => {
    const pub = packets[1]!;
    const many = Buffer.concat(Array.from({ length: 1000 }, () => pub));
    const scanner = new FrameScanner(0);
    for (let i = 0; i < many.length; i += 97) scanner.push(many.subarray(i, i + 97));
    assert.equal(scanner.counts[PacketType.PUBLISH], 1000);
  });

  it('rejects a remaining length longer than four bytes', () => {
    const s = new FrameScanner(0);
    assert.throws(() => s.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), FrameDecodeError);
  });
});

describe('publishLayout', () => {
  it('finds packet id and payload in v3 QoS 0 and QoS 1 bodies', () => {
    const q0 = Buffer.from(reference.seen[1]!.body, 'hex');
    assert.deepEqual(publishLayout(0, q0, false), { packetId: 0, payloadOffset: 2 + 3 });
    assert.ok(q0.subarray(5).equals(payload64));
    const q1 = Buffer.from(reference.seen[2]!.body, 'hex');
    const l = publishLayout(0x02, q1, false);
    assert.equal(l.packetId, 513);
    assert.ok(q1.subarray(l.payloadOffset).equals(bigPayload));
  });

  it('skips v5 properties', () => {
    const p = mqtt.generate(
      { cmd: 'publish', topic: 'a', payload: payload64, qos: 1, messageId: 9, retain: false, dup: false, properties: { userProperties: { k: 'v' }, contentType: 'x' } },
      { protocolVersion: 5 },
    );
    const s = scan([p], FrameScanner.mask(PacketType.PUBLISH));
    const body = Buffer.from(s.seen[0]!.body, 'hex');
    const l = publishLayout(s.seen[0]!.flags, body, true);
    assert.equal(l.packetId, 9);
    assert.ok(body.subarray(l.payloadOffset).equals(payload64));
  });
});
