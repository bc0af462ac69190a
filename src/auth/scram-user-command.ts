// `shoal scram-user <file> <user> [--iterations <n>]`: adds a user to a `--scram-users` file, or
// changes the user's password. The password comes from stdin, never from argv (which any local
// user can read in the process list): typed at a hidden prompt, twice, on a terminal; else the
// first line of stdin (`printf '%s\n' "$PW" | shoal scram-user ...`). The file keeps the salted
// keys only (scram-users.ts) and is written whole, to a temporary file renamed over it, mode 0600.
// A running node reads the file at startup only: restart it to apply a change.

import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS, scramCredentials } from './scram.js';
import { ScramUsersFormatError, scramUserNameProblem, upsertScramUser } from './scram-users.js';

/** RFC 7677's minimum, and EMQX's default iteration count. */
export const DEFAULT_SCRAM_ITERATIONS = SCRAM_MIN_ITERATIONS;
const SALT_BYTES = 16;

export const SCRAM_USER_USAGE = 'usage: shoal scram-user <file> <user> [--iterations <n>]   (password from stdin)';

export interface CommandIo {
  stdin: NodeJS.ReadStream;
  stderr: NodeJS.WritableStream;
}

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

  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return usage(`cannot read ${file}: ${(err as Error).message}`);
  }
  const password = await readPassword(user, io);
  if (password === null) return usage('password entry interrupted; nothing changed');
  if (password === '') return usage('empty password; nothing changed');

  const credentials = scramCredentials(password, randomBytes(SALT_BYTES), iterations);
  let updated: { text: string; added: boolean };
  try {
    updated = upsertScramUser(text, user, credentials);
  } catch (err) {
    if (err instanceof ScramUsersFormatError) return usage(`${file} ${err.message}; fix that line first, nothing changed`);
    throw err;
  }
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, updated.text, { mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    io.stderr.write(`shoal scram-user: cannot write ${file}: ${(err as Error).message}\n`);
    return 1;
  }
  io.stderr.write(`shoal scram-user: ${updated.added ? 'added' : 'changed the password of'} ${JSON.stringify(user)} in ${file} (${iterations} iterations); restart nodes using it to apply\n`);
  return 0;
}

/** The password: hidden prompt (twice) on a terminal, else stdin's first line. Null if aborted. */
async function readPassword(user: string, io: CommandIo): Promise<string | null> {
  if (io.stdin.isTTY !== true) return await firstLine(io.stdin);
  const first = await promptHidden(`Password for ${user}: `, io);
  if (first === null) return null;
  const again = await promptHidden('Again: ', io);
  if (again === null) return null;
  if (first !== again) {
    io.stderr.write('the two passwords differ\n');
    return null;
  }
  return first;
}

async function firstLine(stdin: NodeJS.ReadStream): Promise<string> {
  let text = '';
  stdin.setEncoding('utf8');
  for await (const chunk of stdin) {
    text += chunk as string;
    if (text.includes('\n')) break;
  }
  return text.split('\n')[0]!.replace(/\r$/, '');
}

function promptHidden(prompt: string, io: CommandIo): Promise<string | null> {
  const { stdin, stderr } = io;
  return new Promise((resolve) => {
    stderr.write(prompt);
    let value = '';
    const finish = (result: string | null): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      resolve(result);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish(value);
        if (ch === '\u0003') return finish(null); // Ctrl-C
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else value += ch;
      }
    };
    stdin.setEncoding('utf8');
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
  });
}
