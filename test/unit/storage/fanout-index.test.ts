import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRuns } from '../../../src/storage/fanout-index.js';
import type { StoredMessageState } from '../../../src/storage/types.js';

const c = (seq: number, state: StoredMessageState, packetId: number | null) => ({ seq, state, packetId });

test('encodeRuns: a sliding window is one run; gaps, other states, other ids and the 65535 wrap start new ones', () => {
  // A window of 32 sent in order, handed over in any order.
  const window = Array.from({ length: 32 }, (_, i) => c(101 + i, 'inflight', 7 + i)).reverse();
  assert.deepEqual(encodeRuns(window), [[101, 32, 'inflight', 7]]);
  assert.deepEqual(
    encodeRuns([
      c(1, 'inflight', 65534),
      c(2, 'inflight', 65535),
      c(3, 'inflight', 1), // packet ids wrapped
      c(4, 'released', 2), // another state
      c(5, 'released', 9), // not the next id
      c(7, 'released', 10), // a gap in seqs
      c(8, 'queued', null),
      c(9, 'queued', null),
      c(10, 'queued', 5),
    ]),
    [
      [1, 2, 'inflight', 65534],
      [3, 1, 'inflight', 1],
      [4, 1, 'released', 2],
      [5, 1, 'released', 9],
      [7, 1, 'released', 10],
      [8, 2, 'queued', null],
      [10, 1, 'queued', 5],
    ],
  );
  assert.deepEqual(encodeRuns([]), []);
});
