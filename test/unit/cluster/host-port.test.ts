import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinHostPort, splitHostPort } from '../../../src/cluster/gossip-socket.js';

test('gossip addresses: brackets around IPv6 hosts, and swim\'s unbracketed rinfo form is read too', () => {
  assert.equal(joinHostPort('10.0.0.1', 7946), '10.0.0.1:7946');
  assert.equal(joinHostPort('::1', 7946), '[::1]:7946');
  assert.equal(joinHostPort('node-1.example', 1), 'node-1.example:1');
  assert.deepEqual(splitHostPort('10.0.0.1:7946'), { host: '10.0.0.1', port: 7946 });
  assert.deepEqual(splitHostPort('[fd00::3]:7946'), { host: 'fd00::3', port: 7946 });
  assert.deepEqual(splitHostPort('::1:7946'), { host: '::1', port: 7946 });
  assert.deepEqual(splitHostPort('node-1.example:7'), { host: 'node-1.example', port: 7 });
});
