// SCRAM-SHA-256 (RFC 5802, RFC 7677), the server's side of one exchange: pure (no I/O, no clock,
// no randomness: the server nonce and the fake-salt key are given), so RFC 7677's test vector
// drives it directly. The MQTT flow (src/auth/scram-method.ts) carries the four messages as
// Authentication Data: client-first in CONNECT (or AUTH 0x19), server-first in AUTH 0x18,
// client-final in AUTH 0x18, server-final in CONNACK (or AUTH 0x00), as EMQX does.
//
// Not offered: channel binding (SCRAM-SHA-256-PLUS; a client that requires it is refused) and
// authorization identities other than the user itself. SASLprep (RFC 4013) of the password is
// approximated by Unicode NFKC, which leaves ASCII passwords unchanged; user names are compared
// exactly as sent (after SCRAM's =2C/=3D unescaping).

import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
/** RFC 7677 §4: the iteration count SHOULD be at least 4096. */
export const SCRAM_MIN_ITERATIONS = 4096;
/** Far above any sane setting; bounds what a users file can make a client compute. */
export const SCRAM_MAX_ITERATIONS = 10_000_000;
/** SHA-256 output: StoredKey, ServerKey and ClientProof are this long. */
export const SCRAM_KEY_BYTES = 32;

/** What the server keeps of a user (RFC 5802 §3): enough to verify, never the password. */
export interface ScramCredentials {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

export function hmacSha256(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** Hi(Normalize(password), salt, i) of RFC 5802 §2.2: PBKDF2 with HMAC-SHA-256. */
export function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, SCRAM_KEY_BYTES, 'sha256');
}

export function scramCredentials(password: string, salt: Buffer, iterations: number): ScramCredentials {
  const salted = saltedPassword(password, salt, iterations);
  return {
    salt,
    iterations,
    storedKey: sha256(hmacSha256(salted, 'Client Key')),
    serverKey: hmacSha256(salted, 'Server Key'),
  };
}

export function xorBuffers(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** `saslname` of RFC 5802 §7: ',' and '=' travel as =2C and =3D; any other '=' is malformed. */
export function decodeSaslName(text: string): string | null {
  if (/=(?!2C|3D)/.test(text)) return null;
  return text.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

export function encodeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (Buffer.from accepts anything); null when `text` is not canonical base64. */
export function decodeBase64(text: string): Buffer | null {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : null;
}

/** printable = %x21-2B / %x2D-7E (RFC 5802 §7): what a nonce may contain. */
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

export function isValidNonce(nonce: string): boolean {
  return NONCE.test(nonce);
}

/**
 * Why an exchange failed. 'credentials': unknown user or wrong proof (told apart only in the
 * detail, for the server's log); 'malformed': a message that is not SCRAM; 'unsupported': a SCRAM
 * feature we do not offer (channel binding, mandatory extensions, another authorization id).
 */
export type ScramFailureKind = 'credentials' | 'malformed' | 'unsupported';

export type ScramFailure = { kind: 'failure'; failure: ScramFailureKind; detail: string };

export type ScramResult =
  | { kind: 'continue'; message: string }
  | { kind: 'success'; message: string; username: string }
  | ScramFailure;

export interface ScramServerOptions {
  /** The user's credentials, or undefined for an unknown user. */
  lookup(username: string): ScramCredentials | undefined;
  /** This exchange's half of the nonce: printable, no ','. */
  serverNonce: string;
  /**
   * Secret behind the fake salt of an unknown user: the exchange runs to the end as for a known
   * one, with a stable salt per name, so the server-first message does not tell who exists
   * (RFC 5802 §9, user enumeration).
   */
  fakeSaltKey: Buffer;
}

interface ClientFirst {
  gs2Header: string;
  bare: string;
  username: string;
  clientNonce: string;
}

/** One server side of a SCRAM-SHA-256 exchange: step() takes each client message in turn. */
export class ScramServer {
  private stage: 'first' | 'final' | 'done' = 'first';
  private first: ClientFirst | null = null;
  private serverFirst = '';
  private credentials: ScramCredentials | null = null;
  private known = false;

  constructor(private readonly opts: ScramServerOptions) {
    if (!isValidNonce(opts.serverNonce)) throw new RangeError('SCRAM server nonce must be printable ASCII without ","');
  }

  step(message: string): ScramResult {
    switch (this.stage) {
      case 'first':
        return this.clientFirst(message);
      case 'final':
        return this.clientFinal(message);
      default:
        return failure('malformed', 'a SCRAM message after the exchange ended');
    }
  }

  private clientFirst(message: string): ScramResult {
    this.stage = 'done'; // any failure ends the exchange
    const parsed = parseClientFirst(message);
    if ('failure' in parsed) return parsed;
    let credentials = this.opts.lookup(parsed.username);
    this.known = credentials !== undefined;
    credentials ??= fakeCredentials(this.opts.fakeSaltKey, parsed.username);
    this.first = parsed;
    this.credentials = credentials;
    this.serverFirst = `r=${parsed.clientNonce}${this.opts.serverNonce},s=${credentials.salt.toString('base64')},i=${credentials.iterations}`;
    this.stage = 'final';
    return { kind: 'continue', message: this.serverFirst };
  }

  private clientFinal(message: string): ScramResult {
    this.stage = 'done';
    const first = this.first!;
    const credentials = this.credentials!;
    const proofAt = message.lastIndexOf(',p=');
    if (proofAt < 0) return failure('malformed', 'client-final-message has no proof');
    const withoutProof = message.slice(0, proofAt);
    const proof = decodeBase64(message.slice(proofAt + 3));
    const attrs = withoutProof.split(',');
    const binding = attrs[0]?.startsWith('c=') ? decodeBase64(attrs[0].slice(2)) : null;
    if (binding === null) return failure('malformed', 'client-final-message does not start with a channel binding (c=)');
    // Without channel binding, c= is exactly the gs2 header of client-first (RFC 5802 §7).
    if (!binding.equals(Buffer.from(first.gs2Header, 'utf8'))) return failure('malformed', 'channel binding does not repeat the gs2 header');
    const nonce = attrs[1]?.startsWith('r=') ? attrs[1].slice(2) : null;
    if (nonce !== `${first.clientNonce}${this.opts.serverNonce}`) return failure('malformed', 'nonce does not match this exchange');
    if (proof === null || proof.length !== SCRAM_KEY_BYTES) return failure('malformed', `proof is not ${SCRAM_KEY_BYTES} bytes of base64`);

    const authMessage = `${first.bare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmacSha256(credentials.storedKey, authMessage);
    const clientKey = xorBuffers(proof, clientSignature);
    // Constant time, and computed for unknown users too, so neither timing nor the answer tells
    // a wrong password from a missing user.
    const proofOk = timingSafeEqual(sha256(clientKey), credentials.storedKey);
    if (!proofOk || !this.known) {
      return failure('credentials', this.known ? `wrong proof for user ${JSON.stringify(first.username)}` : `unknown user ${JSON.stringify(first.username)}`);
    }
    const serverSignature = hmacSha256(credentials.serverKey, authMessage);
    return { kind: 'success', message: `v=${serverSignature.toString('base64')}`, username: first.username };
  }
}

function failure(kind: ScramFailureKind, detail: string): ScramFailure {
  return { kind: 'failure', failure: kind, detail };
}

/** client-first-message = gs2-header client-first-message-bare (RFC 5802 §7). */
function parseClientFirst(message: string): ClientFirst | ScramFailure {
  const flagEnd = message.indexOf(',');
  const authzEnd = flagEnd < 0 ? -1 : message.indexOf(',', flagEnd + 1);
  if (authzEnd < 0) return failure('malformed', 'client-first-message has no gs2 header');
  const flag = message.slice(0, flagEnd);
  if (flag.startsWith('p=')) return failure('unsupported', 'the client requires channel binding, which is not offered');
  // 'y': the client could bind but believes we cannot; we advertise no -PLUS method, so that is right.
  if (flag !== 'n' && flag !== 'y') return failure('malformed', `unknown gs2 channel binding flag ${JSON.stringify(flag)}`);
  const authz = message.slice(flagEnd + 1, authzEnd);
  const gs2Header = message.slice(0, authzEnd + 1);
  const bare = message.slice(authzEnd + 1);
  const attrs = bare.split(',');
  if (attrs[0]?.startsWith('m=')) return failure('unsupported', 'mandatory SCRAM extension');
  const username = attrs[0]?.startsWith('n=') ? decodeSaslName(attrs[0].slice(2)) : null;
  if (username === null || username === '') return failure('malformed', 'client-first-message has no user name (n=)');
  const clientNonce = attrs[1]?.startsWith('r=') ? attrs[1].slice(2) : '';
  if (!isValidNonce(clientNonce)) return failure('malformed', 'client-first-message has no valid nonce (r=)');
  if (authz !== '') {
    const id = authz.startsWith('a=') ? decodeSaslName(authz.slice(2)) : null;
    if (id === null) return failure('malformed', 'malformed authorization identity');
    if (id !== username) return failure('unsupported', 'an authorization identity other than the user');
  }
  return { gs2Header, bare, username, clientNonce };
}

/** Stable per name (same salt on every try), never matching any proof: nobody knows the keys. */
function fakeCredentials(key: Buffer, username: string): ScramCredentials {
  return {
    salt: hmacSha256(key, `salt:${username}`).subarray(0, 16),
    iterations: SCRAM_MIN_ITERATIONS,
    storedKey: hmacSha256(key, `stored:${username}`),
    serverKey: hmacSha256(key, `server:${username}`),
  };
}
