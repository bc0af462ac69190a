// Who may connect, and what they may do: the node's password file, ACL, anonymous policy, session
// owner check and login throttle, in one object the node asks. The files are read at start-up
// (a bad one is a ConfigError: the node does not start) and again on reload() (SIGHUP), where a
// bad file keeps the rules in force and says why; connections stay up either way, and the new
// ACL applies to the next packet and delivery of every client.
//
// Login policy:
// - A CONNECT authenticated by an enhanced method (SCRAM) is that method's user; its Password is
//   not looked at (src/transport/auth-flow.ts). Likewise a TLS client certificate's CN with
//   --tls-cn-as-username: the certificate is the proof.
// - With a password file, a CONNECT with a User Name must carry that user's password; an unknown
//   user costs the same hash as a known one, so the answer time does not tell them apart.
// - Without a User Name the client is anonymous: allowed only if anonymous access is.
// - Without a password file, a User Name is taken as given (Mosquitto's behaviour) when anonymous
//   access is allowed, and refused like an anonymous client when it is not: nothing proves it.
// - Password checks run on libuv's thread pool, at most VERIFY_CONCURRENCY at once (SQLite shares
//   that pool); past VERIFY_QUEUE waiting, a login is refused as Server busy rather than queued.

import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { anonymousAllowed } from '../config/auth-options.js';
import { ConfigError } from '../config/errors.js';
import type { ShoalConfig } from '../config/options.js';
import { parseAclFile } from './acl-file.js';
import { FileLineError } from './user-file-format.js';
import { LoginThrottle, DEFAULT_LOGIN_THROTTLE } from './login-throttle.js';
import { PW_DEFAULT_ITERATIONS, PW_HASH_BYTES, PW_SALT_BYTES, parsePasswordFile, verifyPassword, type PasswordHash, type PasswordUsers } from './password-file.js';
import { TopicAcl } from './topic-acl.js';

/** Password checks running at once: half of libuv's default pool of 4, the rest stays SQLite's. */
export const VERIFY_CONCURRENCY = 2;
/** Logins waiting for a check beyond which new ones are refused (0x89) instead of queued. */
export const VERIFY_QUEUE = 1024;

export interface LoginRequest {
  username: string | undefined;
  password: Buffer | undefined;
  /** Set when something else authenticated the CONNECT: an enhanced method, a client certificate. */
  authenticatedAs: string | undefined;
  /** The client's address (`host:port`, `[v6]:port`); its host is the unit of throttling. */
  address: string;
}

export type LoginRefusal = 'credentials' | 'anonymous' | 'locked' | 'busy';

export type LoginResult = { ok: true; username: string | null } | { ok: false; why: LoginRefusal; detail: string };

/** The answer for most CONNECTs of a node without a password file: one object, not one per CONNECT. */
const ANONYMOUS_OK: LoginResult = Object.freeze({ ok: true, username: null });

export interface ReloadOutcome {
  file: 'passwordFile' | 'aclFile';
  path: string;
  /** null: loaded; else why the old contents stay in force. */
  error: string | null;
  /** Users or rule count loaded. */
  entries: number;
}

type AuthSettings = Pick<ShoalConfig, 'listen' | 'tls' | 'ws' | 'wss' | 'passwordFile' | 'aclFile' | 'allowAnonymous' | 'sessionOwnerCheck' | 'authLockoutFailures' | 'authLockoutMaxSec'>;

export class AccessControl {
  private users: PasswordUsers | null = null;
  /** null: no ACL file, everything allowed. */
  acl: TopicAcl | null = null;
  readonly anonymous: { allowed: boolean; why: string };
  readonly ownerCheck: boolean;
  private readonly throttle: LoginThrottle;
  /** What an unknown user's password is checked against (see the header). */
  private dummy: PasswordHash = { kind: 'pbkdf2-sha512', iterations: PW_DEFAULT_ITERATIONS, salt: randomBytes(PW_SALT_BYTES), hash: randomBytes(PW_HASH_BYTES) };
  private verifying = 0;
  private readonly waiting: (() => void)[] = [];

  /** Reads the files; throws ConfigError naming the file (and line) when one is missing or bad. */
  constructor(
    private readonly settings: AuthSettings,
    sources: { passwordFile?: string; aclFile?: string } = {},
  ) {
    this.anonymous = anonymousAllowed(settings);
    this.ownerCheck = settings.sessionOwnerCheck === 'on';
    this.throttle = new LoginThrottle({ ...DEFAULT_LOGIN_THROTTLE, failures: settings.authLockoutFailures, maxLockMs: settings.authLockoutMaxSec * 1000 });
    for (const file of ['passwordFile', 'aclFile'] as const) {
      if (settings[file] === '') continue;
      const error = this.load(file);
      if (error !== null) {
        throw new ConfigError(`${file} ${settings[file]} (from ${sources[file] ?? 'config'}): ${error}`, {
          code: 'CONFIG_FILE_INVALID',
          field: file,
          source: sources[file] ?? 'config',
          value: settings[file],
          allowed: file === 'passwordFile' ? 'a Mosquitto password file (mosquitto_passwd or shoal passwd)' : 'a Mosquitto ACL file',
        });
      }
    }
  }

  /** Reads both files again (SIGHUP). A file that fails keeps its old contents in force. */
  reload(): ReloadOutcome[] {
    const out: ReloadOutcome[] = [];
    for (const file of ['passwordFile', 'aclFile'] as const) {
      const path = this.settings[file];
      if (path === '') continue;
      const error = this.load(file);
      const entries = file === 'passwordFile' ? (this.users?.size ?? 0) : countRules(this.acl);
      out.push({ file, path, error, entries });
    }
    return out;
  }

  /** Loads one file into force; returns why not (the old contents stay), or null. */
  private load(file: 'passwordFile' | 'aclFile'): string | null {
    const path = this.settings[file];
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      return `cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
    }
    try {
      if (file === 'aclFile') {
        this.acl = new TopicAcl(parseAclFile(text));
        return null;
      }
      const users = parsePasswordFile(text);
      this.users = users;
      const first = users.values().next().value;
      if (first?.kind === 'pbkdf2-sha512') this.dummy = { ...first, salt: randomBytes(PW_SALT_BYTES), hash: randomBytes(PW_HASH_BYTES) };
      return null;
    } catch (err) {
      if (err instanceof FileLineError) return err.message;
      throw err;
    }
  }

  /**
   * Decides one CONNECT: at once, unless a password must be checked (then a promise, which never
   * rejects). `now`: epoch ms (the throttle's clock).
   */
  login(req: LoginRequest, now: number): LoginResult | Promise<LoginResult> {
    if (req.authenticatedAs !== undefined) return { ok: true, username: req.authenticatedAs };
    // Only an address that failed has a record: the common CONNECT parses no address.
    const host = this.throttle.size === 0 ? null : hostOf(req.address);
    const locked = host === null ? null : this.throttle.check(host, now);
    if (locked?.locked === true) return { ok: false, why: 'locked', detail: `too many wrong passwords from ${host}; locked out for ${Math.ceil(locked.retryInMs / 1000)} s more` };
    if (req.username === undefined) {
      return this.anonymous.allowed ? ANONYMOUS_OK : { ok: false, why: 'anonymous', detail: `anonymous access is refused (${this.anonymous.why})` };
    }
    const users = this.users;
    if (users === null) {
      // No password file: a user name proves nothing (see the header).
      return this.anonymous.allowed ? { ok: true, username: req.username } : { ok: false, why: 'anonymous', detail: `no password file, and unauthenticated access is refused (${this.anonymous.why})` };
    }
    return this.verify(users.get(req.username), req.username, req, now);
  }

  private async verify(stored: PasswordHash | undefined, username: string, req: LoginRequest, now: number): Promise<LoginResult> {
    const host = hostOf(req.address);
    if (this.verifying >= VERIFY_CONCURRENCY) {
      if (this.waiting.length >= VERIFY_QUEUE) return { ok: false, why: 'busy', detail: `${VERIFY_QUEUE} logins already wait for a password check` };
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.verifying++;
    let good = false;
    try {
      good = await verifyPassword(stored ?? this.dummy, req.password ?? Buffer.alloc(0));
    } catch {
      // pbkdf2 fails only on invalid arguments, which the file parser rules out: a refusal then.
    } finally {
      this.verifying--;
      this.waiting.shift()?.();
    }
    if (good && stored !== undefined && req.password !== undefined) {
      this.throttle.succeeded(host);
      return { ok: true, username };
    }
    const lockMs = this.throttle.failed(host, now);
    const what = stored === undefined ? 'unknown user' : req.password === undefined ? 'no password' : 'wrong password';
    return { ok: false, why: 'credentials', detail: `${what} for ${JSON.stringify(username)}${lockMs > 0 ? `; ${host} locked out for ${lockMs / 1000} s` : ''}` };
  }
}

function countRules(acl: TopicAcl | null): number {
  if (acl === null) return 0;
  let n = acl.rules.anonymous.length + acl.rules.patterns.length;
  for (const rules of acl.rules.users.values()) n += rules.length;
  return n;
}

/** `1.2.3.4:5678` → `1.2.3.4`, `[::1]:5678` → `::1`: the source host of a remote address. */
export function hostOf(remoteAddress: string): string {
  if (remoteAddress.startsWith('[')) return remoteAddress.slice(1, remoteAddress.indexOf(']'));
  const colon = remoteAddress.lastIndexOf(':');
  return colon < 0 ? remoteAddress : remoteAddress.slice(0, colon);
}
