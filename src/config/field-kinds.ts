// Field kinds: how one config value is validated, coerced from text (flags, env vars) and shown.
// options.ts builds its table of settings from these; a kind throws Rejection, which options.ts
// turns into a ConfigError naming the field and where the value came from.
import { isIPv6 } from 'node:net';

export interface ListenAddress {
  readonly host: string;
  /** 0 asks the OS for a free port; the bound port is logged with the "listening" line. */
  readonly port: number;
}

/** What `:port` binds. */
const ALL_IPV4_INTERFACES = '0.0.0.0';

/** Thrown by a kind's parser; turned into a ConfigError that names field and source. */
export class Rejection {
  constructor(readonly reason?: string) {}
}

export interface FieldKind<T> {
  /** What is accepted, for error messages and --help. */
  readonly allowed: string;
  /** Placeholder shown in --help after the flag. */
  readonly metavar: string;
  /** `text` is true for flags and env vars, whose values arrive as strings. */
  parse(raw: unknown, text: boolean): T;
  format(value: T): string;
  /** A secret: a rejected value is not quoted back in the error message. */
  readonly sensitive?: boolean;
  /** The value of the flag given alone, without one (`--tls`, `--tls-require-client-cert`). */
  readonly implied?: T;
}

export function int(min: number, max: number, metavar = '<n>'): FieldKind<number> {
  const allowed = max === Number.MAX_SAFE_INTEGER ? `integer >= ${min}` : `integer ${min}..${max}`;
  return {
    allowed,
    metavar,
    parse(raw, text) {
      // Strict: '1.5', '1e3', '0x10' and '' are rejected rather than guessed at.
      const value = text && typeof raw === 'string' && /^\s*[+-]?\d+\s*$/.test(raw) ? Number(raw) : raw;
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Rejection('not an integer');
      if (value < min || value > max) throw new Rejection('out of range');
      return value === 0 ? 0 : value; // '-0' from text
    },
    format: String,
  };
}

export function oneOf<T extends string>(values: readonly T[], metavar: string): FieldKind<T> {
  return {
    allowed: `one of ${values.join(', ')}`,
    metavar,
    parse(raw) {
      if (typeof raw !== 'string' || !(values as readonly string[]).includes(raw)) throw new Rejection();
      return raw as T;
    },
    format: String,
  };
}

export function str(pattern: RegExp, allowed: string, metavar: string): FieldKind<string> {
  return {
    allowed,
    metavar,
    parse(raw) {
      if (typeof raw !== 'string' || !pattern.test(raw)) throw new Rejection();
      return raw;
    },
    format: String,
  };
}

export const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/** Parses `host:port`, `[v6]:port` or `:port` (all interfaces). */
export function parseListen(text: string): ListenAddress {
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
    if (!isIPv6(host)) throw new Rejection(`"${host}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new Rejection('missing ":port"');
    host = text.slice(0, colon) || ALL_IPV4_INTERFACES;
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw new Rejection('IPv6 addresses need brackets, e.g. [::1]:1883');
    if (!HOSTNAME.test(host)) throw new Rejection(`"${host}" is not a host name or IPv4 address`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new Rejection('port must be 0..65535');
  return Object.freeze({ host, port: Number(portText) });
}

export function formatListen(addr: ListenAddress): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

export const listenKind: FieldKind<ListenAddress> = {
  allowed: 'host:port, [ipv6]:port or :port; port 0..65535',
  metavar: '<host:port>',
  parse(raw) {
    if (typeof raw === 'string') return parseListen(raw);
    if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      const { host, port, ...rest } = raw as Record<string, unknown>;
      if (Object.keys(rest).length > 0) throw new Rejection(`unknown keys ${Object.keys(rest).join(', ')}`);
      if (typeof host !== 'string' || typeof port !== 'number' || !Number.isInteger(port)) throw new Rejection();
      return parseListen(formatListen({ host, port }));
    }
    throw new Rejection();
  },
  format: formatListen,
};
