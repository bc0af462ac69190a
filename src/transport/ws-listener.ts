// MQTT over WebSocket (--ws) and secure WebSocket (--wss): an HTTP(S) server that upgrades
// GET /mqtt with subprotocol mqtt (or mqttv3.1, which older clients such as Paho JS offer), and
// hands each WebSocket on as a WebSocketStream (ws-stream.ts). Anything else gets a plain HTTP
// error that says what this port expects, and a log line (within a budget: anyone can send them).
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { WebSocketServer } from 'ws';
import { LogBudget } from '../broker/log-budget.js';
import type { Logger } from '../log.js';
import { bindServer, remoteAddressOf, type StreamHandler, type TcpListener } from './tcp-listener.js';
import type { TlsCredentials } from './tls-credentials.js';
import { certificateUsername, logHandshakeFailures, tlsServerOptions, type TlsListener, type TlsServerSettings } from './tls-listener.js';
import { WebSocketStream } from './ws-stream.js';

export const WS_PATH = '/mqtt';
/** In order of preference. [MQTT-6.0.0-3] the server selects one the client offered. */
export const WS_SUBPROTOCOLS = ['mqtt', 'mqttv3.1'] as const;
/**
 * A WebSocket message is buffered whole before it is handed on, so its size is bounded: one
 * packet of the largest size, plus this much of neighbouring packets sent in the same message.
 * Larger ones close that client (1009).
 */
const WS_MESSAGE_SLACK_BYTES = 64 * 1024;

export interface WsListenerSettings {
  readonly maxPacketSize: number;
  /** An HTTP request or TLS handshake not done within this is dropped (the CONNECT bound). */
  readonly handshakeTimeoutMs: number;
  /** --wss: serve over TLS with these; null for --ws. */
  readonly tls: { settings: TlsServerSettings; credentials: TlsCredentials } | null;
}

/** Why an upgrade request is refused, or null when it is one this listener serves. */
export function upgradeRefusal(req: http.IncomingMessage): { status: number; message: string } | null {
  const url = req.url ?? '/';
  const path = url.split('?', 1)[0]!;
  if (path !== WS_PATH) {
    return { status: 404, message: `no MQTT endpoint at ${JSON.stringify(path.slice(0, 200))}; MQTT over WebSocket is served at ${WS_PATH}` };
  }
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (!WS_SUBPROTOCOLS.some((p) => offered.includes(p))) {
    // [MQTT-6.0.0-3]: the client must offer mqtt; without it the connection is not MQTT.
    const got = offered.length === 0 ? 'none' : offered.join(', ').slice(0, 200);
    return { status: 400, message: `Sec-WebSocket-Protocol must offer ${WS_SUBPROTOCOLS.join(' or ')}; offered: ${got}` };
  }
  return null;
}

function refuse(socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export async function listenWebSocket(
  opts: { host: string; port: number },
  settings: WsListenerSettings,
  onStream: StreamHandler,
  log: Logger,
): Promise<TlsListener | TcpListener> {
  const flag = settings.tls === null ? '--ws' : '--wss';
  const budget = new LogBudget();
  const logRefusal = (req: http.IncomingMessage | { socket: net.Socket }, status: number, message: string): void => {
    const leftOut = budget.take('ws.upgrade.refused', Date.now());
    if (leftOut === null) return;
    const address = remoteAddressOf(req.socket);
    log.warn({ event: 'ws.upgrade.refused', listener: flag, address, status, detail: message, ...(leftOut > 0 ? { linesLeftOut: leftOut } : {}) }, 'WebSocket upgrade refused');
  };

  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: settings.maxPacketSize + WS_MESSAGE_SLACK_BYTES,
    handleProtocols: (offered: Set<string>) => WS_SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  // ws's own checks of the handshake (method, Upgrade, key, version): logged, then refused alike.
  wss.on('wsClientError', (err: Error, socket: Duplex, req: http.IncomingMessage) => {
    const status = req.method === 'GET' ? 400 : 405;
    logRefusal(req, status, err.message);
    refuse(socket, status, err.message);
  });

  const tlsSettings = settings.tls;
  const server: http.Server =
    tlsSettings === null ? http.createServer() : https.createServer(tlsServerOptions(tlsSettings.settings, tlsSettings.credentials));
  server.headersTimeout = settings.handshakeTimeoutMs;
  server.requestTimeout = settings.handshakeTimeoutMs;
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const status = path === WS_PATH ? 426 : 404;
    const message = `this port serves MQTT over WebSocket: connect with a WebSocket to ${WS_PATH}, subprotocol mqtt`;
    logRefusal(req, status, `plain HTTP ${req.method ?? ''} ${path.slice(0, 200)}`);
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', ...(status === 426 ? { Upgrade: 'websocket' } : {}) });
    res.end(`${message}\n`);
  });
  // Bytes that are not HTTP at all (plain MQTT sent to this port, say): Node's parser fails.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const message = `not an HTTP request (${err.code ?? err.message}); this port serves MQTT over WebSocket at ${WS_PATH}`;
    logRefusal({ socket }, 400, message);
    refuse(socket, 400, message);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const refusal = upgradeRefusal(req);
    if (refusal !== null) {
      logRefusal(req, refusal.status, refusal.message);
      refuse(socket, refusal.status, refusal.message);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const raw = req.socket as net.Socket;
      raw.setNoDelay(true);
      const username = tlsSettings === null ? undefined : certificateUsername(raw as tls.TLSSocket, tlsSettings.settings.files);
      onStream(new WebSocketStream(ws), remoteAddressOf(raw), username);
    });
  });
  if (tlsSettings === null) return bindServer(server, opts, flag);
  logHandshakeFailures(server as https.Server, log, flag);
  const bound = await bindServer(server, opts, flag);
  return { ...bound, setCredentials: (next) => (server as https.Server).setSecureContext(tlsServerOptions(tlsSettings.settings, next)) };
}
