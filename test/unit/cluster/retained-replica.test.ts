// Retained replication: last writer wins by (timestamp, node) whatever order writes arrive in,
// clears are writes too, a local write always beats what this node holds, and a snapshot carries
// messages and clears.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RetainedReplica, TOMBSTONE_TTL_MS } from '../../../src/cluster/retained-replica.js';
import type { RetainedUpdate } from '../../../src/cluster/peer-messages.js';
import { RetainedMessages } from '../../../src/broker/retained.js';
import { MemoryRetainedStore } from '../../../src/storage/memory-retained-store.js';

function update(topic: string, text: string | null, ts: number, node: string): RetainedUpdate {
  return { topic, message: text === null ? null : { payload: Buffer.from(text), qos: 1, publisherId: 'p' }, timestampMs: ts, node };
}

function held(r: RetainedMessages, topic: string): string | null {
  const out: { payload: Uint8Array }[] = [];
  r.match(topic, 0, out as never);
  return out.length === 0 ? null : Buffer.from(out[0]!.payload).toString();
}

function replica(self: string, now = 1000): { rep: RetainedReplica; store: RetainedMessages } {
  const store = new RetainedMessages(new MemoryRetainedStore());
  return { rep: new RetainedReplica(self, store, () => now), store };
}

describe('RetainedReplica', () => {
  it('converges on the same message whatever order the writes arrive in', () => {
    const writes = [update('t', 'old', 5, 'b'), update('t', 'tie-c', 7, 'c'), update('t', 'tie-b', 7, 'b'), update('t', null, 6, 'd')];
    for (const order of [writes, [...writes].reverse(), [writes[2]!, writes[0]!, writes[3]!, writes[1]!]]) {
      const { rep, store } = replica('a');
      for (const w of order) rep.apply(w);
      assert.equal(held(store, 't'), 'tie-c'); // (7, 'c') is the greatest stamp
    }
  });

  it('keeps a clear against an older write that arrives late', () => {
    const { rep, store } = replica('a');
    assert.equal(rep.apply(update('t', 'v', 5, 'b')), true);
    assert.equal(rep.apply(update('t', null, 9, 'c')), true);
    assert.equal(held(store, 't'), null);
    assert.equal(rep.apply(update('t', 'late', 6, 'b')), false);
    assert.equal(held(store, 't'), null);
    assert.deepEqual([...rep.snapshot()].map((u) => [u.topic, u.message, u.timestampMs, u.node]), [['t', null, 9, 'c']]);
  });

  it('stamps a local write after anything held, even with this node\'s clock behind', () => {
    const { rep } = replica('a', 100);
    rep.apply(update('t', 'remote', 500, 'b'));
    const mine = rep.localWrite({ topic: 't', payload: Buffer.from('mine'), qos: 0, retain: true, publisherId: 'x' });
    assert.equal(mine.timestampMs, 501);
    assert.equal(mine.node, 'a');
    const clear = rep.localWrite({ topic: 'u', payload: new Uint8Array(0), qos: 0, retain: true, publisherId: 'x' });
    assert.equal(clear.message, null);
  });

  it('forgets the stamps of old clears, not of held messages', () => {
    const clock = { now: 1000 };
    const store = new RetainedMessages(new MemoryRetainedStore());
    const rep = new RetainedReplica('a', store, () => clock.now);
    rep.apply(update('gone', null, 900, 'b'));
    rep.apply(update('kept', 'v', 900, 'b'));
    rep.prune();
    assert.equal([...rep.snapshot()].length, 2);
    clock.now = 900 + TOMBSTONE_TTL_MS + 1;
    rep.prune();
    assert.deepEqual([...rep.snapshot()].map((u) => [u.topic, u.timestampMs]), [['kept', 900]]);
  });

  it('counts stored messages without a stamp as (0, this node), so any peer write wins', () => {
    const { rep, store } = replica('a');
    void store.set({ topic: 't', payload: Buffer.from('restored'), qos: 0, retain: true, publisherId: 'x' });
    assert.deepEqual([...rep.snapshot()].map((u) => [u.topic, u.timestampMs, u.node]), [['t', 0, 'a']]);
    assert.equal(rep.apply(update('t', 'peer', 1, 'b')), true);
    assert.equal(held(store, 't'), 'peer');
  });
});
