// The node's configuration: one typed, frozen object built as
// DEFAULT_CONFIG → defaultConfig() → parseConfig() (validate every field) → Object.freeze.
// OPTIONS is the single table of settings; --help and the README check are generated from it, and
// load.ts layers flags > env vars > JSON file > defaults on top of it.
import { hostname, availableParallelism } from 'node:os';
import { ConfigError, showValue } from './errors.js';
import {
  DEFAULT_GOSSIP,
  DEFAULT_GRPC,
  advertiseKind,
  checkClusterConfig,
  deriveAdvertise,
  secretKind,
  seedsKind,
  tlsFileKind,
} from './cluster-options.js';
import { DRAIN_DEFAULTS, DRAIN_SPECS, type DrainConfig } from './drain-options.js';
import { DEFAULT_HTTP, checkHttpConfig, httpListenKind, httpTokenKind } from './http-options.js';
import type { Secret } from './secret.js';
import { DEFAULT_TLS_PORT, DEFAULT_WSS_PORT, DEFAULT_WS_PORT, checkTransportConfig, optionalListenKind, switchKind } from './transport-options.js';
import { DEFAULT_LIMITS, LIMIT_SPECS, type LimitConfig } from './limit-options.js';
import { AUTH_SPECS, DEFAULT_AUTH_CONFIG, type AuthConfig } from './auth-options.js';
import { Rejection, formatListen, int, listenKind, oneOf, parseListen, str, type FieldKind, type ListenAddress } from './field-kinds.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** 'full' fsyncs every group commit; 'normal' leaves durability of the last commits to the OS. */
export type StorageSync = 'normal' | 'full';
export const STORAGE_SYNC_MODES: readonly StorageSync[] = ['normal', 'full'];
export type ShardHost = 'auto' | 'workers' | 'main';
export const SHARD_HOSTS: readonly ShardHost[] = ['auto', 'workers', 'main'];

export type { ListenAddress };
export { parseListen, formatListen };

/** The abuse limits (connections, rates, topic bounds) are in limit-options.ts; the graceful-leave
 * settings (--drain-timeout, --advertise-mqtt) in drain-options.ts; the auth settings in auth-options.ts. */
export interface ShoalConfig extends LimitConfig, DrainConfig, AuthConfig {
  readonly listen: ListenAddress;
  /** One SQLite file per shard lives here; relative paths resolve against the working directory. */
  readonly dataDir: string;
  /** Number of session-actor shards (one SQLite file each). */
  readonly shards: number;
  /** Where shards run: worker threads, the main thread, or 'auto' (see resolveShardHost). */
  readonly shardHost: ShardHost;
  /** Unique name of this node in the cluster. */
  readonly nodeName: string;
  /** Upper bound on client keepalive, announced as v5 Server Keep Alive; 0 = no limit. */
  readonly maxKeepaliveSec: number;
  /** Largest MQTT packet accepted, in bytes (v5 Maximum Packet Size). */
  readonly maxPacketSize: number;
  /** Our Receive Maximum, and the cap on each client's outbound QoS 1/2 window. */
  readonly maxInflight: number;
  /** Per offline or slow session; 0 = unlimited. */
  readonly maxQueuedMessages: number;
  /** Per offline or slow session, payload bytes; 0 = unlimited. */
  readonly maxQueuedBytes: number;
  /** Per client; 0 = unlimited. */
  readonly maxSubscriptions: number;
  /** Topic Alias Maximum announced to v5 clients; 0 disables topic aliases. */
  readonly maxTopicAlias: number;
  /** Time a new connection has to send CONNECT. */
  readonly connectTimeoutMs: number;
  /** Users file of SCRAM-SHA-256 enhanced authentication (src/auth/scram-users.ts); '' = not offered. */
  readonly scramUsers: string;
  /** Unflushed bytes per connection before it is treated as a slow consumer and disconnected. */
  readonly maxWriteBufferBytes: number;
  /** SUBSCRIBE/UNSUBSCRIBE/PUBREL of one connection awaiting their answer before it is no longer read. */
  readonly maxPendingRequests: number;
  /** Period of $SYS publications; 0 = off. */
  readonly sysIntervalSec: number;
  readonly storageSync: StorageSync;
  readonly logLevel: LogLevel;
  // ---- cluster (kinds and rules in cluster-options.ts) ----
  /** Where the gossip (SWIM, UDP) socket binds. */
  readonly gossip: ListenAddress;
  /** Gossip addresses ("host:port") to join through; empty = this node runs alone. */
  readonly seeds: readonly string[];
  /** The host peers reach this node at, for gossip and gRPC; derived from `gossip` when not set. */
  readonly advertise: string;
  /** Where the cluster gRPC server binds. */
  readonly grpc: ListenAddress;
  /** Shared by every node: seals gossip and authenticates every RPC. Redacted wherever shown. */
  readonly clusterSecret: Secret | null;
  /** mTLS between nodes: all three or none. */
  readonly clusterTlsCert: string | null;
  readonly clusterTlsKey: string | null;
  readonly clusterTlsCa: string | null;
  // ---- client transports besides TCP (kinds and rules in transport-options.ts) ----
  /** MQTT over TLS listener; null = off. */
  readonly tls: ListenAddress | null;
  /** MQTT over WebSocket (path /mqtt) listener; null = off. */
  readonly ws: ListenAddress | null;
  /** MQTT over secure WebSocket listener, with the TLS settings below; null = off. */
  readonly wss: ListenAddress | null;
  /** PEM server certificate (chain) and key of --tls and --wss; reloaded on SIGHUP. */
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  /** PEM CA bundle client certificates must chain to. */
  readonly tlsCa: string | null;
  readonly tlsRequireClientCert: boolean;
  /** The verified client certificate's CN is the username the auth layer sees. */
  readonly tlsCnAsUsername: boolean;
  /** How long a cross-node takeover waits for each answer before refusing the CONNECT (0x89). */
  readonly takeoverTimeoutMs: number;
  // ---- HTTP: metrics, admin API, health, dashboard (kinds and rules in http-options.ts) ----
  /** Where the HTTP listener binds; null = off. */
  readonly http: ListenAddress | null;
  /** Bearer token of the HTTP listener; required when it is not on loopback. Redacted wherever shown. */
  readonly httpToken: Secret | null;
}

export type ConfigKey = keyof ShoalConfig;

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** More shards than this only adds thread overhead; also bounds the per-shard SQLite files. */
export const MAX_SHARDS = 64;
/** MQTT's variable byte integer tops out at 268,435,455 bytes of remaining length. */
const MQTT_MAX_PACKET_SIZE = 268_435_455;
/** Smallest packet limit that still fits a CONNECT with a modest client id and will. */
const MIN_PACKET_SIZE = 64;

/** The machine-independent defaults. `defaultConfig()` adds the ones probed from the host. */
export const DEFAULT_CONFIG = Object.freeze({
  // Loopback by default, as Mosquitto 2.0's local-only mode: a node reachable from the network is
  // asked for explicitly, and then --allow-anonymous auto wants authentication.
  listen: Object.freeze({ host: '127.0.0.1', port: 1883 }),
  dataDir: './data',
  shardHost: 'auto',
  maxKeepaliveSec: 0,
  maxPacketSize: 1 * MiB,
  // A QoS 1/2 subscriber gets at most one window per round trip, and under load a round trip is
  // several ms: 32 held a subscriber fed by 16 publishers (16 in flight each) to 1/6 of their rate
  // and its queue grew without end. 256 lets it keep up (issue 23; README "A subscriber that
  // falls behind"); memory is unchanged, the window's messages leave the queue.
  maxInflight: 256,
  maxQueuedMessages: 1000,
  maxQueuedBytes: 64 * MiB,
  maxSubscriptions: 10_000,
  maxTopicAlias: 1024,
  connectTimeoutMs: 10_000,
  scramUsers: '',
  maxWriteBufferBytes: 4 * MiB,
  maxPendingRequests: 128,
  ...DEFAULT_LIMITS,
  sysIntervalSec: 10,
  storageSync: 'normal',
  logLevel: 'info',
  gossip: DEFAULT_GOSSIP,
  seeds: Object.freeze([]),
  grpc: DEFAULT_GRPC,
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
  takeoverTimeoutMs: 5_000,
  ...DRAIN_DEFAULTS,
  http: DEFAULT_HTTP,
  httpToken: null,
  ...DEFAULT_AUTH_CONFIG,
} as const satisfies Omit<ShoalConfig, 'shards' | 'nodeName' | 'advertise'>);

export function defaultConfig(): ShoalConfig {
  return Object.freeze({
    ...DEFAULT_CONFIG,
    shards: Math.max(1, Math.min(MAX_SHARDS, availableParallelism())),
    nodeName: `shoal@${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}`,
    advertise: deriveAdvertise(DEFAULT_CONFIG.gossip.host).host,
  });
}


// ---- the table -------------------------------------------------------------------------------

interface OptionSpecOf<K extends ConfigKey> {
  readonly key: K;
  /** Command-line flag, e.g. `--max-inflight`; also takes `--max-inflight=32`. */
  readonly flag: string;
  /** Environment variable: SHOAL_ + the flag in SCREAMING_SNAKE case. */
  readonly env: string;
  /** The default as shown in --help and the README (machine-dependent ones are described). */
  readonly defaultText: string;
  readonly description: string;
  readonly kind: FieldKind<ShoalConfig[K]>;
}

/** One row per config key; a union so that `kind` stays tied to its key's type. */
export type OptionSpec = { [K in ConfigKey]: OptionSpecOf<K> }[ConfigKey];

export type SpecInput<K extends ConfigKey> = Pick<OptionSpecOf<K>, 'flag' | 'description' | 'kind'> & { defaultText?: string };

// Object key order is the order of --help and of the README table.
const SPECS: { [K in ConfigKey]: SpecInput<K> } = {
  listen: { flag: '--listen', kind: listenKind, description: 'Address the MQTT TCP listener binds.' },
  dataDir: {
    flag: '--data-dir',
    kind: str(/^[^\0]+$/, 'a non-empty path', '<path>'),
    description: 'Directory of the SQLite files (one per shard).',
  },
  shards: {
    flag: '--shards',
    kind: int(1, MAX_SHARDS),
    defaultText: `CPU count (max ${MAX_SHARDS})`,
    description: 'Session-actor shards, each with its own SQLite file; with worker threads, one thread each.',
  },
  shardHost: {
    flag: '--shard-host',
    kind: oneOf(SHARD_HOSTS, '<mode>'),
    description: "Where shards run: 'workers' (a thread each), 'main' (on the connection thread: no thread hops), 'auto' = 'workers' when 4 or more CPUs are available to the process, else 'main'.",
  },
  nodeName: {
    flag: '--node-name',
    kind: str(/^[A-Za-z0-9._@:-]{1,255}$/, '1..255 characters of A-Z a-z 0-9 . _ @ : -', '<name>'),
    defaultText: 'shoal@<hostname>',
    description: 'Name of this node in the cluster; must be unique.',
  },
  maxKeepaliveSec: {
    flag: '--max-keepalive',
    kind: int(0, 65535, '<sec>'),
    description: 'Longest keepalive a client may use, in seconds; larger requests are clamped and announced as v5 Server Keep Alive. 0 = no limit.',
  },
  maxPacketSize: {
    defaultText: bytesText(DEFAULT_CONFIG.maxPacketSize),
    flag: '--max-packet-size',
    kind: int(MIN_PACKET_SIZE, MQTT_MAX_PACKET_SIZE, '<bytes>'),
    description: 'Largest MQTT packet accepted, in bytes (v5 Maximum Packet Size).',
  },
  maxInflight: {
    flag: '--max-inflight',
    kind: int(1, 65535),
    description: 'Our v5 Receive Maximum, and the cap on unacknowledged QoS 1/2 messages sent to each client.',
  },
  maxQueuedMessages: {
    flag: '--max-queued-messages',
    kind: int(0, Number.MAX_SAFE_INTEGER),
    description: 'Messages queued per offline or slow session before new ones are dropped. 0 = unlimited.',
  },
  maxQueuedBytes: {
    defaultText: bytesText(DEFAULT_CONFIG.maxQueuedBytes),
    flag: '--max-queued-bytes',
    kind: int(0, Number.MAX_SAFE_INTEGER, '<bytes>'),
    description: 'Payload bytes queued per offline or slow session before new messages are dropped. 0 = unlimited.',
  },
  maxSubscriptions: {
    flag: '--max-subscriptions',
    kind: int(0, Number.MAX_SAFE_INTEGER),
    description: 'Subscriptions per client. 0 = unlimited.',
  },
  maxTopicAlias: {
    flag: '--max-topic-alias',
    kind: int(0, 65535),
    description: 'Topic Alias Maximum announced to v5 clients. 0 disables topic aliases.',
  },
  connectTimeoutMs: {
    flag: '--connect-timeout',
    kind: int(1, 3_600_000, '<ms>'),
    description: 'Milliseconds a new connection has to send CONNECT before it is closed.',
  },
  scramUsers: {
    flag: '--scram-users',
    kind: str(/^[^\0]+$/, 'a non-empty path', '<path>'),
    defaultText: 'none',
    description: "File of SCRAM-SHA-256 users (write it with 'shoal scram-user'); offers MQTT 5 enhanced authentication with that method. Read at startup.",
  },
  maxWriteBufferBytes: {
    defaultText: bytesText(DEFAULT_CONFIG.maxWriteBufferBytes),
    flag: '--max-write-buffer',
    kind: int(KiB, GiB, '<bytes>'),
    description: 'Unsent bytes buffered per connection before it is disconnected as a slow consumer; must be >= max packet size.',
  },
  maxPendingRequests: {
    flag: '--max-pending-requests',
    kind: int(1, 65_535),
    description:
      'SUBSCRIBE, UNSUBSCRIBE and PUBREL packets of one connection waiting for their answer from its session before the broker stops reading that connection (until half have been answered).',
  },
  ...LIMIT_SPECS,
  sysIntervalSec: {
    flag: '--sys-interval',
    kind: int(0, 86_400, '<sec>'),
    description: 'Seconds between $SYS topic publications. 0 = off.',
  },
  storageSync: {
    flag: '--storage-sync',
    kind: oneOf(STORAGE_SYNC_MODES, '<mode>'),
    description: "SQLite durability: 'full' fsyncs every commit, 'normal' survives a process crash but may lose the last commits on power loss.",
  },
  logLevel: {
    flag: '--log-level',
    kind: oneOf(LOG_LEVELS, '<level>'),
    description: 'Minimum level of the JSON log lines written to stdout.',
  },
  gossip: {
    flag: '--gossip',
    kind: listenKind,
    description: 'Address the cluster gossip (SWIM over UDP) socket binds; used only with --seeds.',
  },
  seeds: {
    flag: '--seeds',
    kind: seedsKind,
    description: "Gossip addresses of cluster nodes to join through; every node may get the same list, itself included. Unset: the node runs alone, with no gossip or gRPC port.",
  },
  advertise: {
    flag: '--advertise',
    kind: advertiseKind,
    defaultText: 'the --gossip host; for 0.0.0.0 or :: the first non-loopback address (else 127.0.0.1)',
    description: 'Host the other nodes reach this node at, for gossip and gRPC.',
  },
  grpc: {
    flag: '--grpc',
    kind: listenKind,
    description: 'Address the cluster gRPC server binds; used only with --seeds.',
  },
  clusterSecret: {
    flag: '--cluster-secret',
    kind: secretKind,
    description: 'Shared secret of the cluster: seals every gossip datagram and authenticates every RPC. Required with --seeds unless every cluster address is loopback. Never logged.',
  },
  clusterTlsCert: {
    flag: '--cluster-tls-cert',
    kind: tlsFileKind,
    description: "PEM certificate of this node for mutual TLS between nodes; with --cluster-tls-key and --cluster-tls-ca (all three or none).",
  },
  clusterTlsKey: {
    flag: '--cluster-tls-key',
    kind: tlsFileKind,
    description: 'PEM private key of --cluster-tls-cert.',
  },
  clusterTlsCa: {
    flag: '--cluster-tls-ca',
    kind: tlsFileKind,
    description: "PEM CA bundle that peers' certificates must chain to.",
  },
  tls: {
    flag: '--tls',
    kind: optionalListenKind(DEFAULT_TLS_PORT),
    description: `Address the MQTT over TLS listener binds (the flag alone: 0.0.0.0:${DEFAULT_TLS_PORT}); needs --tls-cert and --tls-key.`,
  },
  ws: {
    flag: '--ws',
    kind: optionalListenKind(DEFAULT_WS_PORT),
    description: `Address the MQTT over WebSocket listener binds (path /mqtt, subprotocol mqtt or mqttv3.1; the flag alone: 0.0.0.0:${DEFAULT_WS_PORT}).`,
  },
  wss: {
    flag: '--wss',
    kind: optionalListenKind(DEFAULT_WSS_PORT),
    description: `Address the MQTT over secure WebSocket listener binds (as --ws, over TLS with the --tls-* settings; the flag alone: 0.0.0.0:${DEFAULT_WSS_PORT}).`,
  },
  tlsCert: {
    flag: '--tls-cert',
    kind: tlsFileKind,
    description: 'PEM server certificate (with its intermediates) of --tls and --wss. Reread with --tls-key and --tls-ca on SIGHUP.',
  },
  tlsKey: {
    flag: '--tls-key',
    kind: tlsFileKind,
    description: 'PEM private key of --tls-cert (unencrypted).',
  },
  tlsCa: {
    flag: '--tls-ca',
    kind: tlsFileKind,
    description: 'PEM CA bundle that client certificates must chain to (with --tls-require-client-cert).',
  },
  tlsRequireClientCert: {
    flag: '--tls-require-client-cert',
    kind: switchKind,
    description: 'TLS clients must present a certificate that chains to --tls-ca; the handshake fails without one.',
  },
  tlsCnAsUsername: {
    flag: '--tls-cn-as-username',
    kind: switchKind,
    description: "The client certificate's Common Name replaces the CONNECT username (and its password is ignored): the certificate authenticates the client. Needs --tls-require-client-cert.",
  },
  takeoverTimeoutMs: {
    flag: '--takeover-timeout',
    kind: int(100, 60_000, '<ms>'),
    description: 'How long a CONNECT that moves a session from another node waits for each answer (claim, export, install, handover) before it is refused with 0x89 Server busy; the old node keeps the session twice as long.',
  },
  ...DRAIN_SPECS,
  http: {
    flag: '--http',
    kind: httpListenKind,
    description: "Address of the HTTP listener: Prometheus /metrics, the admin API (/api/v1/...), /health, /ready and the dashboard at /. 'off' disables it.",
  },
  httpToken: {
    flag: '--http-token',
    kind: httpTokenKind,
    description: 'Bearer token every HTTP request must send (Authorization: Bearer <token>); required when --http is not on loopback. Never logged.',
  },
  ...AUTH_SPECS,
};

/** `--max-queued-bytes` → `SHOAL_MAX_QUEUED_BYTES`. */
export function envNameForFlag(flag: string): string {
  return `SHOAL_${flag.replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`;
}

/** The flag and env var that name the JSON config file; not a config key themselves. */
export const CONFIG_FILE_FLAG = '--config';
export const CONFIG_FILE_ENV = envNameForFlag(CONFIG_FILE_FLAG);

/** `67108864` → `67108864 (64 MiB)`: the exact number to copy, and a readable size. */
function bytesText(n: number): string {
  const unit = n % MiB === 0 ? `${n / MiB} MiB` : n % KiB === 0 ? `${n / KiB} KiB` : '';
  return unit ? `${n} (${unit})` : String(n);
}

function buildSpec<K extends ConfigKey>(key: K, input: SpecInput<K>): OptionSpecOf<K> {
  const defaults = defaultConfig();
  return Object.freeze({
    key,
    flag: input.flag,
    env: envNameForFlag(input.flag),
    defaultText: input.defaultText ?? input.kind.format(defaults[key]),
    description: input.description,
    kind: input.kind,
  });
}

export const OPTIONS: readonly OptionSpec[] = Object.freeze(
  (Object.keys(SPECS) as ConfigKey[]).map((key) => buildSpec(key, SPECS[key] as SpecInput<typeof key>) as OptionSpec),
);

const BY_KEY = new Map<string, OptionSpec>(OPTIONS.map((o) => [o.key, o]));

export function optionByKey(key: string): OptionSpec | undefined {
  return BY_KEY.get(key);
}

// ---- validation ------------------------------------------------------------------------------

type MutableConfig = { -readonly [K in ConfigKey]: ShoalConfig[K] };
export type PartialConfig = Partial<MutableConfig>;

/**
 * Validates one value. `source` names where it came from (`flag --shards`, `env SHOAL_SHARDS`,
 * `config file ./shoal.json`); `text` is true when it arrived as a string from a flag or env var.
 */
export function parseOptionValue<K extends ConfigKey>(key: K, raw: unknown, source: string, text: boolean): ShoalConfig[K] {
  const spec = BY_KEY.get(key) as OptionSpecOf<K> | undefined;
  if (!spec) throw unknownKey(key, source);
  try {
    return spec.kind.parse(raw, text);
  } catch (err) {
    if (!(err instanceof Rejection)) throw err;
    const why = err.reason ? ` (${err.reason})` : '';
    // A rejected secret is still (nearly) the secret: never echo it.
    const shown = spec.kind.sensitive ? '[redacted]' : raw;
    return fail(
      `invalid ${key} from ${source}: ${spec.kind.sensitive ? '[redacted]' : showValue(raw)}${why}; allowed: ${spec.kind.allowed}`,
      { code: 'CONFIG_INVALID_VALUE', field: key, source, value: shown, allowed: spec.kind.allowed },
    );
  }
}

function fail(message: string, details: ConstructorParameters<typeof ConfigError>[1]): never {
  throw new ConfigError(message, details);
}

function unknownKey(key: string, source: string): ConfigError {
  const allowed = OPTIONS.map((o) => o.key).join(', ');
  return new ConfigError(`unknown config key ${JSON.stringify(key)} in ${source}; allowed keys: ${allowed}`, {
    code: 'CONFIG_UNKNOWN_KEY',
    field: key,
    source,
    value: key,
    allowed,
  });
}

/** Validates the keys present in `input` (a JSON object with camelCase keys); unknown keys are rejected. */
export function parsePartialConfig(input: unknown, source: string): PartialConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    fail(`${source}: expected a JSON object of config keys, got ${showValue(input)}`, {
      code: 'CONFIG_FILE_INVALID',
      source,
      value: input,
    });
  }
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(input)) {
    if (!BY_KEY.has(key)) throw unknownKey(key, source);
    out[key] = parseOptionValue(key as ConfigKey, raw, source, false);
  }
  return out as PartialConfig;
}

/**
 * Rules between fields, checked on the merged result. `sourceOf` says where each value came from
 * so the error can point at the setting to change.
 */
export function checkConfig(config: ShoalConfig, sourceOf: (key: ConfigKey) => string): ShoalConfig {
  // A single packet larger than the write buffer limit would get every subscriber of a large
  // message disconnected as a slow consumer.
  if (config.maxWriteBufferBytes < config.maxPacketSize) {
    fail(
      `invalid maxWriteBufferBytes from ${sourceOf('maxWriteBufferBytes')}: ${config.maxWriteBufferBytes} ` +
        `is below maxPacketSize ${config.maxPacketSize} (from ${sourceOf('maxPacketSize')}); ` +
        `allowed: integer ${config.maxPacketSize}..${GiB}`,
      {
        code: 'CONFIG_INVALID_VALUE',
        field: 'maxWriteBufferBytes',
        source: sourceOf('maxWriteBufferBytes'),
        value: config.maxWriteBufferBytes,
        allowed: `integer >= maxPacketSize (${config.maxPacketSize})`,
      },
    );
  }
  checkClusterConfig(config, sourceOf);
  checkTransportConfig(config, sourceOf);
  checkHttpConfig(config, sourceOf);
  return config;
}

/** Defaults overlaid with validated `layers` (later layers win), checked and frozen. */
export function freezeConfig(layers: readonly PartialConfig[], sourceOf: (key: ConfigKey) => string): ShoalConfig {
  const merged: ShoalConfig = Object.assign({}, defaultConfig(), ...layers);
  // --advertise follows the --gossip host actually configured, unless set itself.
  const advertise = layers.some((layer) => 'advertise' in layer) ? merged.advertise : deriveAdvertise(merged.gossip.host).host;
  const frozen = {
    listen: Object.freeze({ ...merged.listen }),
    gossip: Object.freeze({ ...merged.gossip }),
    grpc: Object.freeze({ ...merged.grpc }),
    http: merged.http === null ? null : Object.freeze({ ...merged.http }),
  };
  return Object.freeze(checkConfig({ ...merged, ...frozen, advertise, seeds: Object.freeze([...merged.seeds]) }, sourceOf));
}

/**
 * Builds a full config from a JSON-shaped object: missing keys take their defaults, every
 * present key is validated, unknown keys are rejected. `source` is named in errors (e.g. a path).
 */
export function parseConfig(input: unknown, source: string): ShoalConfig {
  const partial = parsePartialConfig(input, source);
  return freezeConfig([partial], (key) => (key in partial ? source : 'default'));
}

/** Fewest CPUs at which 'auto' puts shards on worker threads. */
export const WORKER_SHARDS_MIN_CPUS = 4;

/**
 * 'auto' → 'workers' from WORKER_SHARDS_MIN_CPUS CPUs available to the process (affinity counts),
 * else 'main'. Measured on 1 and 2 cores (README, Benchmarks): the main thread, which does all
 * socket I/O, is the bottleneck, and a worker adds a structured clone each way to it; 'main' was
 * as fast or faster in every scenario, QoS 1 twice as fast. Workers can pay where session and
 * storage work outweighs that, with cores to spare; 4 is a judgement, not a measurement here.
 */
export function resolveShardHost(mode: ShardHost, cpus: number = availableParallelism()): Exclude<ShardHost, 'auto'> {
  if (mode !== 'auto') return mode;
  return cpus >= WORKER_SHARDS_MIN_CPUS ? 'workers' : 'main';
}
