import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load.js';
import { GOOD_HTTP_TOKEN, configError } from './cases.js';

test('--http defaults to 127.0.0.1:18083 with no token; off disables it', () => {
  const c = loadConfig({ argv: [], env: {} });
  assert.deepEqual(c.http, { host: '127.0.0.1', port: 18083 });
  assert.equal(c.httpToken, null);
  assert.equal(loadConfig({ argv: ['--http', 'off'], env: {} }).http, null);
  assert.equal(loadConfig({ argv: [], env: { SHOAL_HTTP: 'off' } }).http, null);
});

test('--http on a non-loopback address without a token is refused, naming the flag and the fix', () => {
  for (const address of ['0.0.0.0:18083', '10.0.0.5:80', ':18083', 'broker.example:8080']) {
    const err = configError(() => loadConfig({ argv: ['--http', address], env: {} }));
    assert.equal(err.code, 'CONFIG_HTTP_TOKEN_REQUIRED');
    assert.equal(err.field, 'httpToken');
    assert.match(err.message, /^httpToken is required: --http .* \(from flag --http\) is not a loopback address; set --http-token or SHOAL_HTTP_TOKEN/);
  }
  for (const address of ['127.0.0.1:0', '[::1]:18083', 'localhost:9000', '127.0.0.2:80']) {
    assert.ok(loadConfig({ argv: ['--http', address], env: {} }).http !== null, address);
  }
  const tokened = loadConfig({ argv: ['--http', '0.0.0.0:18083'], env: { SHOAL_HTTP_TOKEN: GOOD_HTTP_TOKEN } });
  assert.equal(tokened.httpToken?.reveal(), GOOD_HTTP_TOKEN);
});

test('the HTTP token is never shown: redacted in JSON and in its own rejection', () => {
  const c = loadConfig({ argv: ['--http-token', GOOD_HTTP_TOKEN], env: {} });
  assert.doesNotMatch(JSON.stringify(c), new RegExp(GOOD_HTTP_TOKEN));
  assert.match(JSON.stringify(c), /"httpToken":"\[redacted\]"/);
  const err = configError(() => loadConfig({ argv: ['--http-token', 'short-secret'], env: {} }));
  assert.match(err.message, /invalid httpToken from flag --http-token: \[redacted\] \(12 characters\)/);
});
