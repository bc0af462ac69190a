// InboundAcks: acks go out in PUBLISH order per connection once their shards committed; an ack
// that completes after its connection closed is not sent but reported as dropped, so the node
// can forget what it kept for it (the routing mark of a QoS 2 PUBLISH).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InboundAcks, type InboundAck } from '../../../src/broker/inbound-acks.js';
import { TicketBook } from '../../../src/broker/tickets.js';
import type { Connection } from '../../../src/transport/connection.js';

describe('InboundAcks', () => {
  it('sends in order while the connection is open; after forget() completed acks are dropped, not sent', async () => {
    const tickets = new TicketBook();
    const sentTickets: number[] = [];
    const sent: string[] = [];
    const dropped: string[] = [];
    const name = (a: InboundAck): string => `${a.conn.id}:${a.kind}:${a.packetId}`;
    const acks = new InboundAcks(tickets, (_shard, id) => sentTickets.push(id), (a) => sent.push(name(a)), (a) => dropped.push(name(a)));
    const open = { id: 1 } as Connection;
    const closing = { id: 2 } as Connection;
    acks.track(acks.open(open, 'puback', 10), 1, [0], null);
    acks.track(acks.open(closing, 'pubrec', 20), 1, [0], null);
    acks.track(acks.open(closing, 'pubrec', 21), 0, [], null); // nothing to wait for, but behind 20
    acks.flush();
    acks.forget(closing.id);
    for (const id of sentTickets) tickets.done(id);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sent, ['1:puback:10']);
    assert.deepEqual(dropped, ['2:pubrec:21', '2:pubrec:20'], 'the one done at the close at once, the other once done');
  });
});
