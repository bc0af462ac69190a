// The client transports beside plain TCP: --tls, --ws, --wss and the TLS settings they share
// (--tls-cert, --tls-key, --tls-ca, --tls-require-client-cert, --tls-cn-as-username). options.ts
// lists them in its table; this file says what each accepts and the rules between them
// (checkTransportConfig). The files are only checked to exist here; src/transport/tls-credentials.ts
// reads and parses them at startup and on SIGHUP.
import { ConfigError } from './errors.js';
import { HOSTNAME, Rejection, formatListen, parseListen, type FieldKind, type ListenAddress } from './field-kinds.js';
import type { ConfigKey, ShoalConfig } from './options.js';

/** The IANA port of MQTT over TLS. */
export const DEFAULT_TLS_PORT = 8883;
/** No IANA port exists for MQTT over WebSocket; these are EMQX's, which most clients' examples use. */
export const DEFAULT_WS_PORT = 8083;
export const DEFAULT_WSS_PORT = 8084;

const ALL_INTERFACES = '0.0.0.0';

/**
 * An optional listener: off by default; `host:port`, `[v6]:port`, `:port`, or a host alone (then
 * `defaultPort`); the flag alone (or JSON `true`) binds all interfaces on `defaultPort`; `off`
 * (or JSON `null`/`false`) turns it off again, e.g. from an env var over a config file.
 */
export function optionalListenKind(defaultPort: number): FieldKind<ListenAddress | null> {
  const everywhere = Object.freeze({ host: ALL_INTERFACES, port: defaultPort });
  return {
    allowed: `host:port, [ipv6]:port, :port, or a host alone (port ${defaultPort}); off to disable`,
    metavar: '<host:port>',
    implied: everywhere,
    parse(raw) {
      if (raw === null || raw === false || raw === 'off') return null;
      if (raw === true) return everywhere;
      if (typeof raw === 'object' && !Array.isArray(raw)) {
        const { host, port, ...rest } = raw as Record<string, unknown>;
        if (Object.keys(rest).length > 0) throw new Rejection(`unknown keys ${Object.keys(rest).join(', ')}`);
        if (typeof host !== 'string' || typeof port !== 'number' || !Number.isInteger(port)) throw new Rejection();
        return parseListen(formatListen({ host, port }));
      }
      if (typeof raw !== 'string' || raw === '') throw new Rejection();
      const v6 = /^\[([^\]]*)\]$/.exec(raw);
      if (v6) return parseListen(`[${v6[1]}]:${defaultPort}`);
      if (!raw.includes(':') && HOSTNAME.test(raw)) return Object.freeze({ host: raw, port: defaultPort });
      return parseListen(raw);
    },
    format: (addr) => (addr === null ? 'off' : formatListen(addr)),
  };
}

const TRUE_WORDS = ['true', 'on', 'yes', '1'];
const FALSE_WORDS = ['false', 'off', 'no', '0'];

/** A switch: the flag alone turns it on; text true/false, on/off, yes/no, 1/0; JSON booleans. */
export const switchKind: FieldKind<boolean> = {
  allowed: 'true or false (also on/off, yes/no, 1/0); the flag alone means true',
  metavar: '[true|false]',
  implied: true,
  parse(raw, text) {
    if (typeof raw === 'boolean') return raw;
    if (text && typeof raw === 'string') {
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.includes(word)) return true;
      if (FALSE_WORDS.includes(word)) return false;
    }
    throw new Rejection();
  },
  format: String,
};

/** The TLS listener settings of ShoalConfig, as read from it by the transport layer. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string | null;
  readonly requireClientCert: boolean;
  readonly cnAsUsername: boolean;
}

/** The TLS settings when a TLS listener (--tls or --wss) is on, else null. */
export function tlsFilesOf(config: ShoalConfig): TlsFiles | null {
  if ((config.tls === null && config.wss === null) || config.tlsCert === null || config.tlsKey === null) return null;
  return {
    cert: config.tlsCert,
    key: config.tlsKey,
    ca: config.tlsCa,
    requireClientCert: config.tlsRequireClientCert,
    cnAsUsername: config.tlsCnAsUsername,
  };
}

const FLAG_OF = {
  tls: '--tls',
  wss: '--wss',
  tlsCert: '--tls-cert',
  tlsKey: '--tls-key',
  tlsCa: '--tls-ca',
  tlsRequireClientCert: '--tls-require-client-cert',
  tlsCnAsUsername: '--tls-cn-as-username',
} as const satisfies Partial<Record<ConfigKey, string>>;

type TlsSettingKey = 'tlsCert' | 'tlsKey' | 'tlsCa' | 'tlsRequireClientCert' | 'tlsCnAsUsername';

function refuse(field: ConfigKey, source: string, message: string, allowed: string): never {
  throw new ConfigError(message, { code: 'CONFIG_INVALID_VALUE', field, source, allowed });
}

/** Rules between the transport settings, on the merged config. */
export function checkTransportConfig(config: ShoalConfig, sourceOf: (key: ConfigKey) => string): void {
  const tlsListeners = (['tls', 'wss'] as const).filter((key) => config[key] !== null);
  const given = (key: ConfigKey): string => `${FLAG_OF[key as keyof typeof FLAG_OF]} (from ${sourceOf(key)})`;
  if (tlsListeners.length > 0) {
    const missing = (['tlsCert', 'tlsKey'] as const).filter((key) => config[key] === null);
    if (missing.length > 0) {
      refuse(
        missing[0]!,
        sourceOf(tlsListeners[0]!),
        `${missing.map((key) => FLAG_OF[key]).join(' and ')} missing: ${tlsListeners.map(given).join(' and ')} ` +
          `serves TLS and needs the server certificate and its private key (PEM files; see docs/operations/tls-websocket.md)`,
        'the paths of a PEM certificate and its PEM private key',
      );
    }
  } else {
    // A TLS file or switch with no TLS listener does nothing: most likely --tls was forgotten.
    const stray = (['tlsCert', 'tlsKey', 'tlsCa', 'tlsRequireClientCert', 'tlsCnAsUsername'] as const satisfies readonly TlsSettingKey[]).filter(
      (key) => config[key] !== null && config[key] !== false,
    );
    if (stray.length > 0) {
      refuse(
        stray[0]!,
        sourceOf(stray[0]!),
        `${stray.map(given).join(' and ')} set, but no TLS listener is on: add --tls (MQTT over TLS) or --wss (MQTT over secure WebSocket), or remove ${stray.map((key) => FLAG_OF[key]).join(' and ')}`,
        'only with --tls or --wss',
      );
    }
    return;
  }
  if (config.tlsRequireClientCert && config.tlsCa === null) {
    refuse(
      'tlsCa',
      sourceOf('tlsRequireClientCert'),
      `tlsCa missing: ${given('tlsRequireClientCert')} needs --tls-ca, the PEM CA bundle that client certificates must chain to`,
      'the path of a PEM CA bundle',
    );
  }
  if (config.tlsCnAsUsername && !config.tlsRequireClientCert) {
    refuse(
      'tlsRequireClientCert',
      sourceOf('tlsCnAsUsername'),
      `${given('tlsCnAsUsername')} needs --tls-require-client-cert: a username may only come from a certificate the handshake verified`,
      'true together with --tls-cn-as-username',
    );
  }
}
