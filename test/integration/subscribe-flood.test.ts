// One client that floods SUBSCRIBEs must not stall the others (issue 19). A raw 3.1.1 connection
// writes 50,000 SUBSCRIBE packets, one wildcard filter each, as fast as its socket takes them,
// while a publisher/subscriber pair exchanges QoS 0 messages at 50/s on the same node. The node
// reads the flooder no faster than its session answers (--max-pending-requests), and a
// subscribe costs the same whatever the client already holds, so: every SUBACK arrives (10,000
// granted, the 40,000 past --max-subscriptions refused with 0x80), and the pair loses nothing
// and never waits 500 ms for a message.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { MqttClient } from 'mqtt';
import { connect, removeDir, startTestNode, type TestNode } from '../helpers/node.js';

const FLOOD = 50_000;
const MAX_SUBSCRIPTIONS = 10_000;
/** The pair's rate: one message per 20 ms. */
const PAIR_PERIOD_MS = 20;
const MAX_GAP_MS = 500;

/** SUBSCRIBE (packet id, one filter at QoS 1), encoded by hand: mqtt-packet takes ~20 µs each, which for 50,000 would stall this process's own event loop. */
function subscribePacket(id: number, filter: string): Buffer {
  const topic = Buffer.from(filter);
  const remaining = 2 + 2 + topic.length + 1;
  assert.ok(remaining < 128, 'one-byte remaining length');
  const b = Buffer.allocUnsafe(2 + remaining);
  b[0] = 0x82;
  b[1] = remaining;
  b.writeUInt16BE(id, 2);
  b.writeUInt16BE(topic.length, 4);
  topic.copy(b, 6);
  b[6 + topic.length] = 1;
  return b;
}

/** CONNECT 3.1.1, clean session, keepalive 0. */
function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0]), Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** Counts the 3.1.1 SUBACKs of one filter (5 bytes: 0x90 0x03 id id code) in the byte stream. */
class SubackCounter {
  granted = 0;
  refused = 0;
  private rest: Buffer = Buffer.alloc(0);
  private waiter: { n: number; resolve: () => void } | null = null;

  push(chunk: Buffer): void {
    const b = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    let o = 0;
    while (o + 2 <= b.length) {
      const len = b[o + 1]!;
      if (o + 2 + len > b.length) break;
      assert.equal(b[o], 0x90, `only SUBACKs come back to the flooder (got first byte 0x${b[o]!.toString(16)})`);
      if (b[o + 2 + len - 1]! >= 0x80) this.refused++;
      else this.granted++;
      o += 2 + len;
    }
    this.rest = b.subarray(o);
    if (this.waiter !== null && this.granted + this.refused >= this.waiter.n) this.waiter.resolve();
  }

  until(n: number, ms: number): Promise<void> {
    if (this.granted + this.refused >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${this.granted + this.refused} of ${n} SUBACKs`)), ms);
      this.waiter = { n, resolve: () => (clearTimeout(timer), resolve()) };
    });
  }
}

describe('SUBSCRIBE flood', () => {
  let node: TestNode;
  const clients: MqttClient[] = [];
  let flooder: net.Socket | null = null;

  before(async () => {
    node = await startTestNode({ maxSubscriptions: MAX_SUBSCRIPTIONS });
  });

  after(async () => {
    for (const c of clients) c.end(true);
    flooder?.destroy();
    await node.stop();
    removeDir(node.dataDir);
  });

  it(`one connection's ${FLOOD} SUBSCRIBEs all get SUBACKs, and a pair at 50 msgs/s loses nothing and never waits ${MAX_GAP_MS} ms`, async () => {
    const packets = Buffer.concat(Array.from({ length: FLOOD }, (_, k) => subscribePacket((k % 65535) + 1, `flood/${k}/+`)));
    const sub = await connect(node.url, { protocolVersion: 4, clientId: 'pair-sub' });
    const pub = await connect(node.url, { protocolVersion: 4, clientId: 'pair-pub' });
    clients.push(sub, pub);
    await sub.subscribeAsync('pair/t', { qos: 0 });

    const sock = net.connect({ host: '127.0.0.1', port: node.handle.mqtt.port });
    flooder = sock;
    sock.on('error', () => {});
    await new Promise<void>((ok, fail) => sock.once('connect', ok).once('error', fail));
    const connack = new Promise<Buffer>((resolve) => sock.once('data', resolve));
    sock.write(connectPacket('flooder'));
    assert.deepEqual([...(await connack)], [0x20, 2, 0, 0], 'CONNACK accepted');
    const subacks = new SubackCounter();
    sock.on('data', (d: Buffer) => subacks.push(d));

    // The pair: one message every 20 ms; the subscriber records the largest gap between arrivals.
    let sent = 0;
    let received = 0;
    let lastAt = performance.now();
    let maxGap = 0;
    let outOfOrder: string | null = null;
    let waitFor: { n: number; resolve: () => void } | null = null;
    sub.on('message', (_topic, payload) => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - lastAt);
      lastAt = now;
      if (payload.toString() !== String(received)) outOfOrder ??= `message ${payload.toString()} arrived as number ${received}`;
      received++;
      if (waitFor !== null && received >= waitFor.n) waitFor.resolve();
    });
    const pair = setInterval(() => pub.publish('pair/t', String(sent++), { qos: 0 }), PAIR_PERIOD_MS);

    const started = performance.now();
    try {
      // As fast as the socket takes them: only the broker's reading of this connection paces it.
      sock.write(packets);
      await subacks.until(FLOOD, 25_000);
    } finally {
      clearInterval(pair);
    }
    const floodMs = performance.now() - started;
    await new Promise<void>((resolve, reject) => {
      if (received >= sent) return resolve();
      const timer = setTimeout(() => reject(new Error(`the pair got ${received} of ${sent} messages`)), 5000);
      waitFor = { n: sent, resolve: () => (clearTimeout(timer), resolve()) };
    });
    console.log(`flood: ${FLOOD} SUBACKs in ${Math.round(floodMs)} ms; the pair got ${received} of ${sent}, largest gap ${Math.round(maxGap)} ms`);
    assert.equal(subacks.granted, MAX_SUBSCRIPTIONS, 'the first 10,000 filters granted');
    assert.equal(subacks.refused, FLOOD - MAX_SUBSCRIPTIONS, 'the rest refused (0x80): over --max-subscriptions');
    assert.equal(received, sent, 'the pair lost nothing');
    assert.equal(outOfOrder, null, 'the pair got its messages in order');
    assert.ok(sent > 0, 'the pair ran during the flood');
    assert.ok(maxGap < MAX_GAP_MS, `the pair waited ${Math.round(maxGap)} ms for a message`);
    assert.equal(node.handle.stats().subscriptions, MAX_SUBSCRIPTIONS + 1, 'the router holds the granted filters and the pair');
  });
});
