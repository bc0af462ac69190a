// One raw MQTT client of the load generator: a net.Socket on loopback, a FrameScanner for what
// comes back, and just enough protocol for setup (CONNECT/CONNACK, SUBSCRIBE/SUBACK). Traffic
// after setup is written by the caller as pre-encoded bytes.
import net from 'node:net';
import { FrameScanner, PacketType, type FrameHandler } from './frame-scanner.js';
import { encodeConnect, encodeSubscribe, type MqttVersion } from './packets.js';

export class ClientError extends Error {
  constructor(readonly clientId: string, detail: string) {
    super(`client ${clientId}: ${detail}`);
    this.name = 'ClientError';
  }
}

export interface ClientOptions {
  port: number;
  host?: string;
  clientId: string;
  version?: MqttVersion;
  clean?: boolean;
  keepalive?: number;
  sessionExpirySec?: number;
  timeoutMs?: number;
  /** Runs before CONNECT is sent: set handlers for what a resumed session sends right after CONNACK. */
  prepare?: (c: RawClient) => void;
}

const SETUP_MASK = FrameScanner.mask(PacketType.CONNACK, PacketType.SUBACK);

export class RawClient {
  readonly scanner: FrameScanner;
  /** Receives frames of the types added to `scanner.bodyMask` beyond CONNACK and SUBACK. */
  onFrame: FrameHandler | null = null;
  /** Called after each inbound chunk was scanned (batch acks, update counters, pump). */
  afterChunk: (() => void) | null = null;
  sessionPresent = false;
  closed = false;
  private connackWaiter: { resolve: (rc: number) => void; reject: (e: Error) => void } | null = null;
  private readonly subackWaiters = new Map<number, { resolve: (codes: number[]) => void; reject: (e: Error) => void }>();
  private nextSubId = 1;
  private closeError: Error | null = null;

  private constructor(readonly socket: net.Socket, readonly clientId: string, readonly version: MqttVersion) {
    this.scanner = new FrameScanner(SETUP_MASK, (type, flags, body) => this.frame(type, flags, body));
    socket.on('data', (chunk: Buffer) => {
      this.scanner.push(chunk);
      this.afterChunk?.();
    });
    socket.on('error', (err) => {
      this.closeError = err;
    });
    socket.on('close', () => {
      this.closed = true;
      const err = new ClientError(clientId, `connection closed${this.closeError ? ` (${this.closeError.message})` : ''}`);
      this.connackWaiter?.reject(err);
      this.connackWaiter = null;
      for (const w of this.subackWaiters.values()) w.reject(err);
      this.subackWaiters.clear();
    });
  }

  /** Opens the socket, sends CONNECT and resolves on a successful CONNACK. */
  static connect(opts: ClientOptions): Promise<RawClient> {
    const version = opts.version ?? 4;
    const socket = net.connect({ port: opts.port, host: opts.host ?? '127.0.0.1', noDelay: true });
    const client = new RawClient(socket, opts.clientId, version);
    opts.prepare?.(client);
    const connect = encodeConnect(opts.clientId, {
      clean: opts.clean ?? true,
      keepalive: opts.keepalive ?? 0,
      version,
      ...(opts.sessionExpirySec !== undefined ? { sessionExpirySec: opts.sessionExpirySec } : {}),
    });
    socket.write(connect);
    return withTimeout(
      new Promise<number>((resolve, reject) => {
        client.connackWaiter = { resolve, reject };
      }),
      opts.timeoutMs ?? 10_000,
      () => new ClientError(opts.clientId, 'no CONNACK in time'),
    ).then(
      (rc) => {
        if (rc !== 0) {
          client.destroy();
          throw new ClientError(opts.clientId, `CONNACK refused with code ${rc}`);
        }
        return client;
      },
      (err: unknown) => {
        client.destroy();
        throw err;
      },
    );
  }

  /** Sends one SUBSCRIBE and resolves with the SUBACK return codes (0x80+ = refused). */
  subscribe(filters: readonly string[], qos: 0 | 1 | 2, timeoutMs = 30_000): Promise<number[]> {
    const id = this.nextSubId++;
    if (this.nextSubId > 65535) this.nextSubId = 1;
    const p = new Promise<number[]>((resolve, reject) => this.subackWaiters.set(id, { resolve, reject }));
    this.socket.write(encodeSubscribe(id, filters, qos, this.version));
    return withTimeout(p, timeoutMs, () => new ClientError(this.clientId, `no SUBACK for ${filters.length} filters in time`));
  }

  /**
   * One SUBSCRIBE per filter, encoded first and written at once (so the time to the last SUBACK
   * is the broker's, not the encoding's); resolves with each SUBACK's first return code.
   */
  subscribeEach(filters: readonly string[], qos: 0 | 1 | 2, timeoutMs = 60_000): { written: Promise<void>; codes: Promise<number[]> } {
    const waits: Promise<number[]>[] = [];
    const bytes: Buffer[] = [];
    for (const f of filters) {
      const id = this.nextSubId++;
      if (this.nextSubId > 65535) this.nextSubId = 1;
      waits.push(new Promise<number[]>((resolve, reject) => this.subackWaiters.set(id, { resolve, reject })));
      bytes.push(encodeSubscribe(id, [f], qos, this.version));
    }
    const all = Buffer.concat(bytes);
    const written = new Promise<void>((resolve) => this.socket.write(all, () => resolve()));
    const codes = withTimeout(Promise.all(waits), timeoutMs, () => new ClientError(this.clientId, `no SUBACK for all of ${filters.length} SUBSCRIBEs in time`));
    return { written, codes: codes.then((c) => c.map((x) => x[0]!)) };
  }

  async subscribeAll(filters: readonly string[], qos: 0 | 1 | 2): Promise<void> {
    const codes = await this.subscribe(filters, qos);
    const refused = codes.findIndex((c) => c >= 0x80);
    if (refused >= 0) throw new ClientError(this.clientId, `SUBSCRIBE ${filters[refused]} refused with code 0x${codes[refused]!.toString(16)}`);
  }

  write(buf: Buffer): boolean {
    return this.socket.write(buf);
  }

  /** Closes without a TCP TIME_WAIT on our side (RST), so repeated runs do not exhaust ports. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    if (typeof this.socket.resetAndDestroy === 'function' && this.socket.readyState === 'open') this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  private frame(type: number, flags: number, body: Buffer): void {
    if (type === PacketType.CONNACK) {
      // [MQTT-3.2.2] byte 1: session present flag; byte 2: return / reason code.
      this.sessionPresent = (body[0]! & 1) === 1;
      this.connackWaiter?.resolve(body[1]!);
      this.connackWaiter = null;
      return;
    }
    if (type === PacketType.SUBACK) {
      const id = body.readUInt16BE(0);
      let o = 2;
      if (this.version === 5) o += 1 + body[2]!; // property length (small here: < 128)
      const w = this.subackWaiters.get(id);
      if (w) {
        this.subackWaiters.delete(id);
        w.resolve(Array.from(body.subarray(o)));
      }
      return;
    }
    this.onFrame?.(type, flags, body);
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(error()), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** Connects `count` clients with at most `concurrency` handshakes in flight. */
export async function connectMany(count: number, concurrency: number, make: (i: number) => ClientOptions, onEach?: (done: number) => void): Promise<RawClient[]> {
  const clients = new Array<RawClient>(count);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      clients[i] = await RawClient.connect(make(i));
      done++;
      onEach?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return clients;
}
