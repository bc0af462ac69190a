// The plain-TCP listener. It only accepts sockets and hands them on as Duplex streams, which the
// TLS and WebSocket listeners (tls-listener.ts, ws-listener.ts) do too, so every transport feeds
// the same Connection class. bindServer is what all of them share: bind, track, close.

import net from 'node:net';
import type { Duplex } from 'node:stream';
import { ListenError } from './errors.js';

export interface TcpListener {
  server: net.Server;
  /** The bound address (the real port when 0 was asked for). */
  address: { host: string; port: number };
  /**
   * Stops accepting and destroys sockets still open. Close the Connections first (v5 clients
   * are owed a DISCONNECT 0x8B); this only makes sure shutdown cannot hang on a dead peer.
   */
  close(): Promise<void>;
}

/**
 * What a listener hands on: the stream, the peer's `host:port`, and for a verified TLS client
 * certificate with --tls-cn-as-username its Common Name (null: the certificate has none).
 */
export type StreamHandler = (stream: Duplex, remoteAddress: string, certificateUsername?: string | null) => void;

/** `1.2.3.4:5678` or `[::1]:5678`. */
export function remoteAddressOf(socket: net.Socket): string {
  // join() rather than a template: V8 keeps a template's result of 13+ characters as a rope of
  // its parts (~88 bytes per idle connection, kept for the logs), join() as one flat string (32).
  return socket.remoteFamily === 'IPv6' ? ['[', socket.remoteAddress, ']:', socket.remotePort].join('') : [socket.remoteAddress, socket.remotePort].join(':');
}

/**
 * Binds `server` (a net, tls, http or https server) and tracks its raw sockets so that close()
 * can destroy them. `flag` names the setting of this address in a bind error.
 */
export async function bindServer(server: net.Server, opts: { host: string; port: number }, flag: string): Promise<TcpListener> {
  const sockets = new Set<net.Socket>();
  // One listener function for every socket ('close' fires once): no once() wrapper per socket.
  const untrack = function (this: net.Socket): void {
    sockets.delete(this);
  };
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', untrack);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(new ListenError(opts.host, opts.port, err.code, err, flag));
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = server.address() as net.AddressInfo;
  return {
    server,
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

export async function listenTcp(opts: { host: string; port: number }, onStream: StreamHandler): Promise<TcpListener> {
  // noDelay: MQTT packets are small and latency-sensitive; batching happens in Connection (cork).
  const server = net.createServer({ noDelay: true }, (socket) => onStream(socket, remoteAddressOf(socket)));
  return bindServer(server, opts, '--listen');
}
