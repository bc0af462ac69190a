// Brute-force throttling of password logins, per source address: after `failures` wrong
// passwords in a row from one address, that address is locked out for `baseLockMs`, doubling with
// each further lockout up to `maxLockMs`. While locked, a CONNECT from it is refused without
// checking its password (no PBKDF2 work, nothing learned), a right password included — otherwise
// the lockout would not slow a guesser down. A success resets the address. Pure: time is an
// argument. Memory is bounded: at most `maxAddresses` addresses are remembered, the least
// recently failing forgotten first (an attacker with more addresses than that gets no more
// guesses per address than the lockout allows while remembered).

export interface LoginThrottleSettings {
  /** Wrong passwords in a row before a lockout; 0 turns throttling off. */
  readonly failures: number;
  /** The first lockout. */
  readonly baseLockMs: number;
  /** The longest lockout (the doubling stops here). */
  readonly maxLockMs: number;
  /** A failure older than this no longer counts towards the next lockout. */
  readonly forgetMs: number;
  readonly maxAddresses: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleSettings = {
  failures: 5,
  baseLockMs: 1_000,
  maxLockMs: 60_000,
  forgetMs: 10 * 60_000,
  maxAddresses: 10_000,
};

interface AddressRecord {
  /** Failures since the last lockout (or since the record began). */
  failures: number;
  /** Lockouts so far: the next lasts baseLockMs × 2^lockouts. */
  lockouts: number;
  lockedUntil: number;
  lastFailureAt: number;
}

export type ThrottleVerdict = { locked: false } | { locked: true; retryInMs: number };

export class LoginThrottle {
  private readonly byAddress = new Map<string, AddressRecord>();

  constructor(private readonly settings: LoginThrottleSettings = DEFAULT_LOGIN_THROTTLE) {}

  /** Whether a login from `address` may be checked at `now`. */
  check(address: string, now: number): ThrottleVerdict {
    const r = this.byAddress.get(address);
    if (r === undefined || r.lockedUntil <= now) return { locked: false };
    return { locked: true, retryInMs: r.lockedUntil - now };
  }

  /** A wrong password from `address`; returns the lockout it started, in ms, or 0. */
  failed(address: string, now: number): number {
    if (this.settings.failures === 0) return 0;
    let r = this.byAddress.get(address);
    if (r !== undefined && now - r.lastFailureAt > this.settings.forgetMs) r = undefined;
    if (r === undefined) r = { failures: 0, lockouts: 0, lockedUntil: 0, lastFailureAt: now };
    // Re-inserted, so the Map's order is least recently failing first.
    this.byAddress.delete(address);
    this.byAddress.set(address, r);
    r.failures++;
    r.lastFailureAt = now;
    let lockMs = 0;
    if (r.failures >= this.settings.failures) {
      lockMs = Math.min(this.settings.maxLockMs, this.settings.baseLockMs * 2 ** Math.min(r.lockouts, 30));
      r.lockedUntil = now + lockMs;
      r.lockouts++;
      r.failures = 0;
    }
    while (this.byAddress.size > this.settings.maxAddresses) {
      this.byAddress.delete(this.byAddress.keys().next().value!);
    }
    return lockMs;
  }

  /** A right password from `address`: it starts afresh. */
  succeeded(address: string): void {
    this.byAddress.delete(address);
  }

  get size(): number {
    return this.byAddress.size;
  }
}
