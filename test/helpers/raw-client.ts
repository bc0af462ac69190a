// A raw MQTT client over TCP for tests that need exact packets (bad input, AUTH flows): writes
// packets or bytes, parses what the broker sends back with mqtt-packet, records the close.
import assert from 'node:assert/strict';
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { IConnectPacket, Packet } from 'mqtt-packet';

/** `what` may be a function, for a description that includes output gathered meanwhile. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`)), ms);
    }),
  ]);
}

/** A raw TCP client: writes bytes, parses what the broker sends back, records the close. */
export class RawClient {
  readonly packets: Packet[] = [];
  readonly closed: Promise<void>;
  closedAt = 0;
  private readonly parser;
  private wakers: Array<() => void> = [];

  private constructor(
    readonly socket: net.Socket,
    readonly version: 4 | 5,
  ) {
    this.parser = mqttPacket.parser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      this.wake();
    });
    socket.on('data', (d: Buffer) => this.parser.parse(d));
    socket.on('error', () => {}); // a reset from the broker closing us is expected here
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
        this.wake();
      }),
    );
  }

  /** `localAddress`: the source address (any of 127.0.0.0/8 works on Linux: per-address limits). */
  static async open(port: number, version: 4 | 5 = 5, localAddress?: string): Promise<RawClient> {
    const socket = net.connect({ host: '127.0.0.1', port, ...(localAddress !== undefined ? { localAddress } : {}) });
    await withTimeout(new Promise<void>((ok, fail) => socket.once('connect', ok).once('error', fail)), 3000, 'TCP connect');
    return new RawClient(socket, version);
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.version }));
  }

  raw(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  async handshake(clientId: string): Promise<void> {
    const connect: IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: this.version, clientId, clean: true, keepalive: 0 };
    this.send(connect);
    const p = await this.next('CONNACK');
    assert.equal(p.cmd, 'connack');
  }

  /** Waits for a packet matching `cmd`, or fails if the socket closes first. */
  async next(what: string, ms = 3000): Promise<Packet> {
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.packets.length > 0 || this.socket.destroyed) resolve();
          else this.wakers.push(check);
        };
        check();
      }),
      ms,
      what,
    );
    const p = this.packets.shift();
    if (p === undefined) throw new Error(`connection closed before ${what}`);
    return p;
  }

  waitClosed(ms = 3000): Promise<void> {
    return withTimeout(this.closed, ms, 'the broker to close the connection');
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }
}
