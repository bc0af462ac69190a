import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GossipSeal, SEAL_OVERHEAD_BYTES } from '../../../src/cluster/gossip-seal.js';

const SECRET = 'correct horse battery staple 42';
const payload = Buffer.from('{"meta":{"n":"shoal@a","i":1765000000000,"g":"10.0.0.1:7947","v":1},"host":"10.0.0.1:7946"}');

test('a sealed datagram opens with the same secret, and only the envelope is added', () => {
  const seal = new GossipSeal(SECRET);
  const sealed = seal.seal(payload);
  assert.equal(sealed.length, payload.length + SEAL_OVERHEAD_BYTES);
  assert.equal(SEAL_OVERHEAD_BYTES, 30);
  const opened = new GossipSeal(SECRET).open(sealed);
  assert.ok(opened.ok);
  assert.deepEqual(opened.payload, payload);
});

test('without the secret the membership cannot be read: no plaintext in the datagram, fresh nonce each time', () => {
  const seal = new GossipSeal(SECRET);
  const a = seal.seal(payload);
  const b = seal.seal(payload);
  assert.equal(a.includes(Buffer.from('shoal@a')), false);
  assert.equal(a.includes(Buffer.from('10.0.0.1')), false);
  assert.notDeepEqual(a, b);
});

test('a wrong secret, or any flipped bit, fails authentication', () => {
  const sealed = new GossipSeal(SECRET).seal(payload);
  assert.deepEqual(new GossipSeal('another secret of some length').open(sealed), { ok: false, reason: 'authentication-failed' });
  const seal = new GossipSeal(SECRET);
  for (const index of [1, 2, 20, sealed.length - 1]) {
    const tampered = Buffer.from(sealed);
    tampered[index]! ^= 0x01;
    const opened = seal.open(tampered);
    assert.equal(opened.ok, false, `bit flipped at byte ${index}`);
  }
  assert.deepEqual(seal.open(sealed.subarray(0, SEAL_OVERHEAD_BYTES - 1)), { ok: false, reason: 'authentication-failed' });
});

test('plain and sealed nodes refuse each other, naming which side lacks the secret', () => {
  const plain = new GossipSeal(undefined);
  const sealed = new GossipSeal(SECRET);
  assert.equal(plain.authenticated, false);
  assert.equal(sealed.authenticated, true);
  const opened = plain.open(plain.seal(payload));
  assert.ok(opened.ok);
  assert.deepEqual(opened.payload, payload);
  assert.deepEqual(sealed.open(plain.seal(payload)), { ok: false, reason: 'plain-but-secret-required' });
  assert.deepEqual(plain.open(sealed.seal(payload)), { ok: false, reason: 'sealed-but-no-secret' });
});

test('raw swim datagrams and other traffic are not Shoal gossip', () => {
  const seal = new GossipSeal(SECRET);
  // swim's own framing starts with its message type: 0 (compound) or 10..14.
  for (const raw of [Buffer.from([0, 1, 0]), Buffer.from([10, 123]), Buffer.alloc(0), Buffer.from([0x53]), Buffer.from([0x53, 9, 1, 2])]) {
    assert.deepEqual(seal.open(raw), { ok: false, reason: 'not-shoal-gossip' });
  }
});
