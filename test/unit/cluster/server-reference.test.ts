import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientOwner } from '../../../src/cluster/client-owner.js';
import { serverReferences } from '../../../src/cluster/server-reference.js';
import type { MemberInfo } from '../../../src/cluster/types.js';

const peer = (name: string, mqttAddress?: string): MemberInfo => ({
  name,
  incarnation: 1_765_000_000_000,
  grpcAddress: `${name}:7947`,
  protocolVersion: 1,
  ...(mqttAddress === undefined ? {} : { mqttAddress }),
});

test('a client is referred to its id owner among the live peers (where its session is pushed), spread over all of them', () => {
  const peers = [peer('b', 'b:1883'), peer('c', 'c:1883'), peer('d', 'd:1883')];
  const ref = serverReferences(peers);
  const counts = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const r = ref(`client-${i}`);
    assert.ok(r !== null);
    assert.equal(r, clientOwner(peers, `client-${i}`)!.mqttAddress);
    counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  assert.equal(counts.size, 3);
  for (const [address, n] of counts) assert.ok(n > 800 && n < 1200, `${address}: ${n} of 3000`);
});

test('peers without an MQTT address (older nodes) are never a reference; none left gives null', () => {
  const ref = serverReferences([peer('old'), peer('b', 'b:1883')]);
  for (let i = 0; i < 50; i++) assert.equal(ref(`c${i}`), 'b:1883');
  assert.equal(serverReferences([peer('old')])('x'), null);
  assert.equal(serverReferences([])('x'), null);
});
