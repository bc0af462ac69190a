// FastPath: which connection the QoS 0 fast path may write to. The switch is a flag on the
// connection, read through the node's map of online connections.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FastPath, type FastPathConnection } from '../../../src/broker/fast-path.js';
import { TicketBook } from '../../../src/broker/tickets.js';

/** Only what FastPath reads of a connection. */
function fakeConnection(clientId: string): FastPathConnection {
  return { clientId, state: 'open', direct: false } as unknown as FastPathConnection;
}

function setup(): { fp: FastPath; online: Map<string, FastPathConnection>; tickets: TicketBook; sent: number[] } {
  const online = new Map<string, FastPathConnection>();
  const tickets = new TicketBook();
  const sent: number[] = [];
  const fp = new FastPath(online, tickets, () => 0, (_shard, id) => sent.push(id), () => {});
  return { fp, online, tickets, sent };
}

/** Lets the promise callbacks of answered tickets run. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('FastPath', () => {
  it('a fresh connection goes direct on its CONNECT\'s flow; the one taking over waits for its own', () => {
    const { fp, online } = setup();
    const a = fakeConnection('c');
    fp.connecting(a, 'c');
    online.set('c', a);
    fp.flow(a, 'c', true);
    assert.equal(fp.connection('c'), a);
    const b = fakeConnection('c');
    fp.connecting(b, 'c');
    (a as { state: string }).state = 'closed'; // the session closes a for b (takeover)
    fp.remove(a);
    online.set('c', b);
    assert.equal(fp.connection('c'), undefined, 'b before its flow');
    fp.flow(b, 'c', true);
    assert.equal(fp.connection('c'), b);
  });

  it('a connection that is no longer the online one is never written to directly', () => {
    const { fp, online } = setup();
    const a = fakeConnection('c');
    fp.connecting(a, 'c');
    online.set('c', a);
    fp.flow(a, 'c', true);
    online.set('c', fakeConnection('c'));
    assert.equal(fp.connection('c'), undefined);
  });

  it('after a delivery through the actor the switch waits for a ticket; flow(false) ends it', async () => {
    const { fp, online, tickets, sent } = setup();
    const a = fakeConnection('c');
    fp.connecting(a, 'c');
    online.set('c', a);
    fp.sentToActor('c');
    fp.flow(a, 'c', true);
    assert.equal(fp.connection('c'), undefined);
    fp.flush();
    assert.equal(sent.length, 1);
    tickets.done(sent[0]!);
    await settled();
    assert.equal(fp.connection('c'), a);
    fp.flow(a, 'c', false);
    assert.equal(fp.connection('c'), undefined);
    assert.equal(a.direct, false);
  });

  it('a delivery after the ticket was issued makes that ticket stale', async () => {
    const { fp, online, tickets, sent } = setup();
    const a = fakeConnection('c');
    online.set('c', a);
    fp.flow(a, 'c', true); // not fresh: no CONNECT was seen for it
    fp.flush();
    fp.sentToActor('c');
    tickets.done(sent[0]!);
    await settled();
    assert.equal(fp.connection('c'), undefined, 'stale ticket');
    fp.flush();
    assert.equal(sent.length, 2);
    tickets.done(sent[1]!);
    await settled();
    assert.equal(fp.connection('c'), a);
  });
});
