// Traffic and accounting for cluster failure tests (rolling restart, graceful leave, multi-host):
// QoS 1 publishers and persistent QoS 1 subscribers (MQTT.js clients) spread over a cluster's
// nodes, that keep going through server disconnects. A client told DISCONNECT 0x9C/0x9D with a
// Server Reference reconnects there; otherwise (or when that fails) to another of the current
// targets. Publishers resend an unacknowledged message after a reconnect (at least once);
// subscribers resume their session (clean start off) and never subscribe again, so a session that
// did not come along shows up as lost. The account: every message PUBACKed to a publisher must
// reach every subscriber; duplicates are counted.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { IDisconnectPacket } from 'mqtt-packet';

export interface TrafficOptions {
  /** MQTT URLs of the nodes a client may (re)connect to now; asked at every reconnect. */
  targets(): readonly string[];
  /** Prefix of client ids and topics, unique per test. */
  readonly prefix: string;
  /** Publisher i starts on publishers[i] (a URL); one client each. */
  readonly publishers: readonly string[];
  /** Subscriber i starts on subscribers[i]; one persistent session each, subscribed to every publisher's topic. */
  readonly subscribers: readonly string[];
  /** Pause between one publisher's PUBACK and its next PUBLISH: a steady, CI-sized load. */
  readonly publishEveryMs: number;
  readonly protocolVersion?: 4 | 5;
  /** Give up a reconnect after trying this long (every target, with a short backoff). */
  readonly reconnectWithinMs?: number;
}

/** What one subscriber received of what was acknowledged. */
export interface SubscriberAccount {
  readonly clientId: string;
  readonly received: number;
  readonly unique: number;
  readonly duplicates: number;
  /** Acknowledged messages it has not received (payload ids, "publisher:seq"). */
  readonly missing: readonly string[];
  readonly reconnects: number;
  /** Reconnects answered with Session Present 0: the session (and what it held) was not there. */
  readonly sessionsLost: number;
}

export interface TrafficReport {
  readonly acknowledged: number;
  readonly publisherReconnects: number;
  /** PUBLISHes sent again after a reconnect, not knowing whether the first copy arrived. */
  readonly resent: number;
  readonly subscribers: readonly SubscriberAccount[];
  /** Server DISCONNECT reason codes seen, with how often. */
  readonly serverDisconnects: Readonly<Record<string, number>>;
  /** Server References followed. */
  readonly referencesFollowed: number;
}

const BACKOFF_MS = 50;
const CONNECT_TIMEOUT_MS = 5_000;

/** One logical client that outlives its connections. */
abstract class Rover {
  client: MqttClient | null = null;
  url: string;
  reconnects = 0;
  private stopped = false;
  private generation = 0;

  constructor(
    protected readonly traffic: Traffic,
    readonly clientId: string,
    url: string,
  ) {
    this.url = url;
  }

  protected abstract options(): IClientOptions;
  /** A connection is up (CONNACK received); `first`: the very first. */
  protected abstract onUp(client: MqttClient, sessionPresent: boolean, first: boolean): void;

  async start(): Promise<void> {
    await this.open(true);
  }

  stop(): Promise<void> {
    this.stopped = true;
    const c = this.client;
    this.client = null;
    return c === null ? Promise.resolve() : c.endAsync(true).catch(() => undefined);
  }

  /** Connects to this.url, else to the other targets in turn, until one answers CONNACK. */
  private async open(first: boolean): Promise<void> {
    const generation = ++this.generation;
    const deadline = Date.now() + (this.traffic.opts.reconnectWithinMs ?? 30_000);
    let candidates = [this.url];
    for (let attempt = 0; !this.stopped; attempt++) {
      if (candidates.length === 0) {
        candidates = this.traffic.opts.targets().filter((u) => u !== this.url || attempt > 0);
        if (candidates.length === 0) candidates = [...this.traffic.opts.targets()];
      }
      const url = candidates.shift()!;
      try {
        const { client, sessionPresent } = await connectOnce(url, this.options());
        if (this.stopped || generation !== this.generation) {
          client.end(true);
          return;
        }
        this.url = url;
        this.client = client;
        this.traffic.note(this.clientId, `connected to ${url}, session present ${sessionPresent}`);
        this.watch(client, generation);
        this.onUp(client, sessionPresent, first);
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${this.clientId}: no node took the connection within ${this.traffic.opts.reconnectWithinMs ?? 30_000} ms (last tried ${url}: ${(err as Error).message})`);
        // A retry policy, as a real client has; not a wait for an event.
        await new Promise((r) => setTimeout(r, BACKOFF_MS));
      }
    }
  }

  private watch(client: MqttClient, generation: number): void {
    let reference: string | undefined;
    client.on('disconnect', (packet: IDisconnectPacket) => {
      this.traffic.countDisconnect(packet.reasonCode ?? 0);
      reference = packet.properties?.serverReference;
      this.traffic.note(this.clientId, `DISCONNECT 0x${(packet.reasonCode ?? 0).toString(16)} from ${this.url}${reference === undefined ? '' : `, reference ${reference}`}`);
    });
    client.once('close', () => {
      if (this.stopped || generation !== this.generation) return;
      this.traffic.note(this.clientId, `closed: ${this.url}`);
      client.end(true);
      this.client = null;
      this.reconnects++;
      if (reference !== undefined) {
        this.traffic.referencesFollowed++;
        this.url = `mqtt://${reference.split(' ')[0]}`;
      } else {
        const others = this.traffic.opts.targets().filter((u) => u !== this.url);
        this.url = others[this.reconnects % Math.max(1, others.length)] ?? this.url;
      }
      this.open(false).catch((err: unknown) => this.traffic.fail(err));
    });
  }
}

function peerOf(client: MqttClient | null): string | null {
  const socket = client?.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  return socket?.remoteAddress === undefined ? null : `${socket.remoteAddress}:${socket.remotePort}`;
}

function connectOnce(url: string, options: IClientOptions): Promise<{ client: MqttClient; sessionPresent: boolean }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { ...options, reconnectPeriod: 0, connectTimeout: CONNECT_TIMEOUT_MS });
    const fail = (err: Error): void => {
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end(true);
      reject(err);
    };
    client.once('connect', (connack) => {
      client.removeListener('error', fail);
      client.removeListener('close', closed);
      client.on('error', () => undefined); // a later error ends in 'close', handled by watch()
      resolve({ client, sessionPresent: connack.sessionPresent });
    });
    const closed = (): void => fail(new Error('closed before CONNACK'));
    client.once('error', fail);
    client.once('close', closed);
  });
}

class Publisher extends Rover {
  private seq = 0;
  /** The message in flight; sent again on the next connection until acknowledged. */
  private pending: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = true;
  private readonly topic: string;

  constructor(traffic: Traffic, index: number, url: string) {
    super(traffic, `${traffic.opts.prefix}-pub-${index}`, url);
    this.topic = `${traffic.opts.prefix}/t/${index}`;
  }

  protected options(): IClientOptions {
    return { clientId: this.clientId, clean: true, protocolVersion: this.traffic.opts.protocolVersion ?? 5 };
  }

  protected onUp(client: MqttClient, _sessionPresent: boolean, first: boolean): void {
    if (!first && this.pending !== null) this.traffic.resent++;
    this.send(client);
  }

  halt(): void {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private send(client: MqttClient): void {
    if (!this.running) return;
    this.pending ??= ++this.seq;
    const id = `${this.clientId}:${this.pending}`;
    client.publish(this.topic, id, { qos: 1 }, (err) => {
      // A close before PUBACK leaves the message pending: the next connection sends it again.
      if (err !== undefined && err !== null) return;
      if (client !== this.client || this.pending === null || `${this.clientId}:${this.pending}` !== id) return;
      this.pending = null;
      this.traffic.acknowledged(id, this.url);
      if (!this.running) return;
      this.timer = setTimeout(() => {
        if (this.client === client) this.send(client);
      }, this.traffic.opts.publishEveryMs);
    });
  }
}

class Subscriber extends Rover {
  readonly seen = new Set<string>();
  /** Acknowledged but not received yet. */
  readonly owed = new Set<string>();
  received = 0;
  sessionsLost = 0;

  constructor(traffic: Traffic, index: number, url: string) {
    super(traffic, `${traffic.opts.prefix}-sub-${index}`, url);
  }

  protected options(): IClientOptions {
    const v5 = (this.traffic.opts.protocolVersion ?? 5) === 5;
    return { clientId: this.clientId, clean: false, protocolVersion: v5 ? 5 : 4, resubscribe: false, ...(v5 ? { properties: { sessionExpiryInterval: 3600 } } : {}) };
  }

  protected onUp(client: MqttClient, sessionPresent: boolean, first: boolean): void {
    if (!first && !sessionPresent) this.sessionsLost++;
    client.on('message', (_topic, payload) => {
      const id = payload.toString();
      this.received++;
      this.seen.add(id);
      this.owed.delete(id);
      this.traffic.changed();
    });
  }

  async subscribe(): Promise<void> {
    await this.client!.subscribeAsync(this.traffic.filter, { qos: 1 });
  }
}

export class Traffic {
  private readonly pubs: Publisher[];
  private readonly subs: Subscriber[];
  private readonly acked: string[] = [];
  /** When and where each message was acknowledged, and each client's connects and disconnects:
   * what a failure report shows next to a missing message. */
  private readonly ackedAt = new Map<string, string>();
  readonly timeline: string[] = [];
  private readonly t0 = Date.now();
  resent = 0;
  referencesFollowed = 0;
  private readonly disconnects: Record<string, number> = {};
  private failure: unknown = null;
  private waiter: (() => void) | null = null;

  constructor(readonly opts: TrafficOptions) {
    this.pubs = opts.publishers.map((url, i) => new Publisher(this, i, url));
    this.subs = opts.subscribers.map((url, i) => new Subscriber(this, i, url));
  }

  /** Connects the subscribers: persistent sessions, subscribed to every publisher's topic
   * (`filter`). In a cluster, wait until their routes are visible on the publishers' nodes before
   * startPublishing(): a message published where no route is known yet reaches nobody. */
  async startSubscribers(): Promise<void> {
    await Promise.all(this.subs.map((s) => s.start()));
    await Promise.all(this.subs.map((s) => s.subscribe()));
  }

  /** Where each subscriber is connected now ("host:port" of the node's end; null while between
   * connections), by client id: which subscribers a node's leave moves. */
  subscriberPeers(): Map<string, string | null> {
    return new Map(this.subs.map((s) => [s.clientId, peerOf(s.client)]));
  }

  get filter(): string {
    return `${this.opts.prefix}/t/#`;
  }

  async startPublishing(): Promise<void> {
    await Promise.all(this.pubs.map((p) => p.start()));
  }

  get acknowledgedCount(): number {
    return this.acked.length;
  }

  /** Resolves once at least `n` messages were acknowledged since start (or rejects on a client failure). */
  async waitAcknowledged(n: number, timeoutMs: number): Promise<void> {
    await this.until(() => this.acked.length >= n, timeoutMs, () => `${this.acked.length} of ${n} messages acknowledged`);
  }

  /** Stops publishing (what is in flight may still be acknowledged), then waits until every
   * subscriber has every acknowledged message; the report says what is missing if not. */
  async finish(timeoutMs: number): Promise<TrafficReport> {
    for (const p of this.pubs) p.halt();
    try {
      await this.until(() => this.subs.every((s) => s.owed.size === 0), timeoutMs, () => this.subs.map((s) => `${s.clientId} owed ${s.owed.size}`).join(', '));
    } catch {
      // reported as missing below
    }
    await Promise.all([...this.pubs, ...this.subs].map((c) => c.stop()));
    if (this.failure !== null) throw this.failure;
    return this.report();
  }

  report(): TrafficReport {
    return {
      acknowledged: this.acked.length,
      publisherReconnects: this.pubs.reduce((n, p) => n + p.reconnects, 0),
      resent: this.resent,
      subscribers: this.subs.map((s) => ({
        clientId: s.clientId,
        received: s.received,
        unique: s.seen.size,
        duplicates: s.received - s.seen.size,
        missing: [...s.owed],
        reconnects: s.reconnects,
        sessionsLost: s.sessionsLost,
      })),
      serverDisconnects: { ...this.disconnects },
      referencesFollowed: this.referencesFollowed,
    };
  }

  /** @internal */
  note(clientId: string, what: string): void {
    this.timeline.push(`+${Date.now() - this.t0} ms ${clientId}: ${what}`);
  }

  /** Where and when `id` was acknowledged (for a missing message), e.g. "+5120 ms by mqtt://…". */
  acknowledgedWhere(id: string): string | undefined {
    return this.ackedAt.get(id);
  }

  /** @internal */
  acknowledged(id: string, url: string): void {
    this.acked.push(id);
    this.ackedAt.set(id, `+${Date.now() - this.t0} ms by ${url}`);
    for (const s of this.subs) if (!s.seen.has(id)) s.owed.add(id);
    this.changed();
  }

  /** @internal */
  countDisconnect(reasonCode: number): void {
    const key = `0x${reasonCode.toString(16).padStart(2, '0')}`;
    this.disconnects[key] = (this.disconnects[key] ?? 0) + 1;
  }

  /** @internal */
  changed(): void {
    this.waiter?.();
  }

  /** @internal A client could not reconnect anywhere. */
  fail(err: unknown): void {
    this.failure ??= err;
    this.changed();
  }

  private until(done: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.failure !== null) {
          finish();
          reject(this.failure);
        } else if (done()) {
          finish();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`traffic: not reached within ${timeoutMs} ms: ${what()}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.waiter = null;
      };
      this.waiter = check;
      check();
    });
  }
}

/** One line per subscriber for the test log: received, duplicates, missing, reconnects. */
export function formatTrafficReport(r: TrafficReport): string {
  const lines = [
    `acknowledged ${r.acknowledged} QoS 1 messages; publisher reconnects ${r.publisherReconnects}, resent ${r.resent}; server disconnects ${JSON.stringify(r.serverDisconnects)}; Server References followed ${r.referencesFollowed}`,
  ];
  for (const s of r.subscribers) {
    lines.push(`  ${s.clientId}: received ${s.received}, unique ${s.unique}, duplicates ${s.duplicates}, missing ${s.missing.length}, reconnects ${s.reconnects}, sessions lost ${s.sessionsLost}`);
  }
  return lines.join('\n');
}
