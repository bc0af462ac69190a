// What the line-oriented auth files (--scram-users, --password-file, --acl-file) share: the error
// that names a bad line, the rules for a user name in them, and the loop that reads one entry per
// line and refuses a user named twice.

/** A line of an auth file that cannot be read; `line` counts from 1. Subclasses name the file kind. */
export class FileLineError extends Error {
  override readonly name: string = 'FileLineError';
  constructor(
    readonly line: number,
    readonly detail: string,
  ) {
    super(`line ${line}: ${detail}`);
  }
}

/** Why `name` cannot be a user of a users file, or null when it can. */
export function userNameProblem(name: string): string | null {
  if (name === '') return 'the user name is empty';
  if (name.startsWith('#')) return 'a user name may not start with "#" (comment lines do)';
  if (name.trim() !== name) return 'a user name may not start or end with white space';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'a user name may not contain control characters';
  if (Buffer.byteLength(name) > 65535) return 'a user name is at most 65535 bytes (an MQTT string)';
  return null;
}

/**
 * The users of a file's text, one per line that `isEntry` accepts, read by `parseLine` (given the
 * line without its CR and its number). Throws what parseLine throws, or `fail(n, detail)` for a
 * user named twice.
 */
export function parseUserLines<T>(
  text: string,
  isEntry: (line: string) => boolean,
  parseLine: (line: string, n: number) => { username: string; value: T },
  fail: (n: number, detail: string) => FileLineError,
): Map<string, T> {
  const users = new Map<string, T>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (!isEntry(line)) continue;
    const { username, value } = parseLine(line, i + 1);
    if (users.has(username)) throw fail(i + 1, `user ${JSON.stringify(username)} appears twice`);
    users.set(username, value);
  }
  return users;
}
