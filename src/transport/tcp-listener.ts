// The plain-TCP listener. It only accepts sockets and hands them on as Duplex streams, so TLS and
// WebSocket listeners can feed the same Connection class later.

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

export async function listenTcp(
  opts: { host: string; port: number },
  onStream: (s: Duplex, remoteAddress: string) => void,
): Promise<TcpListener> {
  const sockets = new Set<net.Socket>();
  // One listener function for every socket ('close' fires once): no once() wrapper per socket.
  const untrack = function (this: net.Socket): void {
    sockets.delete(this);
  };
  // noDelay: MQTT packets are small and latency-sensitive; batching happens in Connection (cork).
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', untrack);
    // join() rather than a template: V8 keeps a template's result of 13+ characters as a rope of
    // its parts (~88 bytes per idle connection, kept for the logs), join() as one flat string (32).
    const remote = socket.remoteFamily === 'IPv6' ? ['[', socket.remoteAddress, ']:', socket.remotePort].join('') : [socket.remoteAddress, socket.remotePort].join(':');
    onStream(socket, remote);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(new ListenError(opts.host, opts.port, err.code, err));
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
