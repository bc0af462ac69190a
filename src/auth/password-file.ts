// The `--password-file`: Mosquitto's password file, read as mosquitto_passwd writes it, so users
// can bring theirs over unchanged.
//
//   # comment lines (first character '#') and lines without ':' are ignored
//   <username>:$7$<iterations>$<salt base64>$<hash base64>   PBKDF2-HMAC-SHA512 (Mosquitto >= 2.0)
//   <username>:$6$<salt base64>$<hash base64>                SHA-512(password || salt) (Mosquitto 1.x)
//
// The salt is 12 bytes and the hash 64, as Mosquitto requires; the user name is everything before
// the first ':'. Unlike Mosquitto, which drops a malformed entry with a log line and starts anyway,
// a malformed line refuses the whole file (at start-up: the node does not start; on SIGHUP: the
// previous file stays in force): a user who silently cannot log in is worse than a clear error.
// Verification runs PBKDF2 on libuv's thread pool (crypto.pbkdf2), never on the event loop.

import { createHash, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { decodeBase64 } from './scram.js';
import { FileLineError, parseUserLines, userNameProblem } from './user-file-format.js';

/** Mosquitto's sizes (mosquitto_passwd writes these; the broker drops other entries). */
export const PW_SALT_BYTES = 12;
export const PW_HASH_BYTES = 64;
/** mosquitto_passwd's default for `$7$` since 2.0. */
export const PW_DEFAULT_ITERATIONS = 101;
/** Beyond this a single login would hold a thread-pool thread for seconds: a file error. */
export const PW_MAX_ITERATIONS = 10_000_000;

export type PasswordHash =
  | { kind: 'pbkdf2-sha512'; iterations: number; salt: Buffer; hash: Buffer }
  | { kind: 'sha512'; salt: Buffer; hash: Buffer };

export type PasswordUsers = ReadonlyMap<string, PasswordHash>;

/** A line of a password file that cannot be read; `line` counts from 1. */
export class PasswordFileFormatError extends FileLineError {
  override readonly name = 'PasswordFileFormatError';
}

/** Why `name` cannot be a user of the file, or null when it can. */
export function passwordUserNameProblem(name: string): string | null {
  if (name.includes(':')) return 'a user name may not contain ":" (it ends the name in the file)';
  return userNameProblem(name);
}

/** Mosquitto skips these lines. */
function isEntry(line: string): boolean {
  return !line.startsWith('#') && line.includes(':');
}

/** The users of a file's text. Throws PasswordFileFormatError naming the first bad line. */
export function parsePasswordFile(text: string): Map<string, PasswordHash> {
  return parseUserLines(text, isEntry, parseLine, (n, detail) => new PasswordFileFormatError(n, detail));
}

function parseLine(line: string, n: number): { username: string; value: PasswordHash } {
  const colon = line.indexOf(':');
  const username = line.slice(0, colon).trim();
  const problem = passwordUserNameProblem(username);
  if (problem !== null) throw new PasswordFileFormatError(n, problem);
  const encoded = line.slice(colon + 1).trim();
  const fields = encoded.split('$');
  // `$7$...` splits into ['', '7', ...].
  if (fields[0] !== '' || (fields[1] !== '6' && fields[1] !== '7')) {
    throw new PasswordFileFormatError(n, `user ${JSON.stringify(username)}: not a $6$ or $7$ hash (a plain-text password? hash the file with 'mosquitto_passwd -U' or 'shoal passwd')`);
  }
  const pbkdf2 = fields[1] === '7';
  if (fields.length !== (pbkdf2 ? 5 : 4)) {
    throw new PasswordFileFormatError(n, `user ${JSON.stringify(username)}: expected ${pbkdf2 ? '$7$<iterations>$<salt>$<hash>' : '$6$<salt>$<hash>'}`);
  }
  const [saltText, hashText] = fields.slice(-2) as [string, string];
  const salt = decodeBase64(saltText);
  const hash = decodeBase64(hashText);
  if (salt === null || salt.length !== PW_SALT_BYTES) throw new PasswordFileFormatError(n, `user ${JSON.stringify(username)}: the salt is not ${PW_SALT_BYTES} bytes of base64`);
  if (hash === null || hash.length !== PW_HASH_BYTES) throw new PasswordFileFormatError(n, `user ${JSON.stringify(username)}: the hash is not ${PW_HASH_BYTES} bytes of base64`);
  if (!pbkdf2) return { username, value: { kind: 'sha512', salt, hash } };
  const iterationsText = fields[2]!;
  if (!/^\d{1,9}$/.test(iterationsText) || Number(iterationsText) < 1 || Number(iterationsText) > PW_MAX_ITERATIONS) {
    throw new PasswordFileFormatError(n, `user ${JSON.stringify(username)}: iterations ${JSON.stringify(iterationsText)}: allowed 1..${PW_MAX_ITERATIONS}`);
  }
  return { username, value: { kind: 'pbkdf2-sha512', iterations: Number(iterationsText), salt, hash } };
}

export function formatPasswordHash(h: PasswordHash): string {
  const salt = h.salt.toString('base64');
  const hash = h.hash.toString('base64');
  return h.kind === 'sha512' ? `$6$${salt}$${hash}` : `$7$${h.iterations}$${salt}$${hash}`;
}

/** A fresh `$7$` hash of `password`, as mosquitto_passwd makes it. */
export async function hashPassword(password: string, iterations = PW_DEFAULT_ITERATIONS): Promise<PasswordHash> {
  const salt = randomBytes(PW_SALT_BYTES);
  return { kind: 'pbkdf2-sha512', iterations, salt, hash: await pbkdf2Sha512(password, salt, iterations) };
}

function pbkdf2Sha512(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, PW_HASH_BYTES, 'sha512', (err, key) => (err === null ? resolve(key) : reject(err)));
  });
}

/** Whether `password` matches `stored`; constant time in the comparison. */
export async function verifyPassword(stored: PasswordHash, password: Buffer): Promise<boolean> {
  const computed =
    stored.kind === 'sha512'
      ? createHash('sha512').update(password).update(stored.salt).digest() // Mosquitto's pw_sha512: password, then salt
      : await new Promise<Buffer>((resolve, reject) => {
          pbkdf2(password, stored.salt, stored.iterations, PW_HASH_BYTES, 'sha512', (err, key) => (err === null ? resolve(key) : reject(err)));
        });
  return computed.length === stored.hash.length && timingSafeEqual(computed, stored.hash);
}

/**
 * `text` with `username`'s line replaced by one for `hash` (or removed, when `hash` is null), or
 * the line appended; other lines stay as they were. Throws PasswordFileFormatError if `text` is
 * broken. `found` says whether the user was in the file.
 */
export function upsertPasswordUser(text: string, username: string, hash: PasswordHash | null): { text: string; found: boolean } {
  parsePasswordFile(text); // refuse to edit a file that would not load
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const at = lines.findIndex((l) => isEntry(l) && l.slice(0, l.indexOf(':')).trim() === username);
  if (hash === null) {
    if (at >= 0) lines.splice(at, 1);
  } else {
    const entry = `${username}:${formatPasswordHash(hash)}`;
    if (at >= 0) lines[at] = entry;
    else lines.push(entry);
  }
  return { text: lines.length === 0 ? '' : `${lines.join('\n')}\n`, found: at >= 0 };
}
