// `shoal passwd [-D] <file> <user>`: adds a user to a `--password-file` (Mosquitto's format, see
// password-file.ts) or changes the user's password; `-D` deletes the user. The line written is
// what `mosquitto_passwd` writes (`$7$101$...`), so the file works with Mosquitto too. A running
// node applies the change on SIGHUP.

import { PW_DEFAULT_ITERATIONS, PasswordFileFormatError, hashPassword, passwordUserNameProblem, upsertPasswordUser } from './password-file.js';
import { newPassword, readUserFile, replaceUserFile, type CommandIo } from './user-file-io.js';

export const PASSWD_USAGE = 'usage: shoal passwd [-D] <file> <user>   (password from a prompt or stdin; -D deletes the user)';

/** Runs the command; returns the exit code (0 done, 1 the file could not be written, 2 bad usage or file). */
export async function passwdCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const usage = (problem: string): number => {
    io.stderr.write(`shoal passwd: ${problem}\n${PASSWD_USAGE}\n`);
    return 2;
  };
  const positional: string[] = [];
  let del = false;
  for (const a of args) {
    if (a === '-D') del = true;
    else if (a.startsWith('-')) return usage(`unknown option ${a} (the password is read from a prompt or stdin, never from the command line)`);
    else positional.push(a);
  }
  if (positional.length !== 2) return usage(`expected <file> and <user>, got ${positional.length} argument(s)`);
  const [file, user] = positional as [string, string];
  const problem = passwordUserNameProblem(user);
  if (problem !== null) return usage(`user ${JSON.stringify(user)}: ${problem}`);

  const read = readUserFile(file, !del);
  if ('problem' in read) return usage(read.problem);
  const text = read.text;
  let hash = null;
  if (!del) {
    const entered = await newPassword(user, io);
    if ('problem' in entered) return usage(entered.problem);
    hash = await hashPassword(entered.password, PW_DEFAULT_ITERATIONS);
  }
  let updated: { text: string; found: boolean };
  try {
    updated = upsertPasswordUser(text, user, hash);
  } catch (err) {
    if (err instanceof PasswordFileFormatError) return usage(`${file} ${err.message}; fix that line first, nothing changed`);
    throw err;
  }
  if (del && !updated.found) return usage(`user ${JSON.stringify(user)} is not in ${file}; nothing changed`);
  try {
    replaceUserFile(file, updated.text);
  } catch (err) {
    io.stderr.write(`shoal passwd: cannot write ${file}: ${(err as Error).message}\n`);
    return 1;
  }
  const did = del ? 'deleted' : updated.found ? 'changed the password of' : 'added';
  io.stderr.write(`shoal passwd: ${did} ${JSON.stringify(user)} in ${file}; send SIGHUP to running nodes to apply\n`);
  return 0;
}
