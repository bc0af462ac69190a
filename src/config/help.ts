// `shoal --help`, generated from the OPTIONS table so it cannot disagree with the parser.
import { CONFIG_FILE_ENV, CONFIG_FILE_FLAG, OPTIONS } from './options.js';

const WIDTH = 30;

function wrap(text: string, indent: number, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

function entry(left: string, body: string[]): string {
  const pad = ' '.repeat(WIDTH);
  const head = 2 + left.length < WIDTH - 1 ? `  ${left}`.padEnd(WIDTH) : `  ${left}\n${pad}`;
  return head + body.join(`\n${pad}`);
}

export function formatHelp(version: string): string {
  const out: string[] = [
    `shoal ${version}: clustered MQTT 3.1.1 + 5.0 broker`,
    '',
    'Usage:',
    '  shoal start [options]       start a node',
    '  shoal cluster status [--json] [options]',
    '                              members of the local node\'s cluster (same options as start)',
    '  shoal drain [--json] [options]',
    '                              the local node leaves the cluster gracefully, as on SIGTERM,',
    '                              and exits; prints what it did (same options as start)',
    '  shoal scram-user <file> <user> [--iterations <n>]',
    '                              add a SCRAM-SHA-256 user to a --scram-users file, or change',
    '                              its password (read from stdin, never from the command line)',
    '  shoal passwd [-D] <file> <user>',
    '                              add a user to a Mosquitto --password-file or change its password',
    '                              (prompt or stdin, never the command line); -D deletes the user',
    '  shoal help | --help         show this help',
    '  shoal --version             print the version',
    '',
    'Options (precedence: flag > env var > JSON config file > default).',
    'Flags take "--flag value" or "--flag=value"; JSON keys are the camelCase names shown.',
    '',
    entry(`${CONFIG_FILE_FLAG} <path>`, [
      ...wrap('JSON config file with camelCase keys.', WIDTH),
      `env ${CONFIG_FILE_ENV}`,
    ]),
  ];
  for (const o of OPTIONS) {
    out.push(
      entry(`${o.flag} ${o.kind.metavar}`, [
        ...wrap(o.description, WIDTH),
        `env ${o.env}, key ${o.key}, default ${o.defaultText}`,
        `allowed: ${o.kind.allowed}`,
      ]),
    );
  }
  return out.join('\n') + '\n';
}
