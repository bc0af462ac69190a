import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authProof, checkCaller } from '../../../src/cluster/grpc-auth.js';

describe('cluster call authentication', () => {
  it('accepts the proof of the same secret, name and incarnation only', () => {
    const proof = authProof('s3cret', 'n1', 42);
    assert.deepEqual(checkCaller('s3cret', 'n1', '42', proof), { ok: true, caller: { node: 'n1', incarnation: 42 } });
    assert.equal(checkCaller('other', 'n1', '42', proof).ok, false);
    assert.equal(checkCaller('s3cret', 'n2', '42', proof).ok, false); // cannot speak for another node
    assert.equal(checkCaller('s3cret', 'n1', '43', proof).ok, false);
    assert.equal(checkCaller('s3cret', 'n1', '42', undefined).ok, false);
    assert.equal(checkCaller('s3cret', 'n1', '42', 'zz').ok, false);
    assert.ok(!proof.includes('s3cret'));
  });

  it('requires name and incarnation, and needs no proof when the cluster has no secret', () => {
    assert.deepEqual(checkCaller(undefined, 'n1', '7', undefined), { ok: true, caller: { node: 'n1', incarnation: 7 } });
    const missing = checkCaller(undefined, undefined, '7', undefined);
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.reason, /not a Shoal node/);
    assert.equal(checkCaller(undefined, 'n1', '-1', undefined).ok, false);
    assert.equal(checkCaller(undefined, 'n1', 'x', undefined).ok, false);
  });
});
