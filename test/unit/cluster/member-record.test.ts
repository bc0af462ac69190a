import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GOSSIP_DATAGRAM_BYTES, MAX_MEMBER_RECORD_BYTES, fromMeta, memberRecordBytes, toMeta } from '../../../src/cluster/member-record.js';
import { SEAL_OVERHEAD_BYTES } from '../../../src/cluster/gossip-seal.js';
import { CLUSTER_PROTOCOL_VERSION, type MemberInfo } from '../../../src/cluster/types.js';

const info: MemberInfo = { name: 'shoal@broker-1.example', incarnation: 1_765_147_310_123, grpcAddress: '10.20.30.40:7947', protocolVersion: CLUSTER_PROTOCOL_VERSION, mqttAddress: '10.20.30.40:1883' };

test('MemberInfo survives the trip through swim meta (JSON)', () => {
  const meta = JSON.parse(JSON.stringify(toMeta(info))) as unknown;
  assert.deepEqual(fromMeta(meta), info);
  assert.deepEqual(Object.keys(toMeta(info)), ['n', 'i', 'g', 'v', 'm']);
});

test('a record without an MQTT address (an older node) still reads, and ours reads there', () => {
  const { mqttAddress: _, ...older } = info;
  const meta = JSON.parse(JSON.stringify(toMeta(older))) as unknown;
  assert.deepEqual(Object.keys(meta as object), ['n', 'i', 'g', 'v']);
  assert.deepEqual(fromMeta(meta), older);
  assert.equal('mqttAddress' in (fromMeta(meta) as MemberInfo), false);
  // An older reader destructures n, i, g, v only: the extra key changes nothing for it.
  const { n, i, g, v } = toMeta(info);
  assert.deepEqual({ n, i, g, v }, toMeta(older));
});

test('unusable meta is named, not guessed at', () => {
  const good = toMeta(info);
  const cases: [unknown, RegExp][] = [
    [undefined, /no member metadata/],
    [null, /no member metadata/],
    [{ ...good, n: '' }, /node name/],
    [{ ...good, i: -1 }, /incarnation/],
    [{ ...good, i: 1.5 }, /incarnation/],
    [{ ...good, g: 7947 }, /gRPC address/],
    [{ ...good, v: '1' }, /protocol version/],
    [{ ...good, m: 1883 }, /MQTT address/],
    [{ ...good, m: '' }, /MQTT address/],
  ];
  for (const [meta, why] of cases) {
    const result = fromMeta(meta);
    assert.equal(typeof result, 'string', JSON.stringify(meta));
    assert.match(result as string, why);
  }
});

test('a typical record is well under the budget, which leaves room in a sealed 512-byte datagram', () => {
  const typical = memberRecordBytes('10.20.30.40:7946', toMeta(info), info.incarnation);
  // Measured: 176 bytes (with its length prefix) for a 22-character name and IPv4 addresses
  // (153 before the MQTT address was added).
  assert.equal(typical, 176);
  assert.ok(typical <= 180, `typical record ${typical} bytes`);
  assert.ok(typical <= MAX_MEMBER_RECORD_BYTES);
  // A ping in swim's compound framing: 3-byte header, then a 2-byte length, a type byte and
  // {"seq":n} (up to 9 digits). Two records of the largest size fit next to it in what swim may
  // fill once the envelope is taken off.
  const ping = 3 + 2 + 1 + Buffer.byteLength(JSON.stringify({ seq: 999_999_999 }));
  assert.ok(ping + 2 * MAX_MEMBER_RECORD_BYTES <= GOSSIP_DATAGRAM_BYTES - SEAL_OVERHEAD_BYTES);
});

test('a long node name or host name goes over the budget (start refuses it)', () => {
  const long = { ...info, name: 'n'.repeat(120) };
  assert.ok(memberRecordBytes('10.20.30.40:7946', toMeta(long), info.incarnation) > MAX_MEMBER_RECORD_BYTES);
  const host = `${'h'.repeat(60)}.example.com`;
  assert.ok(memberRecordBytes(`${host}:7946`, toMeta({ ...info, grpcAddress: `${host}:7947` }), info.incarnation) > MAX_MEMBER_RECORD_BYTES);
});
