// kill -9 durability: the broker runs as a real child process (test/helpers/process-node.ts), is
// SIGKILLed with acknowledged messages in its sessions, and is started again on the same data
// directory. Whatever it acknowledged must come back.
//
// What "acknowledged" means here — the group-commit window (src/actors/shard.ts, src/node.ts):
// every event the main thread sends a shard within one event-loop turn arrives as one batch, and
// the shard applies the store ops of a batch (queued messages, inflight state, QoS 2 packet ids,
// subscriptions) in one SQLite transaction. While a transaction is being committed, newer batches
// accumulate and go into the next one, so the window is as long as the previous commit took. The
// effects of a batch (packets to clients, and the durability tickets) are released only after its
// transaction committed, except outgoing QoS 0/1 PUBLISHes, which may go first: if the broker dies
// before the commit, the subscriber may already hold that copy and the publisher, never
// acknowledged, sends it again (a duplicate, which QoS 1 allows; nothing is lost). A QoS 1
// PUBLISH is answered with PUBACK (a QoS 2 one with PUBREC) only
// once every shard holding a session the message was queued for has returned the ticket sent after
// that delivery, i.e. once the message is committed there (and in retained.db when retained), or,
// for a QoS 0/1 copy to an online session, whose write the shard holds back for a few ms, once
// that copy is committed or acknowledged by its subscriber (who then has it). So a message can be lost in a crash only while its PUBACK has not been sent — the publisher then
// still owns it and retransmits. With --storage-sync normal (WAL, synchronous=NORMAL) a commit
// survives a process crash (this test) but not necessarily a power loss; 'full' covers that too.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import type { IConnackPacket, IConnectPacket, IPubcompPacket, IPublishPacket, Packet } from 'mqtt-packet';
import { shardOf } from '../../src/actors/supervisor.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { startProcessNode, type ProcessNode } from '../helpers/process-node.js';

const SESSION_NEVER_EXPIRES = 0xffffffff;
const MESSAGES = 1000;
/** The broker's Receive Maximum and window (--max-inflight, below); MQTT.js does not enforce it itself. */
const PUBLISH_WINDOW = 32;
/** Below the default window (256), so that a subscriber withholding PUBACKs has messages queued too. */
const BROKER_ARGS = ['--max-inflight', String(PUBLISH_WINDOW)];

function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what()}`)), ms);
    }),
  ]);
}

/** An MQTT.js client whose message handler is attached before CONNECT is sent. */
async function mqttClient(url: string, opts: IClientOptions, onMessage?: (packet: IPublishPacket) => void): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...opts });
  if (onMessage) client.on('message', (_t, _p, packet) => onMessage(packet));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    }),
    10_000,
    () => `CONNACK for ${opts.clientId}`,
  );
  return client;
}

async function publishAll(client: MqttClient, topic: string, ids: number[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++]!;
      await client.publishAsync(topic, JSON.stringify({ id }), { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: PUBLISH_WINDOW }, worker));
}

function idOf(p: IPublishPacket): number {
  return (JSON.parse(p.payload.toString()) as { id: number }).id;
}

/** A raw TCP client with control over acknowledgements. */
class RawClient {
  readonly packets: Packet[] = [];
  readonly closed: Promise<void>;
  onPacket: (p: Packet) => void = () => {};
  private readonly parser;
  private wakers: Array<() => void> = [];

  private constructor(
    readonly socket: net.Socket,
    readonly version: 4 | 5,
    readonly url: string,
  ) {
    this.parser = mqttPacket.parser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      this.onPacket(p);
      const w = this.wakers;
      this.wakers = [];
      for (const f of w) f();
    });
    socket.on('data', (d: Buffer) => this.parser.parse(d));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(port: number, version: 4 | 5, clientId: string, over: Partial<IConnectPacket> = {}): Promise<{ client: RawClient; connack: IConnackPacket }> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await withTimeout(new Promise<void>((ok, fail) => socket.once('connect', ok).once('error', fail)), 5000, () => 'TCP connect');
    const client = new RawClient(socket, version, `mqtt://127.0.0.1:${port}`);
    const persistence: Partial<IConnectPacket> = version === 5 ? { clean: false, properties: { sessionExpiryInterval: SESSION_NEVER_EXPIRES } } : { clean: false };
    client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, keepalive: 0, ...persistence, ...over } as IConnectPacket);
    const connack = (await client.waitFor((p) => p.cmd === 'connack', 'CONNACK')) as IConnackPacket;
    return { client, connack };
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.version }));
  }

  /** Resolves with the first packet so far (or later) matching `pred`. */
  waitFor(pred: (p: Packet) => boolean, what: string, ms = 10_000): Promise<Packet> {
    return withTimeout(
      new Promise<Packet>((resolve) => {
        const check = (): void => {
          const hit = this.packets.find(pred);
          if (hit) resolve(hit);
          else this.wakers.push(check);
        };
        check();
      }),
      ms,
      () => `${what} (got ${this.packets.map((p) => p.cmd).join(',')})`,
    );
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Publishes a QoS 2 marker to the raw subscriber's topic and completes the exchange on its side. */
async function publisher2Marker(client: RawClient, v: 4 | 5): Promise<void> {
  client.onPacket = (p) => {
    if (p.cmd === 'publish') client.send({ cmd: 'pubrec', messageId: p.messageId! });
    if (p.cmd === 'pubrel') client.send({ cmd: 'pubcomp', messageId: p.messageId! });
  };
  const port = Number(new URL(client.url).port);
  const pub = await mqttClient(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: `crash-q2-out-marker-v${v}` });
  try {
    await pub.publishAsync(`crash/q2out/v${v}`, `after-v${v}`, { qos: 2 });
    await client.waitFor((p) => p.cmd === 'publish' && p.payload.toString() === `after-v${v}`, 'the marker');
  } finally {
    pub.end(true);
  }
}

describe('kill -9 durability (broker as a child process)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-crash-'));
  let broker: ProcessNode;
  const clients: MqttClient[] = [];
  const raws: RawClient[] = [];

  async function restart(): Promise<void> {
    const t0 = Date.now();
    await broker.kill9();
    assert.equal((await broker.exited).signal, 'SIGKILL');
    broker = await startProcessNode(dataDir, BROKER_ARGS);
    console.log(`kill -9 + restart: ${Date.now() - t0} ms`);
  }

  function closeClients(): void {
    for (const c of clients.splice(0)) c.end(true);
    for (const r of raws.splice(0)) r.destroy();
  }

  before(async () => {
    broker = await startProcessNode(dataDir, BROKER_ARGS);
  });

  after(async () => {
    closeClients();
    await broker?.stop().catch(() => broker.kill9());
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`offline persistent subscribers (3.1.1 clean=false, v5 expiry 0xFFFFFFFF) get all ${MESSAGES} acknowledged QoS 1 messages after kill -9`, async () => {
    const subs = [
      { clientId: 'crash-sub-v4', opts: { protocolVersion: 4, clean: false } },
      { clientId: 'crash-sub-v5', opts: { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: SESSION_NEVER_EXPIRES } } },
    ] as const;
    for (const s of subs) {
      const c = await mqttClient(broker.url, { ...s.opts, clientId: s.clientId });
      await c.subscribeAsync('crash/offline/#', { qos: 1 });
      await c.endAsync();
    }
    const publisher = await mqttClient(broker.url, { protocolVersion: 5, clientId: 'crash-pub' });
    clients.push(publisher);
    const t0 = Date.now();
    await publishAll(publisher, 'crash/offline/x', Array.from({ length: MESSAGES }, (_, i) => i));
    console.log(`${MESSAGES} QoS 1 publishes to 2 persistent sessions acknowledged in ${Date.now() - t0} ms`);
    closeClients();

    await restart();

    for (const s of subs) {
      const got: IPublishPacket[] = [];
      let wake: () => void = () => {};
      const c = await mqttClient(broker.url, { ...s.opts, clientId: s.clientId }, (p) => {
        got.push(p);
        if (new Set(got.map(idOf)).size >= MESSAGES) wake();
      });
      clients.push(c);
      await withTimeout(new Promise<void>((resolve) => ((wake = resolve), new Set(got.map(idOf)).size >= MESSAGES && resolve())), 20_000, () => `${MESSAGES} messages on ${s.clientId} (got ${got.length})`);
      const ids = got.map(idOf);
      const missing = Array.from({ length: MESSAGES }, (_, i) => i).filter((i) => !ids.includes(i));
      assert.deepEqual(missing, [], `${s.clientId}: none missing`);
      const seen = new Set<number>();
      const badDuplicates: number[] = [];
      for (const p of got) {
        const id = idOf(p);
        if (seen.has(id) && !p.dup) badDuplicates.push(id);
        seen.add(id);
      }
      assert.deepEqual(badDuplicates, [], `${s.clientId}: a duplicate must carry DUP=1`);
      const duplicates = got.length - seen.size;
      console.log(`${s.clientId}: ${seen.size} distinct of ${MESSAGES}, ${duplicates} duplicates`);
      assert.deepEqual(ids.slice(0, MESSAGES), [...ids.slice(0, MESSAGES)].sort((a, b) => a - b), `${s.clientId}: in publish order`);
    }
    closeClients();
  });

  it('kill -9 in the middle of a publish stream: every message that got its PUBACK is delivered after restart', async () => {
    // One subscriber offline, one online acknowledging as it goes; the kill lands while
    // publishes (and their commits) are in flight.
    const offline = { protocolVersion: 4, clean: false, clientId: 'crash-mid-offline' } as const;
    const online = { protocolVersion: 5, clean: false, clientId: 'crash-mid-online', properties: { sessionExpiryInterval: SESSION_NEVER_EXPIRES } } as const;
    const c1 = await mqttClient(broker.url, offline);
    await c1.subscribeAsync('crash/mid/#', { qos: 1 });
    await c1.endAsync();
    const receivedBefore = new Set<number>();
    const c2 = await mqttClient(broker.url, online, (p) => receivedBefore.add(idOf(p)));
    c2.on('error', () => {});
    await c2.subscribeAsync('crash/mid/#', { qos: 1 });
    clients.push(c2);

    const publisher = mqtt.connect(broker.url, { reconnectPeriod: 0, protocolVersion: 5, clientId: 'crash-mid-pub' });
    publisher.on('error', () => {});
    await withTimeout(new Promise<void>((r) => publisher.once('connect', () => r())), 10_000, () => 'publisher CONNACK');
    clients.push(publisher);
    const acked = new Set<number>();
    let next = 0;
    let killed = false;
    const KILL_AFTER = 300;
    const worker = async (): Promise<void> => {
      while (!killed && next < 5000) {
        const id = next++;
        try {
          await publisher.publishAsync('crash/mid/x', JSON.stringify({ id }), { qos: 1 });
          acked.add(id); // whenever it is read, the broker sent this PUBACK before it died
        } catch {
          return; // the connection died with the broker
        }
      }
    };
    const workers = Promise.all(Array.from({ length: PUBLISH_WINDOW }, worker));
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = (): void => (acked.size >= KILL_AFTER ? resolve() : void setImmediate(check));
        check();
      }),
      15_000,
      () => `${KILL_AFTER} PUBACKs (have ${acked.size})`,
    );
    await broker.kill9();
    killed = true;
    closeClients();
    await withTimeout(workers.then(() => {}), 15_000, () => 'the publishing loop to stop');
    const ackedAtKill = new Set(acked);
    const inFlight = next - ackedAtKill.size;
    broker = await startProcessNode(dataDir, BROKER_ARGS);

    for (const [opts, before] of [[offline, new Set<number>()], [online, receivedBefore]] as const) {
      const got: IPublishPacket[] = [];
      const missing = (): number[] => [...ackedAtKill].filter((id) => !before.has(id) && !got.some((p) => idOf(p) === id));
      let wake: () => void = () => {};
      const c = await mqttClient(broker.url, opts, (p) => {
        got.push(p);
        if (missing().length === 0) wake();
      });
      clients.push(c);
      await withTimeout(new Promise<void>((resolve) => ((wake = resolve), missing().length === 0 && resolve())), 15_000, () => `${opts.clientId}: acknowledged ids ${missing().slice(0, 10).join(',')}... (${missing().length} missing)`);
      const extra = got.filter((p) => !ackedAtKill.has(idOf(p))).length;
      console.log(`${opts.clientId}: ${ackedAtKill.size} acknowledged before the kill (${inFlight} in flight) all delivered; ${before.size} before, ${got.length} after restart (${extra} not acknowledged to the publisher)`);
      for (const p of got) if (before.has(idOf(p))) assert.equal(p.dup, true, `${opts.clientId}: id ${idOf(p)} again, so DUP=1`);
    }
    closeClients();
  });

  it('the will of a persistent session connected at kill -9 is published after restart, to subscribers on every shard', async () => {
    // Client ids on each of the 2 shards, so a will and a subscription are restored by
    // different shards in both orders.
    const onShard = (prefix: string, shard: number): string => {
      for (let i = 0; ; i++) if (shardOf(`${prefix}-${i}`, 2) === shard) return `${prefix}-${i}`;
    };
    const subs = [0, 1].map((shard) => ({ protocolVersion: 5, clean: false, clientId: onShard('crash-will-sub', shard), properties: { sessionExpiryInterval: SESSION_NEVER_EXPIRES } }) as const);
    for (const o of subs) {
      const c = await mqttClient(broker.url, o);
      await c.subscribeAsync('crash/will/#', { qos: 1 });
      await c.endAsync();
    }
    const willers = [
      { protocolVersion: 5, clean: false, clientId: onShard('crash-will-v5', 0), properties: { sessionExpiryInterval: 300 } },
      { protocolVersion: 4, clean: false, clientId: onShard('crash-will-v4', 1) },
    ] as const;
    for (const o of willers) {
      const c = await mqttClient(broker.url, { ...o, will: { topic: `crash/will/${o.clientId}`, payload: Buffer.from(`gone-${o.clientId}`), qos: 1, retain: false } });
      c.on('error', () => {});
      clients.push(c);
    }
    await restart();
    closeClients();
    for (const o of subs) {
      const got: IPublishPacket[] = [];
      const c = await mqttClient(broker.url, o, (p) => got.push(p));
      clients.push(c);
      await withTimeout(
        new Promise<void>((resolve) => {
          const check = (): void => (got.length >= willers.length ? resolve() : void setImmediate(check));
          check();
        }),
        10_000,
        () => `${o.clientId}: both wills (got ${got.map((p) => p.topic).join(',')})`,
      );
      assert.deepEqual(got.map((p) => p.payload.toString()).sort(), willers.map((w) => `gone-${w.clientId}`).sort());
    }
    closeClients();
  });

  it('an online subscriber withholding PUBACKs gets the unacknowledged messages again after kill -9', async () => {
    const N = 200;
    const all = Array.from({ length: N }, (_, i) => i);
    const holders = [4, 5] as const;
    const before = new Map<number, Map<number, IPublishPacket>>();
    for (const v of holders) {
      const { client, connack } = await RawClient.connect(broker.port, v, `crash-hold-v${v}`);
      raws.push(client);
      assert.equal(connack.sessionPresent, false);
      const received = new Map<number, IPublishPacket>();
      before.set(v, received);
      client.onPacket = (p) => {
        if (p.cmd !== 'publish') return;
        const id = idOf(p);
        received.set(id, p);
        // Acknowledge even ids only: the odd ones stay inflight until the window is full.
        if (id % 2 === 0) client.send({ cmd: 'puback', messageId: p.messageId! });
      };
      client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'crash/hold/#', qos: 1 }] });
      await client.waitFor((p) => p.cmd === 'suback', 'SUBACK');
    }
    const publisher = await mqttClient(broker.url, { protocolVersion: 5, clientId: 'crash-pub-hold' });
    clients.push(publisher);
    await publishAll(publisher, 'crash/hold/x', all);
    // Every message was acknowledged to the publisher; the subscribers hold the broker's whole
    // inflight window (32) of odd ids unacknowledged, and the rest is queued.
    for (const v of holders) {
      const withheld = () => [...before.get(v)!.keys()].filter((id) => id % 2 === 1).length;
      await withTimeout(
        new Promise<void>((resolve) => {
          const check = (): void => (withheld() >= PUBLISH_WINDOW ? resolve() : void setImmediate(check));
          check();
        }),
        10_000,
        () => `v${v} to withhold ${PUBLISH_WINDOW} (has ${withheld()})`,
      );
    }
    await restart();
    closeClients();

    for (const v of holders) {
      const received = before.get(v)!;
      const { client, connack } = await RawClient.connect(broker.port, v, `crash-hold-v${v}`);
      raws.push(client);
      assert.equal(connack.sessionPresent, true, 'the session survived');
      const after: IPublishPacket[] = [];
      let wake: () => void = () => {};
      const need = (): number[] => all.filter((id) => !(id % 2 === 0 && received.has(id)) && !after.some((p) => idOf(p) === id));
      client.onPacket = (p) => {
        if (p.cmd !== 'publish') return;
        after.push(p);
        client.send({ cmd: 'puback', messageId: p.messageId! });
        if (need().length === 0) wake();
      };
      // Packets that arrived with the CONNACK were parsed before onPacket was set.
      for (const p of client.packets) if (p.cmd === 'publish') client.onPacket(p);
      await withTimeout(new Promise<void>((resolve) => ((wake = resolve), need().length === 0 && resolve())), 15_000, () => `v${v}: ids ${need().slice(0, 10).join(',')}... after restart`);
      const withheld = [...received.keys()].filter((id) => id % 2 === 1);
      for (const p of after) {
        const id = idOf(p);
        if (received.has(id)) assert.equal(p.dup, true, `v${v}: id ${id} was sent before the crash, so it is resent with DUP=1 [MQTT-4.4.0-1]`);
      }
      const redelivered = after.filter((p) => withheld.includes(idOf(p))).length;
      console.log(`v${v}: before kill received ${received.size} (withheld ${withheld.length}); after restart ${after.length}, of which ${redelivered} redelivered withheld`);
      assert.equal(redelivered, withheld.length, 'every withheld message came again');
    }
    closeClients();
  });

  it('retained messages and inbound QoS 2 state survive kill -9; the QoS 2 message is delivered exactly once', async () => {
    // Retained: one kept, one set and then cleared, both acknowledged before the kill.
    const publisher = await mqttClient(broker.url, { protocolVersion: 5, clientId: 'crash-retain-pub' });
    clients.push(publisher);
    await publisher.publishAsync('crash/retained/kept', 'kept-value', { qos: 1, retain: true });
    await publisher.publishAsync('crash/retained/cleared', 'old', { qos: 1, retain: true });
    await publisher.publishAsync('crash/retained/cleared', '', { qos: 1, retain: true });

    // A persistent QoS 2 subscriber, offline while the QoS 2 messages come in.
    const subOpts = { protocolVersion: 5, clean: false, clientId: 'crash-q2-sub', properties: { sessionExpiryInterval: SESSION_NEVER_EXPIRES } } as const;
    const sub = await mqttClient(broker.url, subOpts);
    await sub.subscribeAsync('crash/q2/#', { qos: 2 });
    await sub.endAsync();

    // Outbound QoS 2 half-way: a subscriber got the PUBLISH, answered PUBREC, got PUBREL and
    // withholds PUBCOMP when the broker dies.
    const halfway = new Map<4 | 5, RawClient>();
    for (const v of [4, 5] as const) {
      const { client } = await RawClient.connect(broker.port, v, `crash-q2-out-v${v}`);
      raws.push(client);
      halfway.set(v, client);
      client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `crash/q2out/v${v}`, qos: 2 }] });
      await client.waitFor((p) => p.cmd === 'suback', 'SUBACK');
      await publisher.publishAsync(`crash/q2out/v${v}`, `out-v${v}`, { qos: 2 });
      const pub = (await client.waitFor((p) => p.cmd === 'publish', 'PUBLISH')) as IPublishPacket;
      client.send({ cmd: 'pubrec', messageId: pub.messageId! });
      const pubrel = await client.waitFor((p) => p.cmd === 'pubrel', 'PUBREL');
      assert.equal(pubrel.messageId, pub.messageId);
    }

    // QoS 2 publishers (v5 and 3.1.1) get PUBREC, then the broker dies before their PUBREL.
    const pubs = new Map<4 | 5, RawClient>();
    for (const v of [4, 5] as const) {
      const { client } = await RawClient.connect(broker.port, v, `crash-q2-pub-v${v}`);
      raws.push(client);
      pubs.set(v, client);
      client.send({ cmd: 'publish', topic: `crash/q2/v${v}`, payload: Buffer.from(`once-v${v}`), qos: 2, messageId: 7, dup: false, retain: false });
      const pubrec = await client.waitFor((p) => p.cmd === 'pubrec', 'PUBREC');
      assert.equal(pubrec.messageId, 7);
      if (v === 5) assert.equal((pubrec as { reasonCode?: number }).reasonCode ?? 0, ReasonCode.Success);
    }
    await restart();
    closeClients();

    // The half-way outbound QoS 2 exchange resumes with PUBREL, not a second PUBLISH [MQTT-4.4.0-1].
    for (const v of [4, 5] as const) {
      const before = halfway.get(v)!.packets.find((p) => p.cmd === 'publish')!;
      const { client, connack } = await RawClient.connect(broker.port, v, `crash-q2-out-v${v}`);
      raws.push(client);
      assert.equal(connack.sessionPresent, true);
      const pubrel = await client.waitFor((p) => p.cmd === 'pubrel', 'PUBREL resent after restart');
      assert.equal(pubrel.messageId, before.messageId);
      client.send({ cmd: 'pubcomp', messageId: pubrel.messageId! });
      await publisher2Marker(client, v);
      assert.deepEqual(client.packets.filter((p) => p.cmd === 'publish').map((p) => (p as IPublishPacket).payload.toString()), [`after-v${v}`], 'the message itself was not sent again');
    }

    // Retained state after restart.
    const retained: IPublishPacket[] = [];
    const reader = await mqttClient(broker.url, { protocolVersion: 5, clientId: 'crash-retain-reader' }, (p) => retained.push(p));
    clients.push(reader);
    await reader.subscribeAsync('crash/retained/#', { qos: 1 });
    await reader.publishAsync('crash/retained/marker', 'live', { qos: 1 });
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = (): void => (retained.some((p) => p.topic === 'crash/retained/marker') ? resolve() : void setImmediate(check));
        check();
      }),
      10_000,
      () => `the marker (got ${retained.map((p) => p.topic).join(',')})`,
    );
    assert.deepEqual(
      retained.map((p) => `${p.topic}=${p.payload.toString()} retain=${p.retain}`),
      ['crash/retained/kept=kept-value retain=true', 'crash/retained/marker=live retain=false'],
      'the kept retained message survived and the cleared one stayed cleared',
    );

    for (const v of [4, 5] as const) {
      const { client, connack } = await RawClient.connect(broker.port, v, `crash-q2-pub-v${v}`);
      raws.push(client);
      assert.equal(connack.sessionPresent, true);
      // A resent PUBLISH (DUP=1) with the same id is not a new message [MQTT-4.3.3-10]...
      client.send({ cmd: 'publish', topic: `crash/q2/v${v}`, payload: Buffer.from(`once-v${v}`), qos: 2, messageId: 7, dup: true, retain: false });
      await client.waitFor((p) => p.cmd === 'pubrec' && p.messageId === 7, 'PUBREC for the resent PUBLISH');
      // ...and PUBREL finds the packet id: PUBCOMP 0, not 0x92 Packet Identifier not found.
      client.send({ cmd: 'pubrel', messageId: 7 });
      const pubcomp = (await client.waitFor((p) => p.cmd === 'pubcomp', 'PUBCOMP')) as IPubcompPacket;
      assert.equal(pubcomp.messageId, 7);
      if (v === 5) assert.equal(pubcomp.reasonCode ?? 0, ReasonCode.Success, 'the packet id state survived the crash');
      // A marker after the exchange: once it arrives, any second copy would have arrived too.
      client.send({ cmd: 'publish', topic: `crash/q2/v${v}`, payload: Buffer.from(`marker-v${v}`), qos: 2, messageId: 8, dup: false, retain: false });
      await client.waitFor((p) => p.cmd === 'pubrec' && p.messageId === 8, 'PUBREC for the marker');
      client.send({ cmd: 'pubrel', messageId: 8 });
      await client.waitFor((p) => p.cmd === 'pubcomp' && p.messageId === 8, 'PUBCOMP for the marker');
    }

    const got: IPublishPacket[] = [];
    const markers = (): number => got.filter((p) => p.payload.toString().startsWith('marker-')).length;
    const s2 = await mqttClient(broker.url, subOpts, (p) => got.push(p));
    clients.push(s2);
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = (): void => (markers() === 2 ? resolve() : void setImmediate(check));
        check();
      }),
      10_000,
      () => `both markers (got ${got.map((p) => p.payload.toString()).join(',')})`,
    );
    for (const v of [4, 5]) {
      const copies = got.filter((p) => p.payload.toString() === `once-v${v}`);
      assert.equal(copies.length, 1, `v${v}: the QoS 2 message is delivered exactly once`);
      assert.equal(copies[0]!.qos, 2);
    }
    closeClients();
  });
});
