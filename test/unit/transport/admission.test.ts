// ConnectionAdmission: global and per-address connection caps and the per-address connection
// rate, decided at accept; per-address state is dropped once an address has nothing left in it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionAdmission, addressOf } from '../../../src/transport/admission.js';

describe('ConnectionAdmission', () => {
  it('caps connections in all; a release makes room', () => {
    const a = new ConnectionAdmission({ maxConnections: 2, maxConnectionsPerAddress: 0, connectionRatePerSec: 0 });
    assert.deepEqual([a.admit('1.1.1.1', 0), a.admit('2.2.2.2', 0), a.admit('3.3.3.3', 0)], [null, null, 'max-connections']);
    a.release('1.1.1.1', 0);
    assert.equal(a.admit('3.3.3.3', 0), null);
    assert.equal(a.connections, 2);
    assert.equal(a.trackedAddresses, 0, 'no per-address state without per-address limits');
  });

  it('caps connections per address, other addresses unaffected', () => {
    const a = new ConnectionAdmission({ maxConnections: 0, maxConnectionsPerAddress: 2, connectionRatePerSec: 0 });
    assert.deepEqual([a.admit('10.0.0.1', 0), a.admit('10.0.0.1', 0), a.admit('10.0.0.1', 0)], [null, null, 'max-connections-per-address']);
    assert.equal(a.admit('10.0.0.2', 0), null);
    a.release('10.0.0.1', 0);
    assert.equal(a.admit('10.0.0.1', 0), null);
    for (const addr of ['10.0.0.1', '10.0.0.1', '10.0.0.2']) a.release(addr, 0);
    assert.equal(a.trackedAddresses, 0, 'an address without connections is forgotten');
  });

  it('limits the connection rate per address; refusals take no token; state goes once refilled', () => {
    const a = new ConnectionAdmission({ maxConnections: 0, maxConnectionsPerAddress: 0, connectionRatePerSec: 2 });
    assert.deepEqual([a.admit('h', 0), a.admit('h', 0), a.admit('h', 0), a.admit('h', 100)], [null, null, 'connection-rate', 'connection-rate']);
    assert.equal(a.admit('other', 0), null);
    assert.equal(a.admit('h', 500), null, 'one token back after 500 ms');
    for (let i = 0; i < 3; i++) a.release('h', 600);
    a.release('other', 600);
    assert.equal(a.trackedAddresses, 1, "'h' is kept while its bucket refills; 'other' (full again at 500 ms) is not");
    a.sweep(1000);
    assert.equal(a.trackedAddresses, 1, "'h' is full again at 1500 ms");
    a.sweep(1500);
    assert.equal(a.trackedAddresses, 0);
  });

  it('addressOf strips the port from host:port and [v6]:port', () => {
    assert.equal(addressOf('127.0.0.1:51234'), '127.0.0.1');
    assert.equal(addressOf('[::1]:51234'), '::1');
    assert.equal(addressOf('[fd00::1:2]:1'), 'fd00::1:2');
  });
});
