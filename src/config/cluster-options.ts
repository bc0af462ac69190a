// The cluster settings' kinds and rules: --gossip, --seeds, --advertise, --grpc, --cluster-secret
// and --cluster-tls-cert/-key/-ca. options.ts lists them in its table; this file says what each
// accepts, how --advertise defaults, and the rules between them (checkClusterConfig).
import { statSync } from 'node:fs';
import { isIP, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ConfigError } from './errors.js';
import { HOSTNAME, Rejection, formatListen, parseListen, type FieldKind } from './field-kinds.js';
import type { ConfigKey, ShoalConfig } from './options.js';
import { Secret } from './secret.js';

export const DEFAULT_GOSSIP = Object.freeze({ host: '0.0.0.0', port: 7946 });
export const DEFAULT_GRPC = Object.freeze({ host: '0.0.0.0', port: 7947 });
/** Short secrets can be guessed offline from one captured datagram; `openssl rand -hex 32` gives 64. */
export const MIN_SECRET_LENGTH = 16;
const MAX_SECRET_LENGTH = 1024;
/** More seeds than this is a mistake (every node is synced with each while alone). */
const MAX_SEEDS = 256;

const isWildcard = (host: string): boolean => host === '0.0.0.0' || host === '::';

/** True for addresses that never leave this machine. A host name other than localhost is not assumed to be. */
export function isLoopbackHost(host: string): boolean {
  return host.toLowerCase() === 'localhost' || (isIPv4(host) && host.startsWith('127.')) || host === '::1';
}

export const seedsKind: FieldKind<readonly string[]> = {
  allowed: `comma-separated host:port or [ipv6]:port, port 1..65535, no wildcard host, at most ${MAX_SEEDS}; in JSON also an array of them`,
  metavar: '<host:port,...>',
  parse(raw) {
    const items: unknown[] = typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw : [];
    if (items.length === 0) throw new Rejection('no seed');
    if (items.length > MAX_SEEDS) throw new Rejection(`more than ${MAX_SEEDS} seeds`);
    const seeds: string[] = [];
    for (const item of items) {
      if (typeof item !== 'string' || item.trim() === '') throw new Rejection('empty seed');
      const addr = parseListen(item.trim());
      if (addr.port === 0) throw new Rejection(`seed ${item.trim()}: port must be 1..65535`);
      if (isWildcard(addr.host)) throw new Rejection(`seed ${item.trim()}: ${addr.host} is not an address a node can be reached at`);
      seeds.push(formatListen(addr));
    }
    return Object.freeze([...new Set(seeds)]);
  },
  format: (seeds) => (seeds.length === 0 ? 'none' : seeds.join(',')),
};

export const advertiseKind: FieldKind<string> = {
  allowed: 'a host name or IP address (no port), not 0.0.0.0 or ::',
  metavar: '<host>',
  parse(raw) {
    if (typeof raw !== 'string') throw new Rejection();
    const host = raw.replace(/^\[(.*)\]$/, '$1');
    if (isWildcard(host)) throw new Rejection('peers cannot send to a wildcard address');
    if (isIP(host) === 0 && !HOSTNAME.test(host)) throw new Rejection();
    return host;
  },
  format: String,
};

export const secretKind: FieldKind<Secret | null> = {
  allowed: `${MIN_SECRET_LENGTH}..${MAX_SECRET_LENGTH} characters, the same on every node (e.g. from openssl rand -hex 32)`,
  metavar: '<secret>',
  sensitive: true,
  parse(raw) {
    if (typeof raw !== 'string') throw new Rejection('not a string');
    if (raw.length < MIN_SECRET_LENGTH || raw.length > MAX_SECRET_LENGTH) throw new Rejection(`${raw.length} characters`);
    return new Secret(raw);
  },
  format: (secret) => (secret === null ? 'none' : secret.toString()),
};

/** A path to a readable regular file (checked at startup, so a typo fails before the node runs). */
export const tlsFileKind: FieldKind<string | null> = {
  allowed: 'path of an existing PEM file',
  metavar: '<path>',
  parse(raw) {
    if (typeof raw !== 'string' || raw === '' || raw.includes('\0')) throw new Rejection();
    let isFile: boolean;
    try {
      isFile = statSync(raw).isFile();
    } catch (err) {
      throw new Rejection(`${(err as NodeJS.ErrnoException).code ?? 'cannot stat'}`);
    }
    if (!isFile) throw new Rejection('not a regular file');
    return raw;
  },
  format: (path) => path ?? 'none',
};

/**
 * The --advertise default: the --gossip host, unless that is a wildcard; then the first
 * non-loopback IPv4 address of this machine, else its first global IPv6 one, else 127.0.0.1.
 * `why` says which, for config.effective.
 */
export function deriveAdvertise(gossipHost: string, interfaces = networkInterfaces()): { host: string; why: string } {
  if (!isWildcard(gossipHost)) return { host: gossipHost, why: `the --gossip host` };
  const all = Object.entries(interfaces).flatMap(([name, addrs]) => (addrs ?? []).map((a) => ({ name, ...a })));
  const v4 = all.find((a) => a.family === 'IPv4' && !a.internal);
  if (v4) return { host: v4.address, why: `--gossip binds ${gossipHost}: first non-loopback IPv4 address (interface ${v4.name})` };
  const v6 = all.find((a) => a.family === 'IPv6' && !a.internal && !a.address.toLowerCase().startsWith('fe80'));
  if (v6) return { host: v6.address, why: `--gossip binds ${gossipHost}: first global IPv6 address (interface ${v6.name})` };
  return { host: '127.0.0.1', why: `--gossip binds ${gossipHost} and this machine has no other address: loopback` };
}

const TLS_KEYS = ['clusterTlsCert', 'clusterTlsKey', 'clusterTlsCa'] as const;
const FLAG_OF: Partial<Record<ConfigKey, string>> = {
  clusterTlsCert: '--cluster-tls-cert',
  clusterTlsKey: '--cluster-tls-key',
  clusterTlsCa: '--cluster-tls-ca',
};

/** Rules between the cluster settings, on the merged config. */
export function checkClusterConfig(config: ShoalConfig, sourceOf: (key: ConfigKey) => string): void {
  const tlsSet = TLS_KEYS.filter((key) => config[key] !== null);
  if (tlsSet.length > 0 && tlsSet.length < TLS_KEYS.length) {
    const missing = TLS_KEYS.filter((key) => config[key] === null);
    const given = tlsSet.map((key) => `${FLAG_OF[key]} (from ${sourceOf(key)})`).join(' and ');
    throw new ConfigError(
      `${missing.join(' and ')} missing: ${given} needs ${missing.map((key) => FLAG_OF[key]).join(' and ')} too; ` +
        `cluster mTLS takes all three of --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca, or none`,
      { code: 'CONFIG_INVALID_VALUE', field: missing[0]!, source: sourceOf(tlsSet[0]!), allowed: 'all three TLS files or none' },
    );
  }
  if (config.seeds.length === 0 || config.clusterSecret !== null) return;
  // Without a secret anyone who can reach the gossip or gRPC port could join and read or inject
  // routes; only a cluster confined to this machine may run so.
  const addresses: [string, string][] = [
    [`gossip ${config.gossip.host} (from ${sourceOf('gossip')})`, config.gossip.host],
    [`advertise ${config.advertise} (from ${sourceOf('advertise')})`, config.advertise],
    [`grpc ${config.grpc.host} (from ${sourceOf('grpc')})`, config.grpc.host],
    ...config.seeds.map((seed): [string, string] => [`seed ${seed}`, parseListen(seed).host]),
  ];
  const exposed = addresses.filter(([, host]) => !isLoopbackHost(host)).map(([what]) => what);
  if (exposed.length === 0) return;
  throw new ConfigError(
    `clusterSecret is required: --seeds (from ${sourceOf('seeds')}) joins a cluster over non-loopback addresses ` +
      `(${exposed.join(', ')}); set --cluster-secret or SHOAL_CLUSTER_SECRET to the same secret on every node, ` +
      `or bind every cluster address to loopback`,
    { code: 'CONFIG_CLUSTER_SECRET_REQUIRED', field: 'clusterSecret', source: sourceOf('clusterSecret'), allowed: secretKind.allowed },
  );
}
