// The broker's part and the client's part around one real session actor, for the model-based
// property test (test/property/session-model.property.test.ts). The harness owns
//  - the real thing: `handleSession` state, a virtual clock, a MemorySessionStore fed with every
//    store op, and the history of op batches (a crash rebuilds from a fresh store replaying it);
//  - a model of what the spec says: session lifecycle, timers, will, subscriptions, inbound QoS 2
//    ids, and what the client has (its inflight packet ids, what it acknowledged).
// Every step computes its expectation from the model, runs the real transition, plays the
// effects as the client would see them and checks the invariants.
import assert from 'node:assert/strict';
import { exportSession, handleSession, importSession, restoreSession } from '../../src/actors/session.js';
import { decideSubscribe } from '../../src/actors/subscribe-decision.js';
import {
  newOutput,
  nextDeadline,
  SESSION_NEVER_EXPIRES,
  type SessionEvent,
  type SessionLimits,
  type SessionOutput,
  type SessionState,
} from '../../src/actors/session-types.js';
import type { ProtocolVersion, QoS, SubscriptionOptions } from '../../src/protocol/message.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { validateTopicFilter, parseSharedFilter } from '../../src/routing/topic.js';
import { MemorySessionStore } from '../../src/storage/memory-session-store.js';
import type { StoreOp } from '../../src/storage/types.js';
import { T0 } from './session-driver.js';

export const CLIENT = 'c1';

interface ModelSession {
  connId: number | null;
  version: ProtocolVersion;
  expirySec: number;
  receiveMaximum: number;
  will: { topic: string; delaySec: number } | null;
  willDueAt: number | null;
  expiresAt: number | null;
  subscriptions: Set<string>;
  inbound: Set<number>;
}

/** What the model says one step must produce. */
interface Expectation {
  wills: string[];
  /** The connection closed with 0x8E, if a takeover happens. */
  takenOver: number | null;
  /** The session ends in this step (routes removeAll expected). */
  ends: boolean;
}

interface ClientPacket {
  topic: string;
  qos: QoS;
  /** 'pub': PUBLISH received; 'rec': PUBREC sent (PUBREL awaited); 'rel': PUBREL received. */
  stage: 'pub' | 'rec' | 'rel';
}

export interface ConnectSpec {
  version: ProtocolVersion;
  cleanStart: boolean;
  expirySec: number;
  receiveMaximum: number;
  will: { delaySec: number } | null;
}

export type DisconnectKindSpec = 'normal' | 'will' | 'abnormal' | 'server';
export type AckVariant = 'normal' | 'refuse' | 'discard' | 'wrong' | 'stray';

const expectNothing = (): Expectation => ({ wills: [], takenOver: null, ends: false });

export class SessionHarness {
  state: SessionState | null = null;
  now = T0;
  store = new MemorySessionStore();
  readonly history: StoreOp[][] = [];
  m: ModelSession | null = null;
  /** Messages the session owes the client: topic → expiry. */
  readonly pending = new Map<string, number | undefined>();
  /** The client's view of its unfinished QoS 1/2 packet ids. */
  readonly client = new Map<number, ClientPacket>();
  /** QoS 2 topics the client sent PUBREC for: never to be sent again. */
  readonly received = new Set<string>();
  /** The packet id of a PUBREC the client sent for nothing: its PUBREL answer is expected. */
  private strayPubrec: number | null = null;
  private nextConnId = 1;
  private nextMessage = 1;
  private nextWill = 1;

  constructor(readonly limits: SessionLimits) {}

  get window(): number {
    return Math.min(this.limits.maxInflight, this.m?.receiveMaximum ?? 65535);
  }

  get connected(): boolean {
    return this.m?.connId != null;
  }

  private fireWill(exp: Expectation): void {
    const m = this.m!;
    if (m.will !== null) exp.wills.push(m.will.topic);
    m.will = null;
    m.willDueAt = null;
  }

  private endModel(exp: Expectation, withRoutes = true): void {
    this.m = null;
    this.pending.clear();
    this.client.clear();
    this.received.clear();
    if (withRoutes) exp.ends = true;
  }

  // ---- commands ----

  async connect(c: ConnectSpec): Promise<void> {
    const exp = expectNothing();
    const connId = this.nextConnId++;
    const m = this.m;
    if (m !== null && m.connId !== null) {
      exp.takenOver = m.connId;
      const ends = c.cleanStart || m.expirySec === 0;
      if (m.will !== null && (m.will.delaySec === 0 || ends)) this.fireWill(exp);
      if (ends) this.endModel(exp);
    } else if (m !== null && c.cleanStart) {
      this.fireWill(exp);
      this.endModel(exp);
    }
    const present = this.m !== null;
    const willTopic = c.will === null ? null : `will/${this.nextWill++}`;
    const next: ModelSession = this.m ?? { connId: null, version: c.version, expirySec: 0, receiveMaximum: 65535, will: null, willDueAt: null, expiresAt: null, subscriptions: new Set(), inbound: new Set() };
    Object.assign(next, {
      connId,
      version: c.version,
      expirySec: c.expirySec,
      receiveMaximum: c.receiveMaximum,
      will: c.will === null ? null : { topic: willTopic!, delaySec: c.will.delaySec },
      willDueAt: null,
      expiresAt: null,
    });
    this.m = next;
    const event: SessionEvent = {
      type: 'connect',
      connId,
      clientId: CLIENT,
      protocolVersion: c.version,
      cleanStart: c.cleanStart,
      expiryIntervalSec: c.expirySec,
      receiveMaximum: c.receiveMaximum,
      will: c.will === null ? null : {
        message: { topic: willTopic!, payload: new Uint8Array([1]), qos: 1, retain: false, publisherId: CLIENT },
        delaySec: c.will.delaySec,
      },
      username: null,
      ownerCheck: true,
    };
    const out = await this.step(event, exp);
    const acks = out.effects.filter((e) => e.type === 'connack');
    assert.deepEqual(acks, [{ type: 'connack', connId, clientId: CLIENT, sessionPresent: present }]);
  }

  async disconnect(kind: DisconnectKindSpec, newExpirySec: number | undefined): Promise<void> {
    const m = this.m;
    if (m === null || m.connId === null) return;
    const exp = expectNothing();
    const connId = m.connId;
    m.connId = null;
    // The transport refuses a DISCONNECT raising the expiry from 0 [MQTT-3.14.2-2]: never sent.
    const sendExpiry = newExpirySec !== undefined && m.version === 5 && m.expirySec !== 0 ? newExpirySec : undefined;
    if (sendExpiry !== undefined) m.expirySec = sendExpiry;
    if (kind === 'normal') m.will = null;
    else this.closeWill(exp);
    if (m.expirySec === 0) this.endModel(exp);
    else m.expiresAt = m.expirySec === SESSION_NEVER_EXPIRES ? null : this.now + m.expirySec * 1000;
    await this.step(sendExpiry === undefined ? { type: 'disconnect', connId, kind } : { type: 'disconnect', connId, kind, expiryIntervalSec: sendExpiry }, exp);
  }

  /** The will at an abnormal close: now, or after its delay capped by the session expiry [MQTT-3.1.3-9]. */
  private closeWill(exp: Expectation): void {
    const m = this.m!;
    if (m.will === null) return;
    if (m.will.delaySec === 0 || m.expirySec === 0) this.fireWill(exp);
    else m.willDueAt = this.now + Math.min(m.will.delaySec, m.expirySec) * 1000;
  }

  async deliver(qos: QoS, payloadBytes: number, expirySec: number | null): Promise<void> {
    if (this.m === null) return; // the router only delivers to existing sessions
    const topic = `m/${this.nextMessage++}`;
    const expiresAt = expirySec === null ? undefined : this.now + expirySec * 1000;
    this.pending.set(topic, expiresAt);
    const message = { topic, payload: new Uint8Array(payloadBytes), qos, retain: false, publisherId: 'p', ...(expiresAt === undefined ? {} : { expiresAt }) };
    await this.step({ type: 'deliver', message, qos, retain: false, subscriptionIds: [] }, expectNothing());
  }

  /**
   * The client acknowledges (the next step of) its `pick`-th unfinished packet. Variants: 'refuse'
   * answers a QoS 2 PUBLISH with a failing PUBREC (v5), 'discard' is the node finding the PUBLISH
   * too large for the client [MQTT-3.1.2-25], 'wrong' sends the other kind of ack (ignored),
   * 'stray' acks a packet id that was never used (ignored).
   */
  async ack(pick: number, variant: AckVariant = 'normal'): Promise<void> {
    const m = this.m;
    if (m === null || m.connId === null) return;
    const connId = m.connId;
    if (variant === 'stray') {
      const packetId = 1000 + pick; // ids stay far below: one per delivery
      const kinds = ['puback', 'pubrec', 'pubcomp'] as const;
      const type = kinds[pick % 3]!;
      this.strayPubrec = type === 'pubrec' ? packetId : null;
      await this.step(type === 'pubrec' ? { type, connId, packetId, reasonCode: 0 } : { type, connId, packetId }, expectNothing());
      this.strayPubrec = null;
      return;
    }
    if (this.client.size === 0) return;
    const [id, p] = [...this.client.entries()][pick % this.client.size]!;
    if (variant === 'wrong' && p.stage === 'pub') {
      await this.step(p.qos === 1 ? { type: 'pubcomp', connId, packetId: id } : { type: 'puback', connId, packetId: id }, expectNothing());
      return;
    }
    if (variant === 'discard' && p.stage === 'pub') {
      this.client.delete(id);
      this.pending.delete(p.topic);
      this.received.add(p.topic);
      await this.step({ type: 'discarded', connId, packetId: id }, expectNothing());
      return;
    }
    if (p.qos === 1) {
      this.client.delete(id);
      this.pending.delete(p.topic);
      await this.step({ type: 'puback', connId, packetId: id }, expectNothing());
    } else if (p.stage === 'pub') {
      const refuse = variant === 'refuse' && m.version === 5;
      this.pending.delete(p.topic);
      this.received.add(p.topic);
      if (refuse) this.client.delete(id);
      else p.stage = 'rec';
      await this.step({ type: 'pubrec', connId, packetId: id, reasonCode: refuse ? ReasonCode.UnspecifiedError : 0 }, expectNothing());
      if (!refuse) assert.equal(this.client.get(id)?.stage, 'rel', `PUBREL for ${id} after PUBREC`);
    } else {
      assert.equal(p.stage, 'rel');
      this.client.delete(id);
      await this.step({ type: 'pubcomp', connId, packetId: id }, expectNothing());
    }
  }

  async subscribe(requests: { filter: string; options: SubscriptionOptions }[]): Promise<void> {
    const m = this.m;
    if (m === null || m.connId === null) return;
    const granted: number[] = [];
    const retained: string[] = [];
    // What the main thread decides when it reads this SUBSCRIBE, from its router's view (which
    // holds what the session holds): the routes it adds and the retained messages it sends.
    const view = new Set(m.subscriptions);
    const decision = decideSubscribe(view, view.size, requests, this.limits.maxSubscriptions);
    for (const { filter, options } of requests) {
      if (validateTopicFilter(filter) !== null) {
        granted.push(m.version === 5 ? ReasonCode.TopicFilterInvalid : 0x80);
        continue;
      }
      const exists = m.subscriptions.has(filter);
      if (!exists && this.limits.maxSubscriptions > 0 && m.subscriptions.size >= this.limits.maxSubscriptions) {
        granted.push(m.version === 5 ? ReasonCode.QuotaExceeded : 0x80);
        continue;
      }
      m.subscriptions.add(filter);
      granted.push(options.qos);
      if (parseSharedFilter(filter) === null && (options.retainHandling === 0 || (options.retainHandling === 1 && !exists))) retained.push(filter);
    }
    const out = await this.step({ type: 'subscribe', connId: m.connId, packetId: 1, requests }, expectNothing());
    const packets = out.effects.flatMap((e) => (e.type === 'packet' && e.packet.cmd === 'suback' ? [e.packet.granted] : []));
    assert.deepEqual(packets, [granted]);
    assert.deepEqual(decision.retained.map((r) => r.filter), retained, 'retained messages on subscribe');
    assert.deepEqual(m.version === 5 ? decision.codes : decision.codes.map((c) => (c >= 0x80 ? 0x80 : c)), granted, 'main decides what SUBACK says');
  }

  async unsubscribe(filters: string[]): Promise<void> {
    const m = this.m;
    if (m === null || m.connId === null) return;
    const codes = filters.map((f) => (m.subscriptions.delete(f) ? 0 : ReasonCode.NoSubscriptionExisted));
    const out = await this.step({ type: 'unsubscribe', connId: m.connId, packetId: 2, filters }, expectNothing());
    assert.deepEqual(out.effects.flatMap((e) => (e.type === 'packet' && e.packet.cmd === 'unsuback' ? [e.packet.granted] : [])), [codes]);
  }

  /** Inbound QoS 2 from the client: the node asks qos2Check, routes, reports qos2Routed; then PUBREL. */
  async inbound(kind: 'check' | 'routed' | 'pubrel', packetId: number): Promise<void> {
    const m = this.m;
    if (m === null || m.connId === null) return;
    const connId = m.connId;
    if (kind === 'check') {
      const duplicate = m.inbound.has(packetId);
      const out = await this.step({ type: 'qos2Check', connId, packetId }, expectNothing());
      assert.deepEqual(out.effects, [{ type: 'qos2Status', connId, clientId: CLIENT, packetId, duplicate }]);
    } else if (kind === 'routed') {
      m.inbound.add(packetId);
      const out = await this.step({ type: 'qos2Routed', connId, packetId, reasonCode: 0 }, expectNothing());
      assert.deepEqual(out.effects, [{ type: 'packet', connId, packet: { cmd: 'pubrec', messageId: packetId } }]);
    } else {
      const known = m.inbound.delete(packetId);
      const out = await this.step({ type: 'pubrel', connId, packetId }, expectNothing());
      const packet = known || m.version !== 5 ? { cmd: 'pubcomp', messageId: packetId } : { cmd: 'pubcomp', messageId: packetId, reasonCode: ReasonCode.PacketIdentifierNotFound };
      assert.deepEqual(out.effects, [{ type: 'packet', connId, packet }]);
    }
  }

  /** Time passes; the shard's timer fires exactly at the session's deadline if that is reached. */
  async advance(ms: number): Promise<void> {
    const deadline = this.modelDeadline();
    const target = this.now + ms;
    if (deadline === null || deadline > target) {
      this.now = target;
      return;
    }
    this.now = Math.max(this.now, deadline);
    await this.timer();
  }

  /** A timer event now (also a spurious, early one: the shell may fire early and rearm). */
  async timer(): Promise<void> {
    const exp = expectNothing();
    const m = this.m;
    if (m !== null && m.connId === null) {
      if (m.willDueAt !== null && m.willDueAt <= this.now) this.fireWill(exp);
      if (m.expiresAt !== null && m.expiresAt <= this.now) {
        this.fireWill(exp); // at session end if that comes first [MQTT-3.1.3-9]
        this.endModel(exp);
      }
    }
    await this.step({ type: 'timer' }, exp);
  }

  /** The node dies and restarts: the session is rebuilt from its stored ops alone. */
  async crash(): Promise<void> {
    const exp = expectNothing();
    const m = this.m;
    if (m !== null) {
      if (m.expirySec === 0) {
        this.endModel(exp, false); // never stored: gone with the process, and its will with it
      } else if (m.connId !== null) {
        m.connId = null; // an abnormal close at restart time
        this.closeWill(exp);
        m.expiresAt = m.expirySec === SESSION_NEVER_EXPIRES ? null : this.now + m.expirySec * 1000;
      }
    }
    const fresh = new MemorySessionStore();
    for (const batch of this.history) await fresh.apply(batch);
    assert.deepEqual(await fresh.loadAll(), await this.store.loadAll(), 'replaying every op on a fresh store gives what the live store holds');
    this.store = fresh;
    const out = newOutput();
    let restored: SessionState | null = null;
    for (const stored of await fresh.loadAll()) restored = restoreSession(stored, this.now, out);
    this.state = restored;
    await this.finish(out, exp);
  }

  // ---- running and checking one step ----

  private async step(event: SessionEvent, exp: Expectation): Promise<SessionOutput> {
    const out = newOutput();
    this.state = handleSession(this.state, event, this.now, this.limits, out);
    await this.finish(out, exp);
    return out;
  }

  private async finish(out: SessionOutput, exp: Expectation): Promise<void> {
    this.history.push(out.store);
    await this.store.apply(out.store);
    const dropped = this.playEffects(out, exp);
    this.checkState(dropped);
    await this.checkStore();
  }

  /** Plays the effects as the client and the broker see them; returns the topics dropped by the queue limits. */
  private playEffects(out: SessionOutput, exp: Expectation): Set<string> {
    const wills: string[] = [];
    const closes: number[] = [];
    const dropped = new Set<string>();
    let removedAll = false;
    const live = this.m?.connId ?? null;
    for (const e of out.effects) {
      switch (e.type) {
        case 'publish': {
          assert.equal(e.connId, live, 'a PUBLISH goes to the live connection only');
          const p = e.publish;
          const topic = p.message.topic;
          assert.ok(!this.received.has(topic), `${topic} sent again after PUBREC [MQTT-4.3.3-?]`);
          if (p.qos === 0) {
            assert.ok(this.pending.has(topic), `QoS 0 ${topic} sent at most once`);
            this.pending.delete(topic);
            break;
          }
          const id = p.packetId!;
          const known = this.client.get(id);
          if (p.dup) {
            assert.equal(known?.topic, topic, `DUP resend of packet ${id} carries the same message`);
            assert.equal(known.stage, 'pub', 'no PUBLISH resend once PUBREC was sent');
          } else {
            assert.equal(known, undefined, `packet id ${id} reused while inflight (${known?.topic} → ${topic}) [MQTT-2.2.1-3]`);
            assert.ok([...this.client.values()].every((c) => c.topic !== topic), `${topic} resent without DUP [MQTT-3.3.1-1]`);
            this.client.set(id, { topic, qos: p.qos, stage: 'pub' });
            assert.ok(this.client.size <= this.window, `inflight ${this.client.size} over the window ${this.window}`);
          }
          break;
        }
        case 'packet':
          if (e.packet.cmd === 'pubrel') {
            assert.equal(e.connId, live);
            const id = e.packet.messageId ?? -1;
            if (id === this.strayPubrec) {
              // PUBREC for an unknown id is still answered, so the client can finish its flow
              // (v5 with 0x92 Packet Identifier not found; 3.1.1 has no reason codes)
              assert.equal(e.packet.reasonCode, this.m?.version === 5 ? ReasonCode.PacketIdentifierNotFound : undefined);
              break;
            }
            const p = this.client.get(id);
            assert.ok(p !== undefined && p.qos === 2 && p.stage !== 'pub', `PUBREL ${id} answers a PUBREC`);
            p.stage = 'rel';
          }
          break;
        case 'route':
          wills.push(e.message.topic);
          break;
        case 'close':
          assert.equal(e.reasonCode, ReasonCode.SessionTakenOver);
          closes.push(e.connId);
          break;
        case 'routes':
          if (e.removeAll) removedAll = true;
          break;
        case 'event':
          if (e.name === 'session.queue.drop') {
            const topic = / on (\S+)$/.exec(e.detail)?.[1];
            assert.ok(topic !== undefined, e.detail);
            dropped.add(topic);
          }
          break;
        default:
          break;
      }
    }
    assert.deepEqual(wills, exp.wills, 'wills published exactly when due');
    assert.deepEqual(closes, exp.takenOver === null ? [] : [exp.takenOver], 'the replaced connection is closed with 0x8E');
    assert.equal(removedAll, exp.ends, 'routes removed exactly when the session ends');
    return dropped;
  }

  private modelDeadline(): number | null {
    const m = this.m;
    if (m === null) return null;
    if (m.willDueAt !== null && m.expiresAt !== null) return Math.min(m.willDueAt, m.expiresAt);
    return m.willDueAt ?? m.expiresAt;
  }

  private checkState(dropped: Set<string>): void {
    const s = this.state;
    const m = this.m;
    assert.equal(s === null, m === null, 'the session exists exactly when the model says so');
    if (s === null || m === null) return;
    assert.equal(s.connId, m.connId, 'the live connection is the last accepted one');
    assert.equal(nextDeadline(s), this.modelDeadline(), 'timers');
    assert.deepEqual(new Set(Object.keys(s.subscriptions)), m.subscriptions);
    assert.deepEqual(new Set(s.inboundQos2), m.inbound);
    assert.equal(s.inboundQos2.length, m.inbound.size);
    // Nothing owed is lost: it is queued or inflight, or expired, or dropped with an event.
    const held = new Set([...s.queue, ...s.inflight].map((x) => x.message.topic));
    for (const [topic, expiresAt] of this.pending) {
      if (held.has(topic)) continue;
      const expired = expiresAt !== undefined && expiresAt <= this.now;
      assert.ok(expired || dropped.has(topic), `${topic} lost without an event`);
      this.pending.delete(topic);
    }
    for (const topic of dropped) assert.ok(!held.has(topic), `${topic} reported dropped but still held`);
    if (this.limits.maxQueuedMessages > 0) assert.ok(s.queue.length <= this.limits.maxQueuedMessages);
    const bytes = s.queue.toArray().reduce((a, x) => a + x.message.payload.byteLength + x.message.topic.length, 0);
    assert.equal(s.queuedBytes, bytes);
    assert.equal(s.queuedQos0, s.queue.toArray().filter((x) => x.qos === 0).length, 'queuedQos0 counts the queued QoS 0 messages');
    assert.equal(s.subscriptionCount, Object.keys(s.subscriptions).length, 'subscriptionCount counts the subscriptions');
    if (this.limits.maxQueuedBytes > 0) assert.ok(bytes <= this.limits.maxQueuedBytes);
    // The client's unfinished packets are exactly the session's inflight ones.
    assert.deepEqual(
      s.inflight.toArray().map((x) => [x.packetId, x.message.topic, x.state === 'released' ? 'rel' : 'pub']).sort(),
      [...this.client.entries()].map(([id, c]) => [id, c.topic, c.stage]).sort(),
    );
    assert.deepEqual(exportSession(importSession(exportSession(s))), exportSession(s), 'export → import');
  }

  /** The store holds exactly the persistent session, and restoring it gives the live state. */
  private async checkStore(): Promise<void> {
    const stored = (await this.store.loadAll()).filter((x) => x.meta.clientId === CLIENT);
    const s = this.state;
    if (s === null || s.expiryIntervalSec === 0) {
      assert.deepEqual(stored, [], 'nothing stored for an ended or non-persistent session');
      return;
    }
    assert.equal(stored.length, 1);
    const st = stored[0]!;
    const r = restoreSession(structuredClone(st), this.now, newOutput());
    assert.ok(r !== null);
    assert.equal(r.protocolVersion, s.protocolVersion);
    assert.equal(r.expiryIntervalSec, s.expiryIntervalSec);
    assert.deepEqual(r.subscriptions, s.subscriptions);
    assert.equal(r.subscriptionCount, s.subscriptionCount);
    assert.deepEqual([...r.inboundQos2].sort(), [...s.inboundQos2].sort());
    assert.deepEqual(r.inflight.toArray(), s.inflight.toArray());
    assert.deepEqual(r.queue.toArray(), s.queue.toArray());
    assert.equal(r.queuedBytes, s.queuedBytes);
    assert.equal(r.queuedQos0, s.queuedQos0);
    assert.deepEqual(st.meta.will, s.will);
    if (s.connId === null) {
      assert.equal(r.disconnectedAt, s.disconnectedAt);
      assert.equal(r.willDueAt, s.willDueAt);
      assert.equal(r.expiresAt, s.expiresAt);
    } else {
      assert.equal(st.meta.disconnectedAt, null);
    }
  }
}
