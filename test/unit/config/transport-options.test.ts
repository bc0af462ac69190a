import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadConfig, loadConfigWithSources } from '../../../src/config/load.js';
import { parseConfig } from '../../../src/config/options.js';
import { tlsFilesOf } from '../../../src/config/transport-options.js';
import { configError } from './cases.js';

// Existing files stand in for PEM files: the config layer only checks that they exist.
const CERT = fileURLToPath(new URL('../../../package.json', import.meta.url));
const KEY = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));
const CA = fileURLToPath(new URL('../../../README.md', import.meta.url));
const FILES = ['--tls-cert', CERT, '--tls-key', KEY];

test('a listener flag alone binds all interfaces on its default port; a host alone takes that port', () => {
  const c = loadConfig({ argv: ['--tls', '--ws', '--wss', ...FILES], env: {} });
  assert.deepEqual([c.tls, c.ws, c.wss], [{ host: '0.0.0.0', port: 8883 }, { host: '0.0.0.0', port: 8083 }, { host: '0.0.0.0', port: 8084 }]);
  assert.deepEqual(loadConfig({ argv: ['--tls', 'localhost', ...FILES], env: {} }).tls, { host: 'localhost', port: 8883 });
  assert.deepEqual(loadConfig({ argv: ['--ws', '[::1]'], env: {} }).ws, { host: '::1', port: 8083 });
  assert.deepEqual(parseConfig({ tls: true, tlsCert: CERT, tlsKey: KEY }, 'x.json').tls, { host: '0.0.0.0', port: 8883 });
  // The last flag of a command line, alone, is a switch too.
  assert.equal(loadConfig({ argv: ['--tls', ...FILES, '--tls-ca', CA, '--tls-require-client-cert'], env: {} }).tlsRequireClientCert, true);
  assert.equal(loadConfig({ argv: ['--tls', ...FILES, '--tls-require-client-cert', 'off'], env: {} }).tlsRequireClientCert, false);
});

test('"off" from a higher layer turns a listener of the config file off', () => {
  const { config, sources } = loadConfigWithSources({ argv: ['--ws', 'off'], env: { SHOAL_WSS: ':9443', SHOAL_TLS_CERT: CERT, SHOAL_TLS_KEY: KEY } });
  assert.equal(config.ws, null);
  assert.equal(sources.ws, 'flag --ws');
  assert.deepEqual(config.wss, { host: '0.0.0.0', port: 9443 });
  assert.equal(parseConfig({ ws: null, wss: false }, 'x.json').ws, null);
});

test('a TLS listener needs the certificate and key, and names what is missing', () => {
  const err = configError(() => loadConfig({ argv: ['--tls', '--tls-cert', CERT], env: {} }));
  assert.equal(err.field, 'tlsKey');
  assert.match(err.message, /^--tls-key missing: --tls \(from flag --tls\) serves TLS and needs the server certificate and its private key/);
  const both = configError(() => loadConfig({ argv: [], env: { SHOAL_WSS: ':8084' } }));
  assert.match(both.message, /^--tls-cert and --tls-key missing: --wss \(from env SHOAL_WSS\)/);
});

test('TLS settings without a TLS listener, a required client certificate without a CA, and CN-as-username without one are refused', () => {
  const stray = configError(() => loadConfig({ argv: FILES, env: {} }));
  assert.equal(stray.field, 'tlsCert');
  assert.match(stray.message, /^--tls-cert \(from flag --tls-cert\) and --tls-key \(from flag --tls-key\) set, but no TLS listener is on: add --tls .* or --wss/);
  // --ws alone is not a TLS listener.
  assert.match(configError(() => loadConfig({ argv: ['--ws', ...FILES], env: {} })).message, /no TLS listener is on/);

  const noCa = configError(() => loadConfig({ argv: ['--tls', ...FILES, '--tls-require-client-cert'], env: {} }));
  assert.equal(noCa.field, 'tlsCa');
  assert.match(noCa.message, /^tlsCa missing: --tls-require-client-cert \(from flag --tls-require-client-cert\) needs --tls-ca/);

  const cn = configError(() => loadConfig({ argv: ['--tls', ...FILES, '--tls-cn-as-username'], env: {} }));
  assert.equal(cn.field, 'tlsRequireClientCert');
  assert.match(cn.message, /--tls-cn-as-username \(from flag --tls-cn-as-username\) needs --tls-require-client-cert/);
});

test('tlsFilesOf is null unless a TLS listener is on', () => {
  assert.equal(tlsFilesOf(loadConfig({ argv: ['--ws'], env: {} })), null);
  const files = tlsFilesOf(loadConfig({ argv: ['--wss', ...FILES, '--tls-ca', CA, '--tls-require-client-cert', '--tls-cn-as-username'], env: {} }));
  assert.deepEqual(files, { cert: CERT, key: KEY, ca: CA, requireClientCert: true, cnAsUsername: true });
});
