// DeferredPuts' per-client lists: a copy cancelled out of order (acknowledged while an older one
// is not), copies written oldest first by age, and a subscriber far behind with hundreds held at
// once (the list's head moves and is compacted instead of shifting the array).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeferredPuts } from '../../../src/actors/deferred-puts.js';
import type { StoredMessage, StoreOp } from '../../../src/storage/types.js';

type Put = Extract<StoreOp, { op: 'putMessage' }>;

function put(clientId: string, seq: number): Put {
  const message: StoredMessage = {
    seq,
    state: 'queued',
    packetId: null,
    qos: 1,
    retain: false,
    subscriptionIds: [],
    message: { topic: `t/${seq}`, payload: new Uint8Array([1]), qos: 1, retain: false, publisherId: 'p' },
  };
  return { op: 'putMessage', clientId, message };
}

const seqsOf = (ops: StoreOp[]): number[] => ops.map((o) => (o.op === 'putMessage' ? o.message.seq : -1));

describe('DeferredPuts', () => {
  it('cancels a copy acknowledged out of order and writes the others in order', () => {
    const d = new DeferredPuts();
    for (let seq = 1; seq <= 4; seq++) d.defer(put('c', seq), 1, 0);
    assert.equal(d.absorb({ op: 'deleteMessage', clientId: 'c', seq: 3 }), true);
    assert.equal(d.holds('c', 3), false);
    assert.equal(d.holds('c', 2), true);
    assert.equal(d.absorb({ op: 'deleteMessage', clientId: 'c', seq: 1 }), true);
    assert.equal(d.absorb({ op: 'deleteMessage', clientId: 'c', seq: 3 }), false, 'already cancelled');
    const out: StoreOp[] = [];
    d.writeClient('c', out, []);
    assert.deepEqual(seqsOf(out), [2, 4]);
    assert.equal(d.size, 0);
  });

  it('holds hundreds of copies of one client, writes them by age and cancels any of them', () => {
    const d = new DeferredPuts();
    const n = 500;
    for (let seq = 1; seq <= n; seq++) d.defer(put('slow', seq), 1, seq);
    // Every tenth copy acknowledged, the oldest first, some out of order.
    for (let seq = 10; seq <= n; seq += 10) assert.equal(d.absorb({ op: 'deleteMessage', clientId: 'slow', seq }), true);
    assert.equal(d.absorb({ op: 'deleteMessage', clientId: 'slow', seq: 1 }), true);
    const older: StoreOp[] = [];
    d.writeOlder(300, older, []);
    const want = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i).filter((s) => s !== 1 && s % 10 !== 0);
    assert.deepEqual(seqsOf(older), want(1, 300));
    assert.equal(d.holds('slow', 299), false, 'written');
    assert.equal(d.holds('slow', 301), true);
    assert.equal(d.absorb({ op: 'deleteMessage', clientId: 'slow', seq: 305 }), true);
    const rest: StoreOp[] = [];
    d.writeClient('slow', rest, []);
    assert.deepEqual(seqsOf(rest), want(301, n).filter((s) => s !== 305));
    assert.equal(d.size, 0);
    assert.equal(d.oldest(), null);
  });
});
