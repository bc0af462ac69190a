// The graceful-leave settings: --drain-timeout and --advertise-mqtt. options.ts spreads these
// into its table (DRAIN_SPECS) and defaults (DRAIN_DEFAULTS); this file says what each accepts.
import { isIP } from 'node:net';
import { HOSTNAME, Rejection, formatListen, int, parseListen, type FieldKind } from './field-kinds.js';

export interface DrainConfig {
  /** How long a graceful leave (SIGTERM or `shoal drain` on a cluster node) may take before its
   * remaining steps are cut short; then storage is closed as on any shutdown. */
  readonly drainTimeoutMs: number;
  /** "host:port" MQTT clients should use for this node, gossiped to the others so a draining node
   * can refer its v5 clients here (Server Reference); null: the --listen host (for a wildcard,
   * the --advertise host) and the bound MQTT port. */
  readonly advertiseMqtt: string | null;
}

/** Long enough to move thousands of sessions at the takeover's per-step deadline (5 s) and to
 * wait out the forward acknowledgement timeout (10 s); short next to a rolling update's patience. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export const DRAIN_DEFAULTS = Object.freeze({ drainTimeoutMs: DEFAULT_DRAIN_TIMEOUT_MS, advertiseMqtt: null });

const isWildcard = (host: string): boolean => host === '0.0.0.0' || host === '::';

export const mqttAddressKind: FieldKind<string | null> = {
  allowed: 'host:port or [ipv6]:port, port 1..65535, no wildcard host',
  metavar: '<host:port>',
  parse(raw) {
    if (typeof raw !== 'string') throw new Rejection('not a string');
    const addr = parseListen(raw.trim());
    if (addr.port === 0) throw new Rejection('port must be 1..65535');
    if (isWildcard(addr.host) || raw.trim().startsWith(':')) throw new Rejection('clients cannot connect to a wildcard address');
    if (isIP(addr.host) === 0 && !HOSTNAME.test(addr.host)) throw new Rejection();
    return formatListen(addr);
  },
  format: (address) => address ?? 'none',
};

/** The option rows, in the shape options.ts's table takes (flag, kind, description, default text). */
export const DRAIN_SPECS = {
  drainTimeoutMs: {
    flag: '--drain-timeout',
    kind: int(1_000, 3_600_000, '<ms>'),
    description:
      'Milliseconds a graceful leave of a cluster node (SIGTERM, `shoal drain`) may take: moving persistent sessions to live peers, redirecting clients, waiting for forwarded messages to be acknowledged. Steps still running then are cut short (logged) and the node stops.',
  },
  advertiseMqtt: {
    flag: '--advertise-mqtt',
    kind: mqttAddressKind,
    defaultText: 'the --listen host (for 0.0.0.0 or ::, the --advertise host) and the bound MQTT port',
    description:
      'MQTT address clients should use for this node, gossiped to the other nodes: a draining node refers its MQTT 5 clients to a live node with it (DISCONNECT 0x9C Use Another Server, Server Reference).',
  },
} as const;

/** The address gossiped for this node: --advertise-mqtt, else derived from where MQTT listens. */
export function mqttAdvertiseAddress(config: { advertiseMqtt: string | null; advertise: string; listen: { host: string } }, boundPort: number): string {
  if (config.advertiseMqtt !== null) return config.advertiseMqtt;
  const host = isWildcard(config.listen.host) ? config.advertise : config.listen.host;
  return formatListen({ host, port: boundPort });
}
