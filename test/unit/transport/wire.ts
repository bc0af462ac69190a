// Test helpers for the connection layer: a recording ConnectionHandler, a server built from
// listenTcp + Connection, and a raw TCP client that speaks mqtt-packet.

import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { IConnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import type { ConnectAccepted } from '../../../src/protocol/connect.js';
import { Connection, type CloseReason, type ConnectionHandler, type ConnectionLimits } from '../../../src/transport/connection.js';
import { listenTcp } from '../../../src/transport/tcp-listener.js';

export const defaultLimits: ConnectionLimits = {
  maxPacketSize: 1024 * 1024,
  connectTimeoutMs: 5000,
  maxKeepaliveSec: 0,
  topicAliasMaximum: 10,
  receiveMaximum: 100,
  maxWriteBufferBytes: 4 * 1024 * 1024,
  maxPendingRequests: 128,
};

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  constructor(readonly what: string, readonly ms: number) {
    super(`timed out after ${ms} ms waiting for ${what}`);
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    }),
  ]);
}

export type HandlerEvent =
  | { type: 'connect'; packet: IConnectPacket; decision: ConnectAccepted }
  | { type: 'publish'; packet: IPublishPacket }
  | { type: 'control'; packet: Packet }
  | { type: 'close'; reason: CloseReason; clientId: string | null };

/** Records every callback; accepts CONNECTs unless told otherwise. */
export class RecordingHandler implements ConnectionHandler {
  readonly events: HandlerEvent[] = [];
  closeCount = 0;
  /** 'accept': accept synchronously inside onConnect; 'manual': the test answers. */
  onConnectMode: 'accept' | 'manual' = 'accept';
  /** Called for every PUBLISH after recording it (e.g. to acknowledge). */
  afterPublish: ((conn: Connection, packet: IPublishPacket) => void) | null = null;
  readonly closed: Promise<CloseReason>;
  readonly connected: Promise<Connection>;
  private resolveClosed!: (r: CloseReason) => void;
  private resolveConnected!: (c: Connection) => void;

  constructor() {
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.connected = new Promise((r) => (this.resolveConnected = r));
  }

  onConnect(conn: Connection, packet: IConnectPacket, decision: ConnectAccepted): void {
    this.events.push({ type: 'connect', packet, decision });
    if (this.onConnectMode === 'accept') conn.accept({ sessionPresent: false });
    this.resolveConnected(conn);
  }

  onPublish(conn: Connection, packet: IPublishPacket): void {
    this.events.push({ type: 'publish', packet });
    this.afterPublish?.(conn, packet);
  }

  /** Called for every control packet after recording it. */
  afterControl: ((conn: Connection, packet: Packet) => void) | null = null;

  onControl(conn: Connection, packet: Packet): void {
    this.events.push({ type: 'control', packet });
    this.afterControl?.(conn, packet);
  }

  controls(): Packet[] {
    return this.events.flatMap((e) => (e.type === 'control' ? [e.packet] : []));
  }

  onClose(conn: Connection, reason: CloseReason): void {
    this.closeCount++;
    this.events.push({ type: 'close', reason, clientId: conn.clientId });
    this.resolveClosed(reason);
  }

  publishes(): IPublishPacket[] {
    return this.events.flatMap((e) => (e.type === 'publish' ? [e.packet] : []));
  }
}

export interface TestServer {
  port: number;
  /** Handler and Connection of the n-th accepted socket, created on demand. */
  handler(n?: number): RecordingHandler;
  connection(n?: number): Promise<Connection>;
  stop(): Promise<void>;
}

export async function startServer(limits: Partial<ConnectionLimits> = {}, prepare?: (h: RecordingHandler) => void): Promise<TestServer> {
  const handlers: RecordingHandler[] = [];
  const connections: Connection[] = [];
  const waiters: Array<(c: Connection) => void> = [];
  const handlerAt = (n: number): RecordingHandler => {
    while (handlers.length <= n) {
      const h = new RecordingHandler();
      prepare?.(h);
      handlers.push(h);
    }
    return handlers[n]!;
  };
  let next = 0;
  // One limits object for every connection, as the node has: what is derived from it is shared.
  const connectionLimits = { ...defaultLimits, ...limits };
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, (stream, remote) => {
    const n = next++;
    const conn = new Connection(stream, handlerAt(n), connectionLimits, n + 1, remote);
    connections[n] = conn;
    waiters[n]?.(conn);
  });
  return {
    port: listener.address.port,
    handler: (n = 0) => handlerAt(n),
    connection: (n = 0) =>
      connections[n] !== undefined
        ? Promise.resolve(connections[n]!)
        : withTimeout(new Promise<Connection>((r) => (waiters[n] = r)), 2000, `connection ${n}`),
    stop: () => listener.close(),
  };
}

/** A raw MQTT client: sends generated packets or raw bytes, and parses what comes back. */
export class WireClient {
  readonly socket: net.Socket;
  readonly packets: Packet[] = [];
  readonly received: Buffer[] = [];
  readonly closed: Promise<void>;
  parseError: unknown = null;
  private readonly parser;
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket, readonly protocolVersion: 3 | 4 | 5) {
    this.socket = socket;
    this.parser = mqttPacket.parser({ protocolVersion });
    this.parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      this.wake();
    });
    this.parser.on('error', (e: unknown) => {
      this.parseError = e;
    });
    socket.on('data', (d: Buffer) => {
      this.received.push(d);
      this.parser.parse(d);
    });
    socket.on('error', () => {});
    this.closed = new Promise((r) => socket.once('close', () => {
      r();
      this.wake();
    }));
  }

  static async connect(port: number, protocolVersion: 3 | 4 | 5 = 5): Promise<WireClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await withTimeout(new Promise<void>((r, j) => socket.once('connect', r).once('error', j)), 2000, 'TCP connect');
    return new WireClient(socket, protocolVersion);
  }

  get receivedBytes(): Buffer {
    return Buffer.concat(this.received);
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
  }

  raw(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** Sends CONNECT and waits for the CONNACK. */
  async handshake(over: Partial<IConnectPacket> = {}): Promise<Packet> {
    this.send({
      cmd: 'connect',
      protocolId: this.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: this.protocolVersion,
      clientId: 'test-client',
      clean: true,
      keepalive: 0,
      ...over,
    });
    const connack = await this.next();
    if (connack.cmd !== 'connack') throw new Error(`expected CONNACK, got ${connack.cmd}`);
    return connack;
  }

  /** The next packet, which must be a `cmd` (the assertion names what came instead). */
  async expect<C extends Packet['cmd']>(cmd: C, ms = 3000): Promise<Extract<Packet, { cmd: C }>> {
    const p = await this.next(ms);
    if (p.cmd !== cmd) throw new Error(`expected ${cmd}, got ${JSON.stringify(p)}`);
    return p as Extract<Packet, { cmd: C }>;
  }

  /** The next packet not yet consumed by next(). */
  private consumed = 0;
  async next(ms = 2000): Promise<Packet> {
    await withTimeout(
      new Promise<void>((r) => {
        const check = (): void => {
          if (this.packets.length > this.consumed || this.socket.destroyed) r();
          else this.waiters.push(check);
        };
        check();
      }),
      ms,
      'a packet from the server',
    );
    const p = this.packets[this.consumed];
    if (p === undefined) throw new Error('connection closed before the expected packet');
    this.consumed++;
    return p;
  }

  waitClosed(ms = 3000): Promise<void> {
    return withTimeout(this.closed, ms, 'the server to close the connection');
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
