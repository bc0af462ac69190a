// MQTT over TLS (--tls). Node's TLSSocket is a Duplex, so a completed handshake is handed on like
// a TCP socket and the Connection does not know the difference. The certificate can be replaced
// while running (setCredentials, on SIGHUP): new handshakes use the new one, established
// connections keep theirs.
import tls from 'node:tls';
import { LogBudget } from '../broker/log-budget.js';
import type { TlsFiles } from '../config/transport-options.js';
import type { Logger } from '../log.js';
import { bindServer, remoteAddressOf, type StreamHandler, type TcpListener } from './tcp-listener.js';
import type { TlsCredentials } from './tls-credentials.js';

/** The server options of a TLS listener (--tls) or of the secure WebSocket one (--wss). */
export interface TlsServerSettings {
  readonly files: TlsFiles;
  /** A handshake not done within this is dropped: the same bound as a CONNECT's. */
  readonly handshakeTimeoutMs: number;
}

export function tlsServerOptions(settings: TlsServerSettings, credentials: TlsCredentials): tls.TlsOptions {
  const require = settings.files.requireClientCert;
  return {
    ...credentials.context,
    // Only asked for when required: a client with a certificate the CA did not sign is refused
    // in the handshake, never let through as anonymous.
    requestCert: require,
    rejectUnauthorized: require,
    handshakeTimeout: settings.handshakeTimeoutMs,
    minVersion: 'TLSv1.2',
  };
}

/**
 * The verified client certificate's CN when --tls-cn-as-username is on (null: it has none), else
 * undefined. Only called on an authorized socket: rejectUnauthorized is on with that setting.
 */
export function certificateUsername(socket: tls.TLSSocket, files: TlsFiles): string | null | undefined {
  if (!files.cnAsUsername) return undefined;
  const cn = socket.getPeerCertificate().subject?.CN as string | string[] | undefined;
  const name = Array.isArray(cn) ? cn[0] : cn;
  return name === undefined || name === '' ? null : name;
}

/**
 * Logs failed handshakes (wrong CA, no client certificate, plain MQTT on the TLS port, a scanner)
 * within a budget: anyone can cause them at will.
 */
export function logHandshakeFailures(server: tls.Server, log: Logger, listener: string): void {
  const budget = new LogBudget();
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    const leftOut = budget.take('tls.handshake.failed', Date.now());
    if (leftOut === null) return;
    const address = socket.remoteAddress === undefined ? 'unknown' : remoteAddressOf(socket);
    log.warn({ event: 'tls.handshake.failed', listener, address, code: err.code, err: err.message, ...(leftOut > 0 ? { linesLeftOut: leftOut } : {}) }, 'TLS handshake failed');
  });
}

export interface TlsListener extends TcpListener {
  /** New handshakes use these; open connections are not touched. */
  setCredentials(credentials: TlsCredentials): void;
}

export async function listenTls(
  opts: { host: string; port: number },
  settings: TlsServerSettings,
  credentials: TlsCredentials,
  onStream: StreamHandler,
  log: Logger,
): Promise<TlsListener> {
  const server = tls.createServer(tlsServerOptions(settings, credentials), (socket) => {
    // As on TCP: MQTT packets are small, the Connection batches per event-loop turn.
    socket.setNoDelay(true);
    onStream(socket, remoteAddressOf(socket), certificateUsername(socket, settings.files));
  });
  logHandshakeFailures(server, log, '--tls');
  const bound = await bindServer(server, opts, '--tls');
  return { ...bound, setCredentials: (next) => server.setSecureContext(tlsServerOptions(settings, next)) };
}
