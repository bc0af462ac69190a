// Shared test data for the config tests: for every key, values that must be accepted (as text,
// as a flag or env var would give them, and as JSON) and values that must be rejected.
// Typed as Records over ConfigKey so a new option that lacks cases fails to compile.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../../src/config/errors.js';
import { defaultConfig, type ConfigKey, type ShoalConfig } from '../../../src/config/options.js';
import { Secret } from '../../../src/config/secret.js';

export interface GoodCase<K extends ConfigKey> {
  text: string;
  json: unknown;
  expected: ShoalConfig[K];
}

/** Existing regular files, standing in for PEM files (only existence is checked at load). */
const FILE_A = fileURLToPath(new URL('../../../package.json', import.meta.url));
const FILE_B = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));
const FILE_C = fileURLToPath(new URL('../../../README.md', import.meta.url));
export const GOOD_SECRET = 'a-cluster-secret-of-36-characters-xx';
export const GOOD_HTTP_TOKEN = 'an-http-token-of-31-characters';

// The shards default is the CPU count, so pick a value that differs from it on this machine.
const ALT_SHARDS = defaultConfig().shards === 7 ? 9 : 7;

/** A valid value per key that differs from its default. */
export const GOOD: { [K in ConfigKey]: GoodCase<K> } = {
  listen: { text: '[::1]:1884', json: { host: '::1', port: 1884 }, expected: { host: '::1', port: 1884 } },
  dataDir: { text: '/var/lib/shoal', json: '/var/lib/shoal', expected: '/var/lib/shoal' },
  shards: { text: String(ALT_SHARDS), json: ALT_SHARDS, expected: ALT_SHARDS },
  shardHost: { text: 'main', json: 'main', expected: 'main' },
  nodeName: { text: 'shoal@node-2.example', json: 'shoal@node-2.example', expected: 'shoal@node-2.example' },
  maxKeepaliveSec: { text: '60', json: 60, expected: 60 },
  maxPacketSize: { text: '2048', json: 2048, expected: 2048 },
  maxInflight: { text: '100', json: 100, expected: 100 },
  maxQueuedMessages: { text: '0', json: 0, expected: 0 },
  maxQueuedBytes: { text: '0', json: 0, expected: 0 },
  maxSubscriptions: { text: '5', json: 5, expected: 5 },
  maxTopicAlias: { text: '0', json: 0, expected: 0 },
  connectTimeoutMs: { text: '2500', json: 2500, expected: 2500 },
  scramUsers: { text: '/etc/shoal/scram-users', json: '/etc/shoal/scram-users', expected: '/etc/shoal/scram-users' },
  maxWriteBufferBytes: { text: '8388608', json: 8388608, expected: 8388608 },
  maxPendingRequests: { text: '16', json: 16, expected: 16 },
  maxConnections: { text: '50000', json: 50000, expected: 50000 },
  maxConnectionsPerAddress: { text: '10', json: 10, expected: 10 },
  maxConnectionRate: { text: '5', json: 5, expected: 5 },
  maxTopicLevels: { text: '0', json: 0, expected: 0 },
  maxTopicLength: { text: '1024', json: 1024, expected: 1024 },
  maxPublishRate: { text: '100', json: 100, expected: 100 },
  sysIntervalSec: { text: '0', json: 0, expected: 0 },
  storageSync: { text: 'full', json: 'full', expected: 'full' },
  logLevel: { text: 'debug', json: 'debug', expected: 'debug' },
  gossip: { text: '10.0.0.5:7000', json: { host: '10.0.0.5', port: 7000 }, expected: { host: '10.0.0.5', port: 7000 } },
  seeds: {
    text: '10.0.0.5:7946, node-2.example:7946,[fd00::3]:7946,10.0.0.5:7946',
    json: ['10.0.0.5:7946', 'node-2.example:7946', '[fd00::3]:7946'],
    expected: ['10.0.0.5:7946', 'node-2.example:7946', '[fd00::3]:7946'],
  },
  advertise: { text: 'node-1.example', json: 'node-1.example', expected: 'node-1.example' },
  grpc: { text: '[::1]:7000', json: '[::1]:7000', expected: { host: '::1', port: 7000 } },
  clusterSecret: { text: GOOD_SECRET, json: GOOD_SECRET, expected: new Secret(GOOD_SECRET) },
  clusterTlsCert: { text: FILE_A, json: FILE_A, expected: FILE_A },
  clusterTlsKey: { text: FILE_B, json: FILE_B, expected: FILE_B },
  clusterTlsCa: { text: FILE_C, json: FILE_C, expected: FILE_C },
  tls: { text: '127.0.0.1', json: { host: '127.0.0.1', port: 8883 }, expected: { host: '127.0.0.1', port: 8883 } },
  ws: { text: ':9001', json: ':9001', expected: { host: '0.0.0.0', port: 9001 } },
  wss: { text: '[::1]', json: '[::1]', expected: { host: '::1', port: 8084 } },
  tlsCert: { text: FILE_A, json: FILE_A, expected: FILE_A },
  tlsKey: { text: FILE_B, json: FILE_B, expected: FILE_B },
  tlsCa: { text: FILE_C, json: FILE_C, expected: FILE_C },
  tlsRequireClientCert: { text: 'on', json: true, expected: true },
  tlsCnAsUsername: { text: 'yes', json: true, expected: true },
  takeoverTimeoutMs: { text: '1500', json: 1500, expected: 1500 },
  drainTimeoutMs: { text: '5000', json: 5000, expected: 5000 },
  advertiseMqtt: { text: 'mqtt-1.example:8883', json: 'mqtt-1.example:8883', expected: 'mqtt-1.example:8883' },
  http: { text: '10.0.0.5:8080', json: { host: '10.0.0.5', port: 8080 }, expected: { host: '10.0.0.5', port: 8080 } },
  httpToken: { text: GOOD_HTTP_TOKEN, json: GOOD_HTTP_TOKEN, expected: new Secret(GOOD_HTTP_TOKEN) },
  passwordFile: { text: '/etc/shoal/passwd', json: '/etc/shoal/passwd', expected: '/etc/shoal/passwd' },
  aclFile: { text: '/etc/shoal/acl', json: '/etc/shoal/acl', expected: '/etc/shoal/acl' },
  allowAnonymous: { text: 'false', json: 'false', expected: 'false' },
  sessionOwnerCheck: { text: 'off', json: 'off', expected: 'off' },
  authLockoutFailures: { text: '0', json: 0, expected: 0 },
  authLockoutMaxSec: { text: '3600', json: 3600, expected: 3600 },
};

/**
 * Other settings (as JSON) a key's GOOD value needs to pass the rules between fields: seeds over
 * non-loopback addresses need a secret, and the TLS files come as a trio.
 */
export const COMPANIONS: Partial<Record<ConfigKey, Record<string, unknown>>> = {
  seeds: { clusterSecret: GOOD_SECRET },
  clusterTlsCert: { clusterTlsKey: FILE_B, clusterTlsCa: FILE_C },
  clusterTlsKey: { clusterTlsCert: FILE_A, clusterTlsCa: FILE_C },
  clusterTlsCa: { clusterTlsCert: FILE_A, clusterTlsKey: FILE_B },
  tls: { tlsCert: FILE_A, tlsKey: FILE_B },
  wss: { tlsCert: FILE_A, tlsKey: FILE_B },
  tlsCert: { tls: true, tlsKey: FILE_B },
  tlsKey: { tls: true, tlsCert: FILE_A },
  tlsCa: { tls: true, tlsCert: FILE_A, tlsKey: FILE_B },
  tlsRequireClientCert: { tls: true, tlsCert: FILE_A, tlsKey: FILE_B, tlsCa: FILE_C },
  tlsCnAsUsername: { tls: true, tlsCert: FILE_A, tlsKey: FILE_B, tlsCa: FILE_C, tlsRequireClientCert: true },
  http: { httpToken: GOOD_HTTP_TOKEN },
};

/** Values a flag or env var may carry that must be rejected. */
export const BAD_TEXT: Record<ConfigKey, string[]> = {
  listen: ['1883', '::1:1883', '[nothost]:1883', 'host:', 'host:65536', 'ho st:1883', '[::1]1883'],
  dataDir: ['a\u0000b'],
  shards: ['0', '65', '1.5', 'abc', '-1', '0x4'],
  shardHost: ['thread', 'MAIN'],
  nodeName: ['has space', 'x'.repeat(256), 'n\u00f6de'],
  maxKeepaliveSec: ['-1', '65536', '1e3'],
  maxPacketSize: ['63', '268435456', '0x100'],
  maxInflight: ['0', '65536'],
  maxQueuedMessages: ['-1', '1.5', '9007199254740992'],
  maxQueuedBytes: ['-5', 'lots'],
  maxSubscriptions: ['-1', 'ten'],
  maxTopicAlias: ['-1', '65536'],
  connectTimeoutMs: ['0', '3600001'],
  scramUsers: ['a\u0000b'],
  maxWriteBufferBytes: ['1023', '1073741825'],
  maxPendingRequests: ['0', '65536'],
  maxConnections: ['-1', '10000001', 'many'],
  maxConnectionsPerAddress: ['-1', '1.5'],
  maxConnectionRate: ['-1', '2/s'],
  maxTopicLevels: ['-1', '65536'],
  maxTopicLength: ['0', '65536'],
  maxPublishRate: ['-1', '1e3'],
  sysIntervalSec: ['-1', '86401'],
  storageSync: ['fast', 'FULL'],
  logLevel: ['verbose', 'INFO'],
  gossip: ['7946', 'host:', 'host:65536'],
  seeds: ['10.0.0.5', '10.0.0.5:0', '0.0.0.0:7946', ':7946', 'a:1,,b:2', 'h:70000', '::1:7946'],
  advertise: ['0.0.0.0', '::', '[::]', 'host:7946', 'ho st'],
  grpc: ['7947', '[nothost]:7947'],
  clusterSecret: ['short', 'fifteen-chars-x', 'x'.repeat(1025)],
  clusterTlsCert: ['/nonexistent/cert.pem', '/tmp'],
  clusterTlsKey: ['/nonexistent/key.pem'],
  clusterTlsCa: ['/nonexistent/ca.pem', '/'],
  tls: ['::1', 'ho st', 'host:65536', '[nothost]'],
  ws: ['host:', '[::1]9001'],
  wss: ['a b', ':70000'],
  tlsCert: ['/nonexistent/cert.pem', '/tmp'],
  tlsKey: ['/nonexistent/key.pem'],
  tlsCa: ['/nonexistent/ca.pem'],
  tlsRequireClientCert: ['maybe', '2'],
  tlsCnAsUsername: ['enabled'],
  takeoverTimeoutMs: ['99', '60001', '5s'],
  drainTimeoutMs: ['999', '3600001', '1.5', '10s'],
  advertiseMqtt: ['mqtt.example', 'mqtt.example:0', '0.0.0.0:1883', ':1883', '[::]:1883', '::1:1883', 'bad host:1883'],
  http: ['18083', 'OFF', 'host:', '[::1]18083'],
  httpToken: ['short', 'has a space in it ok', 'x'.repeat(1025), 't\u00f6ken-with-umlaut-xx'],
  passwordFile: ['a\u0000b'],
  aclFile: ['a\u0000b'],
  allowAnonymous: ['yes', 'auto2'],
  sessionOwnerCheck: ['true', 'no'],
  authLockoutFailures: ['-1', '1001'],
  authLockoutMaxSec: ['0', '86401'],
};

/** Values a JSON config file may carry that must be rejected (including wrong JSON types). */
export const BAD_JSON: Record<ConfigKey, unknown[]> = {
  listen: [1883, null, ['127.0.0.1', 1883], { host: 'h' }, { host: 'h', port: '1883' }, { host: 'h', port: 1, tls: true }, { host: 'h', port: 70000 }],
  dataDir: ['', 5, null],
  shards: ['4', 0, 65, 1.5, true, null],
  shardHost: ['inline', 1, null],
  nodeName: ['', 42, 'a b'],
  maxKeepaliveSec: [-1, 65536, '60'],
  maxPacketSize: [63, 268435456, 1024.5],
  maxInflight: [0, 65536, '32'],
  maxQueuedMessages: [-1, Number.MAX_SAFE_INTEGER + 1, '1000'],
  maxQueuedBytes: [-1, 1.5],
  maxSubscriptions: [-1, false],
  maxTopicAlias: [-1, 65536],
  connectTimeoutMs: [0, 3_600_001, '10s'],
  scramUsers: ['', 5, null, ['a']],
  maxWriteBufferBytes: [1023, 1073741825],
  maxPendingRequests: [0, 65536],
  maxConnections: [-1, '10', 0.5],
  maxConnectionsPerAddress: [-1, null],
  maxConnectionRate: [-1, 10_000_001],
  maxTopicLevels: [-1, 65536, '128'],
  maxTopicLength: [0, 65536],
  maxPublishRate: [-1, true],
  sysIntervalSec: [-1, 86401, 0.5],
  storageSync: ['fast', 1],
  logLevel: ['verbose', 30],
  gossip: [7946, { host: 'h' }],
  seeds: ['', [], [7946], ['10.0.0.5:7946', ''], { host: 'h', port: 1 }, 'h:0'],
  advertise: ['', 7946, '0.0.0.0'],
  grpc: [7947, null],
  clusterSecret: [42, 'short', null, ''],
  clusterTlsCert: [5, '', '/nonexistent/cert.pem'],
  clusterTlsKey: [null, '/nonexistent/key.pem'],
  clusterTlsCa: [true, '/nonexistent/ca.pem'],
  tls: [8883, ['127.0.0.1', 8883], { host: 'h' }, { host: 'h', port: 1, tls: true }],
  ws: [9001, 'a b'],
  wss: [{ port: 8084 }],
  tlsCert: [5, '', '/nonexistent/cert.pem'],
  tlsKey: [null, '/nonexistent/key.pem'],
  tlsCa: [true],
  tlsRequireClientCert: ['true', 1, null],
  tlsCnAsUsername: ['yes', 0],
  takeoverTimeoutMs: [99, 60_001, '5000'],
  drainTimeoutMs: ['5000', 0, 1.5, null],
  advertiseMqtt: [1883, { host: 'h', port: 1 }, 'h:0', true],
  http: [18083, true, 'on', { host: 'h' }, { host: 'h', port: 1, tls: true }],
  httpToken: [42, 'short', null, ''],
  passwordFile: [5, null],
  aclFile: [false, ['a']],
  allowAnonymous: [true, 1],
  sessionOwnerCheck: [false, 'yes'],
  authLockoutFailures: [1.5, '5'],
  authLockoutMaxSec: [0, null],
};

/** Runs `fn`, which must throw a ConfigError, and returns it. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}
