// The `--scram-users` file: one SCRAM-SHA-256 user per line, never a password.
//
//   # comment lines and blank lines are ignored
//   <username>:<salt base64>:<iterations>:<StoredKey base64>:<ServerKey base64>
//
// The last four fields contain no ':', so a user name may (it is everything before them). This is
// what RFC 5802 §3 says a server keeps, the same data EMQX's SCRAM authenticator stores; a
// password file added later can carry it too. `shoal scram-user <file> <user>` writes lines.

import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import { FileLineError, parseUserLines, userNameProblem } from './user-file-format.js';
import { SCRAM_KEY_BYTES, SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS, decodeBase64, type ScramCredentials } from './scram.js';

export type ScramUsers = ReadonlyMap<string, ScramCredentials>;

/** A line of a SCRAM users file that cannot be read; `line` counts from 1. */
export class ScramUsersFormatError extends FileLineError {
  override readonly name = 'ScramUsersFormatError';
}

/** Why `name` cannot be a user of the file, or null when it can. */
export const scramUserNameProblem = userNameProblem;

function isEntry(line: string): boolean {
  const t = line.trim();
  return t !== '' && !t.startsWith('#');
}

/** The users of a file's text. Throws ScramUsersFormatError naming the first bad line. */
export function parseScramUsers(text: string): Map<string, ScramCredentials> {
  return parseUserLines(
    text,
    isEntry,
    (line, n) => {
      const { username, credentials } = parseLine(line, n);
      return { username, value: credentials };
    },
    (n, detail) => new ScramUsersFormatError(n, detail),
  );
}

function parseLine(line: string, n: number): { username: string; credentials: ScramCredentials } {
  const fields = line.split(':');
  if (fields.length < 5) {
    throw new ScramUsersFormatError(n, `expected username:salt:iterations:storedKey:serverKey (base64 and an integer), got ${fields.length} field(s)`);
  }
  const [saltText, iterationsText, storedText, serverText] = fields.slice(-4) as [string, string, string, string];
  const username = fields.slice(0, -4).join(':');
  const problem = scramUserNameProblem(username);
  if (problem !== null) throw new ScramUsersFormatError(n, problem);
  const salt = decodeBase64(saltText);
  if (salt === null || salt.length === 0) throw new ScramUsersFormatError(n, 'the salt is not non-empty base64');
  if (!/^\d{1,8}$/.test(iterationsText) || Number(iterationsText) < SCRAM_MIN_ITERATIONS || Number(iterationsText) > SCRAM_MAX_ITERATIONS) {
    throw new ScramUsersFormatError(n, `iterations ${JSON.stringify(iterationsText)}: allowed ${SCRAM_MIN_ITERATIONS}..${SCRAM_MAX_ITERATIONS} (RFC 7677: at least 4096)`);
  }
  const storedKey = decodeBase64(storedText);
  const serverKey = decodeBase64(serverText);
  if (storedKey === null || storedKey.length !== SCRAM_KEY_BYTES) throw new ScramUsersFormatError(n, `StoredKey is not ${SCRAM_KEY_BYTES} bytes of base64`);
  if (serverKey === null || serverKey.length !== SCRAM_KEY_BYTES) throw new ScramUsersFormatError(n, `ServerKey is not ${SCRAM_KEY_BYTES} bytes of base64`);
  return { username, credentials: { salt, iterations: Number(iterationsText), storedKey, serverKey } };
}

export function formatScramUser(username: string, c: ScramCredentials): string {
  return [username, c.salt.toString('base64'), String(c.iterations), c.storedKey.toString('base64'), c.serverKey.toString('base64')].join(':');
}

/**
 * `text` with `username`'s line replaced by one for `credentials`, or the line appended; other
 * lines (comments included) stay as they were. Throws ScramUsersFormatError if `text` is broken.
 */
export function upsertScramUser(text: string, username: string, credentials: ScramCredentials): { text: string; added: boolean } {
  parseScramUsers(text); // refuse to edit a file that would not load
  const entry = formatScramUser(username, credentials);
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const at = lines.findIndex((l) => isEntry(l) && parseLine(l.replace(/\r$/, ''), 0).username === username);
  if (at >= 0) lines[at] = entry;
  else lines.push(entry);
  return { text: `${lines.join('\n')}\n`, added: at < 0 };
}

/**
 * Reads and checks the file named by the scramUsers setting (from `source`). A missing,
 * unreadable or malformed file is a configuration error: the message names the file and line.
 */
export function loadScramUsers(path: string, source: string): ScramUsers {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`cannot read the SCRAM users file ${path} (scramUsers from ${source}): ${code}; create it with \`shoal scram-user ${path} <user>\``, {
      code: 'CONFIG_FILE_UNREADABLE',
      field: 'scramUsers',
      source,
      value: path,
      cause: err,
    });
  }
  try {
    return parseScramUsers(text);
  } catch (err) {
    if (!(err instanceof ScramUsersFormatError)) throw err;
    throw new ConfigError(`SCRAM users file ${path} (scramUsers from ${source}), line ${err.line}: ${err.detail}`, {
      code: 'CONFIG_FILE_INVALID',
      field: 'scramUsers',
      source,
      value: path,
      allowed: 'lines of username:salt:iterations:storedKey:serverKey, as `shoal scram-user` writes them',
      cause: err,
    });
  }
}
