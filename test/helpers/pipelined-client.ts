// A raw MQTT 5 client over mqtt-packet for tests of read order: it writes several packets in one
// socket write (so the node reads them in that order, with nothing in between), acknowledges the
// QoS 1 PUBLISHes it receives, records them, and waits for them with a timeout. PINGREQ/PINGRESP
// is its read barrier: the node answers a PINGREQ when it reads it, so a PINGRESP means every
// packet written before the PINGREQ has been read (and, for SUBSCRIBE and UNSUBSCRIBE, applied).
import net from 'node:net';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { withTimeout } from '../unit/transport/wire.js';

export interface Received {
  topic: string;
  payload: string;
  qos: number;
  /** Subscription identifiers, ascending. */
  ids: number[];
}

export class PipelinedClient {
  readonly received: Received[] = [];
  /** Packets other than PUBLISH (SUBACK, UNSUBACK, PUBACK, PINGRESP, DISCONNECT...). */
  readonly control: Packet[] = [];
  private readonly waiters = new Set<() => void>();
  private closed = false;
  /** The CONNACK's Session Present flag. */
  sessionPresent = false;
  private nextPacketId = 1;

  private constructor(private readonly socket: net.Socket) {
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on('packet', (p: Packet) => this.onPacket(p));
    parser.on('error', (err: Error) => {
      this.control.push({ cmd: 'disconnect', reasonCode: 0x81, properties: { reasonString: `client parse error: ${err.message}` } });
      socket.destroy();
    });
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.setNoDelay(true);
  }

  /** Connects (v5, no keepalive; clean start unless a session expiry is given) and waits for a successful CONNACK. */
  static async connect(port: number, clientId: string, resume?: { sessionExpirySec: number }, onConnectWritten?: () => void): Promise<PipelinedClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await withTimeout(new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject)), 5000, `TCP connect of ${clientId}`);
    const c = new PipelinedClient(socket);
    const session = resume === undefined ? { clean: true } : { clean: false, properties: { sessionExpiryInterval: resume.sessionExpirySec } };
    await c.write([{ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, keepalive: 0, ...session }]);
    onConnectWritten?.();
    const connack = await c.until(`CONNACK for ${clientId}`, () => c.control.find((p) => p.cmd === 'connack'));
    if (connack.cmd !== 'connack' || (connack.reasonCode ?? 0) !== 0) throw new Error(`${clientId}: CONNECT refused: ${JSON.stringify(connack)}`);
    c.sessionPresent = connack.sessionPresent;
    return c;
  }

  /** A packet id for the next SUBSCRIBE, UNSUBSCRIBE or QoS 1 PUBLISH. */
  packetId(): number {
    const id = this.nextPacketId;
    this.nextPacketId = id === 65535 ? 1 : id + 1;
    return id;
  }

  /** Writes `packets` in one socket write; resolves when the bytes are handed to the kernel. */
  write(packets: Packet[]): Promise<void> {
    const bytes = Buffer.concat(packets.map((p) => mqttPacket.generate(p, { protocolVersion: 5 })));
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  /** Sends PINGREQ and waits for its PINGRESP: the node has read everything written before. */
  async barrier(): Promise<void> {
    const had = this.control.filter((p) => p.cmd === 'pingresp').length;
    await this.write([{ cmd: 'pingreq' }]);
    await this.until('PINGRESP', () => this.control.filter((p) => p.cmd === 'pingresp').length > had || undefined);
  }

  /** Waits until `probe` returns a value (checked on every packet), or fails naming `what`. */
  until<T>(what: string, probe: () => T | undefined, ms = 5000): Promise<T> {
    let check = (): void => {};
    const found = new Promise<T>((resolve, reject) => {
      check = (): void => {
        const v = probe();
        if (v !== undefined) resolve(v);
        else if (this.closed) reject(new Error(`connection closed while waiting for ${what}; last packets: ${JSON.stringify(this.control.slice(-3))}`));
      };
    });
    this.waiters.add(check);
    check();
    return withTimeout(found, ms, what).finally(() => this.waiters.delete(check));
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onPacket(p: Packet): void {
    if (p.cmd === 'publish') {
      const pub = p as IPublishPacket;
      const id = pub.properties?.subscriptionIdentifier;
      const ids = id === undefined ? [] : Array.isArray(id) ? [...id].sort((a, b) => a - b) : [id];
      this.received.push({ topic: pub.topic, payload: pub.payload.toString(), qos: pub.qos, ids });
      if (pub.qos === 1) void this.write([{ cmd: 'puback', messageId: pub.messageId! }]).catch(() => {});
    } else {
      this.control.push(p);
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
