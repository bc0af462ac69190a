// The `shoal` command line: `shoal start [flags]`, `shoal drain [flags]`, `shoal cluster status`,
// `shoal scram-user <file> <user>`, `shoal passwd [-D] <file> <user>`, `shoal help`, `shoal --version`.
// Reads the configuration once, starts one node, and owns the process lifecycle (signals, exit
// codes). Exit codes: 0 clean stop, 1 failure at runtime or a shutdown that overran, 2 bad usage
// or configuration.
import { readFileSync } from 'node:fs';
import { configuredAuthMethods } from './auth/configured-methods.js';
import { scramUserCommand } from './auth/scram-user-command.js';
import { AccessControl } from './auth/access-control.js';
import { passwdCommand } from './auth/passwd-command.js';
import { ConfigError } from './config/errors.js';
import { formatHelp } from './config/help.js';
import { loadConfigWithSources, type LoadedConfig } from './config/load.js';
import { formatListen, type ShoalConfig } from './config/options.js';
import { tlsFilesOf } from './config/transport-options.js';
import { createLogger, flushLogger, type Logger } from './log.js';
import type { NodeHandle } from './node.js';
import { TlsCredentialsError } from './transport/errors.js';
import { loadTlsCredentials, type TlsCredentials } from './transport/tls-credentials.js';

/** A graceful close that takes longer than this (plus --drain-timeout for a cluster node) is
 * abandoned (e.g. a stuck SQLite flush). */
const SHUTDOWN_TIMEOUT_MS = 10_000;
/** Bound on waiting for buffered log lines before exiting anyway. */
const LOG_FLUSH_TIMEOUT_MS = 1_000;

function readVersion(): string {
  // src/main.ts (tsx) and dist/src/main.js sit at different depths below package.json.
  let dir = new URL('.', import.meta.url);
  for (let depth = 0; depth < 4; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'shoal' && pkg.version) return pkg.version;
    } catch {
      // no package.json at this level; keep walking up
    }
    dir = new URL('..', dir);
  }
  return 'unknown';
}

let exiting = false;

async function exitProcess(logger: Logger, code: number): Promise<void> {
  if (exiting) return;
  exiting = true;
  const bound = new Promise<void>((resolve) => setTimeout(resolve, LOG_FLUSH_TIMEOUT_MS).unref());
  await Promise.race([flushLogger(logger), bound]);
  // Explicit exit: libraries may leave timers or sockets referenced after close().
  process.exit(code);
}

/**
 * SIGTERM/SIGINT close the node (a cluster node leaves gracefully first, see
 * src/cluster/node-drain.ts); so does `shoal drain`, which reaches the node over gRPC: either way
 * the process exits once the close is done. A second signal exits at once.
 */
function installStopHandlers(started: Promise<NodeHandle>, logger: Logger, timeoutMs: number): void {
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => {
      logger.error({ event: 'node.shutdown.timeout', timeoutMs }, 'shutdown took too long, exiting');
      void exitProcess(logger, 1);
    }, timeoutMs);
    // A signal during startup waits for the node to come up, then closes it.
    started
      .then((handle) => handle.close(why))
      .then(
        () => {
          clearTimeout(timer);
          logger.info({ event: 'node.shutdown.done' }, 'stopped');
          return exitProcess(logger, 0);
        },
        (err: unknown) => {
          clearTimeout(timer);
          logger.error({ event: 'node.shutdown.failed', err }, 'shutdown failed');
          return exitProcess(logger, 1);
        },
      );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.error({ event: 'node.shutdown.forced', signal }, 'second signal during shutdown, exiting now');
      void exitProcess(logger, 1);
      return;
    }
    logger.info({ event: 'node.shutdown.begin', signal }, 'shutting down');
    stop('signal');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // `shoal drain` (or anything else) began the close inside the node.
  started.then((handle) => handle.events.on('stopping', ({ reason }) => stop(reason)), () => undefined);
  // SIGHUP rereads the TLS certificate, the password file and the ACL file, connections untouched
  // (as Mosquitto does; without a handler, SIGHUP would end the process).
  process.on('SIGHUP', () => {
    void started.then((handle) => {
      if (handle.reloadCertificates() === null) logger.info({ event: 'tls.reload.skipped' }, 'SIGHUP: no TLS listener, no certificate to reload');
      handle.reloadAuth();
    }, () => {});
  });
}

/** The TLS files, read and checked before anything starts: a bad file is a configuration error. */
function preloadTlsCredentials(config: ShoalConfig, sources: LoadedConfig['sources']): TlsCredentials | undefined {
  const files = tlsFilesOf(config);
  if (files === null) return undefined;
  try {
    return loadTlsCredentials(files);
  } catch (err) {
    if (!(err instanceof TlsCredentialsError)) throw err;
    const field = err.flag === '--tls-cert' ? 'tlsCert' : err.flag === '--tls-key' ? 'tlsKey' : 'tlsCa';
    throw new ConfigError(err.message, { code: 'CONFIG_FILE_UNREADABLE', field, source: sources[field], value: err.path, cause: err });
  }
}

async function start(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { config, sources, configFile } = loadConfigWithSources({ argv, env });
  // Before anything starts: a bad users file is a configuration error (exit 2).
  const authMethods = configuredAuthMethods(config, sources.scramUsers);
  const tlsCredentials = preloadTlsCredentials(config, sources);
  const access = new AccessControl(config, sources);
  const logger = createLogger(config.logLevel);
  logger.info({ event: 'config.effective', config, sources, configFile }, 'effective configuration');

  process.on('uncaughtException', (err) => {
    logger.fatal({ event: 'process.uncaught', err }, 'uncaught exception');
    void exitProcess(logger, 1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ event: 'process.unhandled_rejection', err }, 'unhandled promise rejection');
    void exitProcess(logger, 1);
  });

  // Loaded lazily so `shoal --help` and config errors do not start workers or load SQLite.
  const started = import('./node.js').then(({ startNode }) => startNode(config, { logger, authMethods, tlsCredentials, access }));
  // A cluster node's graceful leave has its own bound (--drain-timeout) before storage closes.
  installStopHandlers(started, logger, SHUTDOWN_TIMEOUT_MS + (config.seeds.length > 0 ? config.drainTimeoutMs : 0));
  let handle: NodeHandle;
  try {
    handle = await started;
  } catch (err) {
    logger.fatal({ event: 'node.start.failed', err }, 'failed to start');
    await exitProcess(logger, 1);
    return;
  }
  logger.info(
    {
      event: 'node.listening',
      nodeName: handle.nodeName,
      host: handle.mqtt.host,
      port: handle.mqtt.port,
      address: formatListen(handle.mqtt),
      ...Object.fromEntries(Object.entries(handle.transports).flatMap(([kind, addr]) => (addr === null ? [] : [[kind, formatListen(addr)]]))),
    },
    'listening',
  );
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const [command, ...rest] = argv;
  const version = readVersion();
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(formatHelp(version));
    return;
  }
  if (command === '--version' || command === 'version') {
    process.stdout.write(`${version}\n`);
    return;
  }
  if (command === 'scram-user') {
    process.exitCode = await scramUserCommand(rest, { stdin: process.stdin, stderr: process.stderr });
    return;
  }
  if (command === 'passwd') {
    process.exitCode = await passwdCommand(rest, { stdin: process.stdin, stderr: process.stderr });
    return;
  }
  if (command === 'start') {
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(formatHelp(version));
      return;
    }
    await start(rest, env);
    return;
  }
  if (command === 'cluster') {
    // Loaded lazily, like the node: the status call loads gRPC.
    const { clusterCommand } = await import('./cluster/status-command.js');
    process.exitCode = await clusterCommand(rest, env, (text) => process.stdout.write(text), (text) => process.stderr.write(text));
    return;
  }
  if (command === 'drain') {
    const { drainCommand } = await import('./cluster/drain-command.js');
    process.exitCode = await drainCommand(rest, env, (text) => process.stdout.write(text), (text) => process.stderr.write(text));
    return;
  }
  const problem = command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`;
  process.stderr.write(`shoal: ${problem}\n\n${formatHelp(version)}`);
  process.exitCode = 2;
}

main(process.argv.slice(2), process.env).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    // Operator error: the message names the field, source, value and allowed range; no stack.
    process.stderr.write(`shoal: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`shoal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
