// `shoal scram-user <file> <user> [--iterations <n>]`: adds a user to a `--scram-users` file, or
// changes the user's password. The password comes from stdin, never from argv (which any local
// user can read in the process list): typed at a hidden prompt, twice, on a terminal; else the
// first line of stdin (`printf '%s\n' "$PW" | shoal scram-user ...`). The file keeps the salted
// keys only (scram-users.ts) and is written whole, to a temporary file renamed over it, mode 0600.
// A running node reads the file at startup only: restart it to apply a change.

import { randomBytes } from 'node:crypto';
import { SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS, scramCredentials } from './scram.js';
import { ScramUsersFormatError, scramUserNameProblem, upsertScramUser } from './scram-users.js';
import { newPassword, readUserFile, replaceUserFile, type CommandIo } from './user-file-io.js';

export type { CommandIo } from './user-file-io.js';

/** RFC 7677's minimum, and EMQX's default iteration count. */
export const DEFAULT_SCRAM_ITERATIONS = SCRAM_MIN_ITERATIONS;
const SALT_BYTES = 16;

export const SCRAM_USER_USAGE = 'usage: shoal scram-user <file> <user> [--iterations <n>]   (password from stdin)';

/** Runs the command; returns the exit code (0 done, 1 the file could not be written, 2 bad usage or file). */
export async function scramUserCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const usage = (problem: string): number => {
    io.stderr.write(`shoal scram-user: ${problem}\n${SCRAM_USER_USAGE}\n`);
    return 2;
  };
  const positional: string[] = [];
  let iterations = DEFAULT_SCRAM_ITERATIONS;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const inline = a.startsWith('--iterations=') ? a.slice('--iterations='.length) : null;
    if (a === '--iterations' || inline !== null) {
      const text = inline ?? args[++i];
      if (text === undefined || !/^\d{1,8}$/.test(text) || Number(text) < SCRAM_MIN_ITERATIONS || Number(text) > SCRAM_MAX_ITERATIONS) {
        return usage(`--iterations ${JSON.stringify(text ?? '')}: allowed ${SCRAM_MIN_ITERATIONS}..${SCRAM_MAX_ITERATIONS}`);
      }
      iterations = Number(text);
    } else if (a.startsWith('--')) {
      return usage(`unknown option ${a} (the password is read from stdin, never from the command line)`);
    } else {
      positional.push(a);
    }
  }
  if (positional.length !== 2) return usage(`expected <file> and <user>, got ${positional.length} argument(s)`);
  const [file, user] = positional as [string, string];
  const problem = scramUserNameProblem(user);
  if (problem !== null) return usage(`user ${JSON.stringify(user)}: ${problem}`);

  const read = readUserFile(file, true);
  if ('problem' in read) return usage(read.problem);
  const text = read.text;
  const entered = await newPassword(user, io);
  if ('problem' in entered) return usage(entered.problem);

  const credentials = scramCredentials(entered.password, randomBytes(SALT_BYTES), iterations);
  let updated: { text: string; added: boolean };
  try {
    updated = upsertScramUser(text, user, credentials);
  } catch (err) {
    if (err instanceof ScramUsersFormatError) return usage(`${file} ${err.message}; fix that line first, nothing changed`);
    throw err;
  }
  try {
    replaceUserFile(file, updated.text);
  } catch (err) {
    io.stderr.write(`shoal scram-user: cannot write ${file}: ${(err as Error).message}\n`);
    return 1;
  }
  io.stderr.write(`shoal scram-user: ${updated.added ? 'added' : 'changed the password of'} ${JSON.stringify(user)} in ${file} (${iterations} iterations); restart nodes using it to apply\n`);
  return 0;
}
