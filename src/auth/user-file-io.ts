// The I/O of the `shoal` commands that edit a users file (scram-user, passwd). The password never
// comes from argv, which any local user can read in the process list: on a terminal it is typed at
// a hidden prompt, twice; else it is the first line of stdin (`printf '%s\n' "$PW" | shoal passwd
// ...`). The file is written whole, to a temporary file renamed over it, mode 0600: a node reading
// it (at start-up or SIGHUP) sees the old file or the new one, never half of one.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface CommandIo {
  stdin: NodeJS.ReadStream;
  stderr: NodeJS.WritableStream;
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

/** Replaces `file` with `text` atomically (rename), mode 0600. Throws the fs error. */
export function replaceUserFile(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/** The file's text ('' when it does not exist and `mayBeMissing`), or why it cannot be read. */
export function readUserFile(file: string, mayBeMissing: boolean): { text: string } | { problem: string } {
  try {
    return { text: readFileSync(file, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && mayBeMissing) return { text: '' };
    return { problem: `cannot read ${file}: ${(err as Error).message}` };
  }
}

/** The new password, or why there is none ('' and an aborted prompt are refused). */
export async function newPassword(user: string, io: CommandIo): Promise<{ password: string } | { problem: string }> {
  const password = await readPassword(user, io);
  if (password === null) return { problem: 'password entry interrupted; nothing changed' };
  if (password === '') return { problem: 'empty password; nothing changed' };
  return { password };
}
