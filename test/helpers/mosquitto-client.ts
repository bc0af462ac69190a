// Runs one of Mosquitto's command-line clients (mosquitto_pub, mosquitto_sub) with -d, so the
// protocol exchange ("received SUBACK") shows on stdout, and line-buffered output.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface MosquittoRun {
  child: ChildProcess;
  /** Resolves once "received SUBACK" shows in the output (never for mosquitto_pub). */
  subscribed: Promise<void>;
  /** Exit code, once the output is read to its end. */
  exited: Promise<number | null>;
  output(): string;
}

export function runMosquitto(binary: 'mosquitto_pub' | 'mosquitto_sub', args: string[], children: ChildProcess[], onLine: (line: string) => void = () => {}): MosquittoRun {
  // stdbuf: into a pipe, stdout is block-buffered, and "received SUBACK" would only show at exit.
  const child = spawn('stdbuf', ['-oL', binary, '-d', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let text = '';
  let onSuback: () => void = () => {};
  const subscribed = new Promise<void>((resolve) => (onSuback = resolve));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    text += `${line}\n`;
    if (/received SUBACK/.test(line)) onSuback();
    onLine(line);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (text += d));
  // 'close', not 'exit': the last lines may still be in the pipe when the process exits.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, subscribed, exited, output: () => text };
}
