// A deep backlog for one online subscriber (issue 23): 200,000 QoS 1 messages pile up in the
// session of a subscriber that acknowledges nothing, then it acknowledges each one as it arrives
// and the whole backlog drains, in publish order, without a loss, a duplicate or a drop. Raw
// mqtt-packet clients over real TCP (MQTT.js would add its own per-message cost). Functional, not
// timed: the speed is a bench row (`npm run bench -- backlog-drain`). With the old queue (an
// array taken from the front with shift()) this drain alone took minutes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import type { NodeEvents } from '../../src/node.js';
import { removeDir, startTestNode, type TestNode } from '../helpers/node.js';

const BACKLOG = 200_000;
/** Publishes the test keeps unacknowledged: enough to keep the node busy, few enough to bound memory. */
const PUBLISH_WINDOW = 256;
const TOPIC = 'backlog/q';

/** A minimal raw client: a socket, an mqtt-packet parser and one handler per packet. */
class RawClient {
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  onPacket: (p: Packet) => void = () => undefined;
  closed = false;

  private constructor(readonly socket: net.Socket) {
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    this.parser.on('error', (e: Error) => socket.destroy(e));
    socket.on('data', (d: Buffer) => {
      // What the handlers send in answer to one read goes out in one write.
      socket.cork();
      this.parser.parse(d);
      socket.uncork();
    });
    socket.on('close', () => (this.closed = true));
    socket.setNoDelay(true);
  }

  static async connect(port: number, clientId: string): Promise<RawClient> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new RawClient(socket);
    const connack = c.next('connack', 5000);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0 });
    await connack;
    return c;
  }

  send(p: Packet): void {
    this.socket.write(mqttPacket.generate(p));
  }

  /** The next packet of type `cmd` (replacing onPacket until then), or a rejection naming it. */
  next(cmd: Packet['cmd'], ms: number): Promise<Packet> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${cmd} within ${ms} ms`)), ms);
      this.onPacket = (p) => {
        if (p.cmd !== cmd) return;
        clearTimeout(timer);
        this.onPacket = () => undefined;
        resolve(p);
      };
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Resolves when `done()` holds after a packet, rejecting after `ms` with `status()` in the message. */
function until(c: RawClient, handle: (p: Packet) => void, done: () => boolean, ms: number, status: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${status()}`)), ms);
    const check = (): void => {
      if (done()) {
        clearTimeout(timer);
        c.onPacket = () => undefined;
        resolve();
      }
    };
    c.onPacket = (p) => {
      handle(p);
      check();
    };
    c.socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`connection closed: ${status()}`));
    });
    check();
  });
}

describe('a backlog of 200,000 QoS 1 messages for one online subscriber', () => {
  let node: TestNode;
  const clients: RawClient[] = [];
  const drops: string[] = [];

  before(async () => {
    // The queue limit is exactly what the backlog needs beyond the inflight window: no drop allowed.
    node = await startTestNode({ maxQueuedMessages: BACKLOG, maxQueuedBytes: 0 });
    node.handle.events.on('session.event', (e: NodeEvents['session.event'][0]) => {
      if (e.name === 'session.queue.drop') drops.push(e.detail);
    });
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await node.stop();
    removeDir(node.dataDir);
  });

  it('forms while the subscriber acknowledges nothing, without holding up another client, then drains completely and in order', async () => {
    const port = node.handle.mqtt.port;
    const sub = await RawClient.connect(port, 'backlog-sub');
    clients.push(sub);
    const suback = sub.next('suback', 5000);
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: TOPIC, qos: 1 }] });
    assert.deepEqual((await suback as mqttPacket.ISubackPacket).granted, [1]);

    // While the backlog forms, the subscriber only records what it gets.
    const got: number[] = [];
    let dups = 0;
    const unacked: number[] = [];
    sub.onPacket = (p) => {
      if (p.cmd !== 'publish') return;
      got.push(Number(p.payload.toString()));
      if (p.dup) dups++;
      unacked.push(p.messageId!);
    };

    const pub = await RawClient.connect(port, 'backlog-pub');
    clients.push(pub);
    let sent = 0;
    let acked = 0;
    let nextId = 1;
    const pump = (): void => {
      while (sent < BACKLOG && sent - acked < PUBLISH_WINDOW) {
        const publish: IPublishPacket = { cmd: 'publish', topic: TOPIC, payload: Buffer.from(String(sent)), qos: 1, messageId: nextId, retain: false, dup: false };
        nextId = nextId === 65535 ? 1 : nextId + 1;
        pub.send(publish);
        sent++;
      }
    };
    const published = until(pub, (p) => {
      if (p.cmd !== 'puback') return;
      acked++;
      pump();
    }, () => acked === BACKLOG, 60_000, () => `${acked}/${BACKLOG} PUBACKs`);
    pub.socket.cork();
    pump();
    pub.socket.uncork();
    await published;

    // Every publish is acknowledged: the backlog is in the session. Another client is served now.
    const other = await RawClient.connect(port, 'backlog-other');
    clients.push(other);
    const otherSuback = other.next('suback', 5000);
    other.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'other/t', qos: 1 }] });
    await otherSuback;
    const otherGot = other.next('publish', 5000);
    pub.send({ cmd: 'publish', topic: 'other/t', payload: Buffer.from('hello'), qos: 0, retain: false, dup: false });
    assert.equal((await otherGot as IPublishPacket).payload.toString(), 'hello');
    assert.ok(got.length < BACKLOG, 'the subscriber that acknowledged nothing has not had everything yet');

    // Now it acknowledges what it already has, and each message as it comes.
    const ack = (id: number): void => sub.send({ cmd: 'puback', messageId: id });
    for (const id of unacked.splice(0)) ack(id);
    await until(sub, (p) => {
      if (p.cmd !== 'publish') return;
      got.push(Number(p.payload.toString()));
      if (p.dup) dups++;
      ack(p.messageId!);
    }, () => got.length >= BACKLOG, 120_000, () => `${got.length}/${BACKLOG} messages drained`);

    assert.equal(got.length, BACKLOG);
    let outOfOrder = 0;
    for (let i = 0; i < BACKLOG; i++) if (got[i] !== i) outOfOrder++;
    assert.equal(outOfOrder, 0, 'every message once, in publish order');
    assert.equal(dups, 0, 'nothing was sent twice');
    assert.deepEqual(drops, [], 'nothing was dropped');
  });
});
