import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import type { NetworkInterfaceInfo } from 'node:os';
import { deriveAdvertise, isLoopbackHost } from '../../../src/config/cluster-options.js';
import { loadConfig, loadConfigWithSources } from '../../../src/config/load.js';
import { formatHelp } from '../../../src/config/help.js';
import { createLogger, flushLogger } from '../../../src/log.js';
import { GOOD_SECRET, configError } from './cases.js';

const LOOPBACK = ['--gossip', '127.0.0.1:7946', '--grpc', '127.0.0.1:7947'];

test('--seeds without a secret is refused when any cluster address is not loopback, naming each', () => {
  const err = configError(() => loadConfig({ argv: ['--seeds', '10.0.0.5:7946,127.0.0.1:7946'], env: {} }));
  assert.equal(err.code, 'CONFIG_CLUSTER_SECRET_REQUIRED');
  assert.equal(err.field, 'clusterSecret');
  assert.match(err.message, /^clusterSecret is required: --seeds \(from flag --seeds\) joins a cluster over non-loopback addresses/);
  assert.match(err.message, /gossip 0\.0\.0\.0 \(from default\)/);
  assert.match(err.message, /grpc 0\.0\.0\.0 \(from default\)/);
  assert.match(err.message, /seed 10\.0\.0\.5:7946/);
  assert.doesNotMatch(err.message, /seed 127\.0\.0\.1/);
  assert.match(err.message, /set --cluster-secret or SHOAL_CLUSTER_SECRET/);

  const advertised = configError(() => loadConfig({ argv: [...LOOPBACK, '--advertise', '10.0.0.9', '--seeds', '127.0.0.1:7946'], env: {} }));
  assert.equal(advertised.code, 'CONFIG_CLUSTER_SECRET_REQUIRED');
  assert.match(advertised.message, /\(advertise 10\.0\.0\.9 \(from flag --advertise\)\)/);
});

test('--seeds without a secret is allowed when every address is loopback; a secret allows any', () => {
  const c = loadConfig({ argv: [...LOOPBACK, '--seeds', '127.0.0.1:7946,localhost:7956,[::1]:7966'], env: {} });
  assert.deepEqual(c.seeds, ['127.0.0.1:7946', 'localhost:7956', '[::1]:7966']);
  assert.equal(c.advertise, '127.0.0.1');
  assert.equal(c.clusterSecret, null);
  const s = loadConfig({ argv: ['--seeds', '10.0.0.5:7946'], env: { SHOAL_CLUSTER_SECRET: GOOD_SECRET } });
  assert.ok(s.clusterSecret?.equals(loadConfig({ argv: ['--cluster-secret', GOOD_SECRET], env: {} }).clusterSecret));
  assert.equal(s.clusterSecret?.reveal(), GOOD_SECRET);
  // No seeds: the node runs alone, and needs no secret whatever it binds.
  assert.deepEqual(loadConfig({ argv: [], env: {} }).seeds, []);
});

test('loopback means 127/8, ::1 and localhost; other host names are not assumed to be', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST']) assert.ok(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'node-1', '128.0.0.1', '::ffff:127.0.0.1']) assert.ok(!isLoopbackHost(host), host);
});

test('the TLS files come as a trio: a partial set names what is missing and where the rest came from', () => {
  const file = new URL('../../../package.json', import.meta.url).pathname;
  const err = configError(() => loadConfig({ argv: ['--cluster-tls-cert', file], env: {} }));
  assert.equal(err.field, 'clusterTlsKey');
  assert.match(err.message, /^clusterTlsKey and clusterTlsCa missing: --cluster-tls-cert \(from flag --cluster-tls-cert\) needs --cluster-tls-key and --cluster-tls-ca too/);
  const two = configError(() => loadConfig({ argv: ['--cluster-tls-cert', file], env: { SHOAL_CLUSTER_TLS_CA: file } }));
  assert.match(two.message, /^clusterTlsKey missing: --cluster-tls-cert \(from flag --cluster-tls-cert\) and --cluster-tls-ca \(from env SHOAL_CLUSTER_TLS_CA\)/);
  const all = loadConfig({ argv: ['--cluster-tls-cert', file, '--cluster-tls-key', file, '--cluster-tls-ca', file], env: {} });
  assert.equal(all.clusterTlsCa, file);
  const missing = configError(() => loadConfig({ argv: ['--cluster-tls-ca', '/no/such/ca.pem'], env: {} }));
  assert.match(missing.message, /invalid clusterTlsCa from flag --cluster-tls-ca: "\/no\/such\/ca\.pem" \(ENOENT\)/);
});

test('--advertise defaults to the --gossip host, or a real address of this machine for a wildcard, and says which', () => {
  const fake = (entries: Record<string, Partial<NetworkInterfaceInfo>[]>): NodeJS.Dict<NetworkInterfaceInfo[]> => entries as NodeJS.Dict<NetworkInterfaceInfo[]>;
  const lo = { address: '127.0.0.1', family: 'IPv4' as const, internal: true };
  assert.deepEqual(deriveAdvertise('10.1.1.1', fake({ lo: [lo] })), { host: '10.1.1.1', why: 'the --gossip host' });
  const eth = deriveAdvertise('0.0.0.0', fake({ lo: [lo], eth0: [{ address: 'fe80::1', family: 'IPv6', internal: false }, { address: '10.2.3.4', family: 'IPv4', internal: false }] }));
  assert.deepEqual(eth, { host: '10.2.3.4', why: '--gossip binds 0.0.0.0: first non-loopback IPv4 address (interface eth0)' });
  const v6 = deriveAdvertise('::', fake({ lo: [lo], eth0: [{ address: 'fe80::1', family: 'IPv6', internal: false }, { address: 'fd00::7', family: 'IPv6', internal: false }] }));
  assert.equal(v6.host, 'fd00::7');
  assert.match(deriveAdvertise('0.0.0.0', fake({ lo: [lo] })).why, /no other address: loopback/);
  assert.equal(deriveAdvertise('0.0.0.0', fake({ lo: [lo] })).host, '127.0.0.1');

  const fromGossip = loadConfigWithSources({ argv: ['--gossip', '127.0.0.2:7000'], env: {} });
  assert.equal(fromGossip.config.advertise, '127.0.0.2');
  assert.equal(fromGossip.sources.advertise, 'default: the --gossip host');
  const set = loadConfigWithSources({ argv: ['--gossip', '127.0.0.2:7000', '--advertise', 'node-1.example'], env: {} });
  assert.equal(set.config.advertise, 'node-1.example');
  assert.equal(set.sources.advertise, 'flag --advertise');
  assert.equal(loadConfig({ argv: ['--advertise', '[fd00::1]'], env: {} }).advertise, 'fd00::1');
});

test('the cluster secret never shows: not in JSON, log lines, inspect, help or a rejection', async () => {
  const { config, sources } = loadConfigWithSources({ argv: ['--cluster-secret', GOOD_SECRET], env: {} });
  assert.equal(config.clusterSecret?.reveal(), GOOD_SECRET);
  assert.ok(!JSON.stringify(config).includes(GOOD_SECRET));
  assert.match(JSON.stringify(config), /"clusterSecret":"\[redacted\]"/);
  assert.ok(!inspect(config, { depth: 5 }).includes(GOOD_SECRET));
  assert.ok(!String(config.clusterSecret).includes(GOOD_SECRET));
  let logged = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logged += chunk.toString();
      cb();
    },
  });
  const logger = createLogger('info', { destination: sink });
  logger.info({ event: 'config.effective', config, sources }, 'effective configuration');
  await flushLogger(logger);
  assert.match(logged, /"clusterSecret":"\[redacted\]"/);
  assert.ok(!logged.includes(GOOD_SECRET));
  assert.ok(!formatHelp('1').includes(GOOD_SECRET));
  const almost = 'fifteen-chars-x';
  const err = configError(() => loadConfig({ argv: [], env: { SHOAL_CLUSTER_SECRET: almost } }));
  assert.match(err.message, /invalid clusterSecret from env SHOAL_CLUSTER_SECRET: \[redacted\] \(15 characters\); allowed: 16\.\.1024 characters/);
  assert.ok(!err.message.includes(almost));
  assert.ok(!JSON.stringify({ ...err, message: err.message }).includes(almost));
});
