// The authentication and authorisation settings: --password-file, --acl-file, --allow-anonymous,
// --session-owner-check and the login lockout. options.ts lists them in its table (AUTH_SPECS);
// this file says what each accepts and decides --allow-anonymous's 'auto'.
import { isLoopbackHost } from './cluster-options.js';
import { int, oneOf, str, type FieldKind } from './field-kinds.js';
import type { ShoalConfig } from './options.js';

export type AllowAnonymous = 'auto' | 'true' | 'false';
export const ALLOW_ANONYMOUS_MODES: readonly AllowAnonymous[] = ['auto', 'true', 'false'];
export type OnOff = 'on' | 'off';
export const ON_OFF: readonly OnOff[] = ['on', 'off'];

export interface AuthConfig {
  /** Mosquitto password file (src/auth/password-file.ts); '' = none. Reloaded on SIGHUP. */
  readonly passwordFile: string;
  /** Mosquitto ACL file (src/auth/acl-file.ts); '' = none (everything allowed). Reloaded on SIGHUP. */
  readonly aclFile: string;
  /** 'auto': allowed only with no password file and every listener on loopback. */
  readonly allowAnonymous: AllowAnonymous;
  /** 'on': a session is resumed only by the user name that made it. */
  readonly sessionOwnerCheck: OnOff;
  /** Wrong passwords in a row from one address before it is locked out; 0 = no lockout. */
  readonly authLockoutFailures: number;
  /** The longest lockout, in seconds (the first is 1 s, doubling per lockout). */
  readonly authLockoutMaxSec: number;
}

export const DEFAULT_AUTH_CONFIG = Object.freeze({
  passwordFile: '',
  aclFile: '',
  allowAnonymous: 'auto',
  sessionOwnerCheck: 'on',
  authLockoutFailures: 5,
  authLockoutMaxSec: 60,
} as const satisfies AuthConfig);

type AuthSpec<K extends keyof AuthConfig> = { flag: string; kind: FieldKind<AuthConfig[K]>; description: string; defaultText?: string };

const pathOrNone = (): FieldKind<string> => str(/^[^\0]*$/, "a path, or '' for none", '<path>');

export const AUTH_SPECS: { [K in keyof AuthConfig]: AuthSpec<K> } = {
  passwordFile: {
    flag: '--password-file',
    kind: pathOrNone(),
    defaultText: 'none',
    description: "Mosquitto password file ($7$ PBKDF2-SHA512 or $6$ lines, from mosquitto_passwd or 'shoal passwd'); CONNECTs with a user name must give its password. Reloaded on SIGHUP.",
  },
  aclFile: {
    flag: '--acl-file',
    kind: pathOrNone(),
    defaultText: 'none',
    description: 'Mosquitto ACL file (user / topic / pattern lines); unset, every client may publish and subscribe to everything. Reloaded on SIGHUP.',
  },
  allowAnonymous: {
    flag: '--allow-anonymous',
    kind: oneOf(ALLOW_ANONYMOUS_MODES, '<auto|true|false>'),
    description: "Whether clients may connect without authenticating. 'auto': only when no password file is set and every listener is on loopback.",
  },
  sessionOwnerCheck: {
    flag: '--session-owner-check',
    kind: oneOf(ON_OFF, '<on|off>'),
    description: "'on': a CONNECT that would resume or take over a session made under another user name is refused (0x87); 'off': Mosquitto's behaviour.",
  },
  authLockoutFailures: {
    flag: '--auth-lockout-failures',
    kind: int(0, 1000),
    description: 'Wrong passwords in a row from one address before it is locked out (1 s, doubling per lockout); 0 = never.',
  },
  authLockoutMaxSec: {
    flag: '--auth-lockout-max-sec',
    kind: int(1, 86_400, '<s>'),
    description: 'Longest lockout of an address after wrong passwords, in seconds.',
  },
};

type ListenerSettings = Pick<ShoalConfig, 'listen' | 'tls' | 'ws' | 'wss'>;

/** The MQTT listeners' hosts: TCP, and TLS, WebSocket and secure WebSocket when enabled. */
export function listenerHosts(config: ListenerSettings): string[] {
  return [config.listen, config.tls, config.ws, config.wss].flatMap((l) => (l === null ? [] : [l.host]));
}

/** --allow-anonymous resolved, and why (for the start-up line). */
export function anonymousAllowed(config: ListenerSettings & Pick<ShoalConfig, 'passwordFile' | 'allowAnonymous'>): { allowed: boolean; why: string } {
  if (config.allowAnonymous === 'true') return { allowed: true, why: '--allow-anonymous true' };
  if (config.allowAnonymous === 'false') return { allowed: false, why: '--allow-anonymous false' };
  if (config.passwordFile !== '') return { allowed: false, why: '--allow-anonymous auto with a password file' };
  const exposed = listenerHosts(config).filter((h) => !isLoopbackHost(h));
  if (exposed.length > 0) return { allowed: false, why: `--allow-anonymous auto with a listener on ${[...new Set(exposed)].join(', ')}, not loopback` };
  return { allowed: true, why: '--allow-anonymous auto, no password file and every listener on loopback' };
}
