import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WireDecodeError, decodePeerMessage, toInt } from '../../../src/cluster/wire-codec.js';
import type { PeerMessage__Output } from '../../../src/cluster/gen/cluster/v1/PeerMessage.js';

describe('cluster wire codec', () => {
  it('refuses what the schema cannot: QoS out of range, unsafe integers, an empty envelope', () => {
    const forward = (qos: number): PeerMessage__Output => ({
      body: 'forward',
      forward: {
        messages: [
          { topic: 't', payload: Buffer.from('x'), qos, retain: false, publisher_id: 'p', properties: null, deliver_direct: true, shared_groups: [], ack_id: '0' },
        ],
      },
    });
    assert.equal((decodePeerMessage(forward(2)) as { kind: string }).kind, 'forward');
    assert.throws(() => decodePeerMessage(forward(3)), WireDecodeError);
    assert.throws(() => toInt('9007199254740993', 'seq'), /not a safe integer/);
    assert.equal(toInt('1765000000000', 'incarnation'), 1765000000000);
    assert.throws(() => decodePeerMessage({}), /no message in the envelope/);
  });
});
