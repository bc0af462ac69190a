import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { showValue } from '../../../src/config/errors.js';
import { formatHelp } from '../../../src/config/help.js';
import {
  resolveShardHost,
  CONFIG_FILE_ENV,
  CONFIG_FILE_FLAG,
  OPTIONS,
  defaultConfig,
  formatListen,
  parseConfig,
  parseListen,
  type ConfigKey,
} from '../../../src/config/options.js';
import { deriveAdvertise } from '../../../src/config/cluster-options.js';
import { BAD_JSON, GOOD, configError } from './cases.js';

test('defaults match the documented values', () => {
  const c = defaultConfig();
  assert.deepEqual(c, {
    listen: { host: '127.0.0.1', port: 1883 },
    dataDir: './data',
    shards: Math.min(64, availableParallelism()),
    shardHost: 'auto',
    nodeName: `shoal@${hostname()}`,
    maxKeepaliveSec: 0,
    maxPacketSize: 1024 * 1024,
    maxInflight: 256,
    maxQueuedMessages: 1000,
    maxQueuedBytes: 64 * 1024 * 1024,
    maxSubscriptions: 10_000,
    maxTopicAlias: 1024,
    connectTimeoutMs: 10_000,
    scramUsers: '',
    maxWriteBufferBytes: 4 * 1024 * 1024,
    maxPendingRequests: 128,
    maxConnections: 0,
    maxConnectionsPerAddress: 0,
    maxConnectionRate: 0,
    maxTopicLevels: 128,
    maxTopicLength: 65535,
    maxPublishRate: 0,
    sysIntervalSec: 10,
    storageSync: 'normal',
    logLevel: 'info',
    gossip: { host: '0.0.0.0', port: 7946 },
    seeds: [],
    advertise: deriveAdvertise('0.0.0.0').host,
    grpc: { host: '0.0.0.0', port: 7947 },
    clusterSecret: null,
    clusterTlsCert: null,
    clusterTlsKey: null,
    clusterTlsCa: null,
    tls: null,
    ws: null,
    wss: null,
    tlsCert: null,
    tlsKey: null,
    tlsCa: null,
    tlsRequireClientCert: false,
    tlsCnAsUsername: false,
    takeoverTimeoutMs: 5000,
    drainTimeoutMs: 30_000,
    advertiseMqtt: null,
    http: { host: '127.0.0.1', port: 18083 },
    httpToken: null,
    passwordFile: '',
    aclFile: '',
    allowAnonymous: 'auto',
    sessionOwnerCheck: 'on',
    authLockoutFailures: 5,
    authLockoutMaxSec: 60,
  });
  assert.deepEqual(parseConfig({}, 'empty.json'), c);
});

test('parseConfig returns a deeply frozen object', () => {
  const c = parseConfig({ shards: 2 }, 'x.json');
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.listen));
  assert.throws(() => {
    (c as { shards: number }).shards = 3;
  }, TypeError);
  assert.throws(() => {
    (c.listen as { port: number }).port = 1;
  }, TypeError);
});

test('parseConfig accepts a non-default value for every key', () => {
  const input: Record<string, unknown> = {};
  const expected: Record<string, unknown> = {};
  for (const key of Object.keys(GOOD) as ConfigKey[]) {
    input[key] = GOOD[key].json;
    expected[key] = GOOD[key].expected;
  }
  const c = parseConfig(input, 'all.json');
  assert.deepEqual(c, expected);
  for (const key of Object.keys(GOOD) as ConfigKey[]) {
    assert.notDeepEqual(c[key], defaultConfig()[key], `${key} test value equals its default`);
  }
});

test('range boundaries are inclusive', () => {
  const c = parseConfig(
    {
      shards: 64,
      maxKeepaliveSec: 65535,
      maxPacketSize: 268_435_455,
      maxWriteBufferBytes: 1024 ** 3,
      maxInflight: 65535,
      maxTopicAlias: 65535,
      connectTimeoutMs: 3_600_000,
      sysIntervalSec: 86_400,
      listen: ':65535',
    },
    'max.json',
  );
  assert.equal(c.shards, 64);
  assert.equal(c.maxPacketSize, 268_435_455);
  const low = parseConfig(
    { shards: 1, maxPacketSize: 64, maxWriteBufferBytes: 1024, maxInflight: 1, connectTimeoutMs: 1, listen: ':0' },
    'min.json',
  );
  assert.equal(low.maxPacketSize, 64);
  assert.deepEqual(low.listen, { host: '0.0.0.0', port: 0 });
});

test('listen accepts host:port, [ipv6]:port and :port', () => {
  assert.deepEqual(parseListen('127.0.0.1:1883'), { host: '127.0.0.1', port: 1883 });
  assert.deepEqual(parseListen('[::1]:1883'), { host: '::1', port: 1883 });
  assert.deepEqual(parseListen('[::]:8883'), { host: '::', port: 8883 });
  assert.deepEqual(parseListen(':1883'), { host: '0.0.0.0', port: 1883 });
  assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  assert.equal(formatListen({ host: '::1', port: 1883 }), '[::1]:1883');
  assert.equal(formatListen({ host: '10.0.0.1', port: 1 }), '10.0.0.1:1');
  assert.deepEqual(parseConfig({ listen: '[::1]:1' }, 'f').listen, { host: '::1', port: 1 });
});

test('every invalid JSON value is a ConfigError naming field, source, value and range', () => {
  for (const key of Object.keys(BAD_JSON) as ConfigKey[]) {
    for (const value of BAD_JSON[key]) {
      const err = configError(() => parseConfig({ [key]: value }, '/etc/shoal.json'));
      const spec = OPTIONS.find((o) => o.key === key)!;
      assert.equal(err.code, 'CONFIG_INVALID_VALUE', `${key}=${showValue(value)}`);
      assert.equal(err.field, key);
      assert.equal(err.source, '/etc/shoal.json');
      const shown = spec.kind.sensitive ? '[redacted]' : showValue(value);
      assert.deepEqual(err.value, spec.kind.sensitive ? '[redacted]' : value);
      assert.equal(err.allowed, spec.kind.allowed);
      assert.match(err.message, new RegExp(`\\b${key}\\b`));
      assert.ok(err.message.includes('/etc/shoal.json'), err.message);
      assert.ok(err.message.includes(shown), err.message);
      assert.ok(err.message.includes(spec.kind.allowed), err.message);
    }
  }
});

test('unknown keys and non-object input are rejected', () => {
  const err = configError(() => parseConfig({ shards: 2, maxInFlight: 3 }, 'typo.json'));
  assert.equal(err.code, 'CONFIG_UNKNOWN_KEY');
  assert.equal(err.field, 'maxInFlight');
  assert.equal(err.source, 'typo.json');
  assert.match(err.message, /maxInFlight.*typo\.json.*maxInflight/);
  for (const input of [null, [], 'shards=2', 3]) {
    const e = configError(() => parseConfig(input, 'bad.json'));
    assert.equal(e.code, 'CONFIG_FILE_INVALID');
    assert.equal(e.source, 'bad.json');
  }
});

test('write buffer below the packet size limit is rejected, naming both sources', () => {
  const err = configError(() => parseConfig({ maxPacketSize: 8 * 1024 * 1024 }, 'big.json'));
  assert.equal(err.field, 'maxWriteBufferBytes');
  assert.equal(err.source, 'default');
  assert.match(err.message, /maxWriteBufferBytes from default: 4194304 is below maxPacketSize 8388608 \(from big\.json\)/);
  const ok = parseConfig({ maxPacketSize: 8 * 1024 * 1024, maxWriteBufferBytes: 8 * 1024 * 1024 }, 'big.json');
  assert.equal(ok.maxWriteBufferBytes, ok.maxPacketSize);
});

test('the option table has the documented flags and SHOAL_ env vars', () => {
  assert.deepEqual(
    OPTIONS.map((o) => o.flag),
    [
      '--listen', '--data-dir', '--shards', '--shard-host', '--node-name', '--max-keepalive', '--max-packet-size',
      '--max-inflight', '--max-queued-messages', '--max-queued-bytes', '--max-subscriptions',
      '--max-topic-alias', '--connect-timeout', '--scram-users', '--max-write-buffer', '--max-pending-requests',
      '--max-connections', '--max-connections-per-address', '--max-connection-rate', '--max-topic-levels', '--max-topic-length',
      '--max-publish-rate', '--sys-interval',
      '--storage-sync', '--log-level', '--gossip', '--seeds', '--advertise', '--grpc', '--cluster-secret',
      '--cluster-tls-cert', '--cluster-tls-key', '--cluster-tls-ca',
      '--tls', '--ws', '--wss', '--tls-cert', '--tls-key', '--tls-ca', '--tls-require-client-cert', '--tls-cn-as-username',
      '--takeover-timeout',
      '--drain-timeout', '--advertise-mqtt',
      '--http', '--http-token',
      '--password-file', '--acl-file', '--allow-anonymous', '--session-owner-check', '--auth-lockout-failures', '--auth-lockout-max-sec',
    ],
  );
  assert.deepEqual(
    OPTIONS.map((o) => o.key).sort(),
    (Object.keys(defaultConfig()) as string[]).sort(),
    'every config key has exactly one option row',
  );
  for (const o of OPTIONS) {
    assert.equal(o.env, 'SHOAL_' + o.flag.slice(2).replaceAll('-', '_').toUpperCase());
  }
  assert.equal(CONFIG_FILE_FLAG, '--config');
  assert.equal(CONFIG_FILE_ENV, 'SHOAL_CONFIG');
});

test('--help lists every option with env var, key, default and allowed range', () => {
  const help = formatHelp('9.9.9');
  assert.ok(help.includes('shoal 9.9.9'));
  assert.ok(help.includes('--config <path>') && help.includes('SHOAL_CONFIG'));
  for (const o of OPTIONS) {
    assert.ok(help.includes(`${o.flag} ${o.kind.metavar}`), o.flag);
    assert.ok(help.includes(`env ${o.env}, key ${o.key}, default ${o.defaultText}`), o.flag);
    assert.ok(help.includes(`allowed: ${o.kind.allowed}`), o.flag);
  }
});

/** Rows of the first table under README's "## Configuration" heading, as trimmed cells. */
function readmeConfigRows(): string[][] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const start = readme.search(/^## Configuration\s*$/m);
  assert.ok(start >= 0, 'README.md has a "## Configuration" section');
  const section = readme.slice(start).split(/^## /m)[1]!;
  return section
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()))
    .filter((cells) => cells[0]!.startsWith('`--'));
}

test('README configuration table matches the option table', () => {
  const rows = readmeConfigRows();
  const byFlag = new Map(rows.map((cells) => [cells[0]!, cells]));
  assert.equal(byFlag.size, rows.length, 'no flag listed twice');
  for (const o of OPTIONS) {
    const cells = byFlag.get(`\`${o.flag}\``);
    assert.ok(cells, `README lists ${o.flag}`);
    assert.equal(cells[1], `\`${o.env}\``, `${o.flag} env var`);
    assert.equal(cells[2], `\`${o.key}\``, `${o.flag} JSON key`);
    assert.ok(cells[3]!.includes(o.defaultText), `${o.flag} default: README says ${cells[3]}, table says ${o.defaultText}`);
  }
  const known = new Set([...OPTIONS.map((o) => `\`${o.flag}\``), `\`${CONFIG_FILE_FLAG}\``]);
  for (const flag of byFlag.keys()) assert.ok(known.has(flag), `README lists unknown flag ${flag}`);
  assert.ok(byFlag.has(`\`${CONFIG_FILE_FLAG}\``), 'README lists --config');
});

test("shard host 'auto' picks worker threads only from 4 CPUs on", () => {
  assert.equal(resolveShardHost('auto', 1), 'main');
  assert.equal(resolveShardHost('auto', 3), 'main');
  assert.equal(resolveShardHost('auto', 4), 'workers');
  assert.equal(resolveShardHost('workers', 1), 'workers');
  assert.equal(resolveShardHost('main', 8), 'main');
});
