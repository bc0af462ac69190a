// The HTTP settings' kinds and rules: --http (metrics, admin API, health, dashboard) and
// --http-token. options.ts lists them in its table; this file says what each accepts and the rule
// between them (checkHttpConfig): a listener reachable from other machines needs a token.
import { isLoopbackHost } from './cluster-options.js';
import { ConfigError } from './errors.js';
import { Rejection, formatListen, listenKind, type FieldKind, type ListenAddress } from './field-kinds.js';
import type { ConfigKey, ShoalConfig } from './options.js';
import { Secret } from './secret.js';

/** Loopback by default: the admin API can kick clients, so it is not exposed unless asked for. */
export const DEFAULT_HTTP = Object.freeze({ host: '127.0.0.1', port: 18083 });
/** A bearer token short enough to guess is no protection; `openssl rand -hex 32` gives 64. */
export const MIN_HTTP_TOKEN_LENGTH = 16;
const MAX_HTTP_TOKEN_LENGTH = 1024;

/** `--http off` (null) disables the HTTP listener. */
export const httpListenKind: FieldKind<ListenAddress | null> = {
  allowed: "host:port, [ipv6]:port, :port (port 0..65535) or 'off'",
  metavar: '<host:port|off>',
  parse(raw, text) {
    if (raw === 'off' || raw === null) return null;
    return listenKind.parse(raw, text);
  },
  format: (addr) => (addr === null ? 'off' : formatListen(addr)),
};

export const httpTokenKind: FieldKind<Secret | null> = {
  allowed: `${MIN_HTTP_TOKEN_LENGTH}..${MAX_HTTP_TOKEN_LENGTH} printable ASCII characters without spaces (e.g. from openssl rand -hex 32)`,
  metavar: '<token>',
  sensitive: true,
  parse(raw) {
    if (typeof raw !== 'string') throw new Rejection('not a string');
    if (raw.length < MIN_HTTP_TOKEN_LENGTH || raw.length > MAX_HTTP_TOKEN_LENGTH) throw new Rejection(`${raw.length} characters`);
    // It travels in an Authorization header: only characters a header carries as they are.
    if (!/^[\x21-\x7e]+$/.test(raw)) throw new Rejection('characters outside printable ASCII, or spaces');
    return new Secret(raw);
  },
  format: (token) => (token === null ? 'none' : token.toString()),
};

/** Rules between the HTTP settings, on the merged config. */
export function checkHttpConfig(config: ShoalConfig, sourceOf: (key: ConfigKey) => string): void {
  const http = config.http;
  if (http === null || config.httpToken !== null || isLoopbackHost(http.host)) return;
  // The admin API lists clients and kicks them: anyone who can reach the port could.
  throw new ConfigError(
    `httpToken is required: --http ${formatListen(http)} (from ${sourceOf('http')}) is not a loopback address; ` +
      `set --http-token or SHOAL_HTTP_TOKEN (e.g. openssl rand -hex 32) and send it as "Authorization: Bearer <token>", ` +
      `bind --http to 127.0.0.1, or turn it off with --http off`,
    { code: 'CONFIG_HTTP_TOKEN_REQUIRED', field: 'httpToken', source: sourceOf('httpToken'), allowed: httpTokenKind.allowed },
  );
}
