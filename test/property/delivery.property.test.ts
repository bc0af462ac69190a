// Delivery on one node, end to end through the real code: a real Router and the real Dispatcher
// (src/broker/dispatch.ts, what the node runs for every PUBLISH) whose DispatchTarget is an
// in-memory node in this file. Its QoS 0 fast path records a direct write; everything else goes
// to the client's real session actor (`handleSession`). A SUBSCRIBE updates the router when it is
// read, with the decision src/node.ts makes (decideSubscribe), the actor's 'routes' effects (a
// session's end) feed it as src/node.ts applies them, and its 'publish' effects are what the
// client receives.
// Test clients acknowledge at random points, disconnect and come back (resume, takeover), so the
// inflight window, the queue and redelivery are all exercised. No threads, sockets or timers:
// a virtual clock is passed as `now`.
//
// Checked against a reference written here from the MQTT rules:
//  (a) per publish, the copies each session gets: one for its matching non-shared subscriptions
//      unless all of them are No Local for its own message [MQTT-3.8.3-3], at min(message QoS,
//      max granted) [MQTT-3.3.4-2] with every matching subscription identifier [MQTT-3.3.4-3];
//      plus exactly one copy per matching shared group, to one of its members (MQTT 5.0 §4.8.2);
//  (b) per (publisher, subscriber, QoS) the order received is the order published (MQTT 4.6,
//      [MQTT-4.6.0-6]), across acks, window-full queueing, reconnects and redelivery;
//  (c) nothing routed at QoS ≥ 1 is lost and QoS 2 arrives once: after a final reconnect of every
//      session and acks of everything, (a) holds exactly and every window and queue is empty.
// Along the way: the client never holds more unacknowledged QoS 1/2 PUBLISHes than its Receive
// Maximum and our inflight cap [MQTT-3.3.4-9], a new PUBLISH never reuses an unacknowledged
// packet id [MQTT-2.2.1-3], and a DUP resend is always of an unacknowledged one [MQTT-3.3.1-1],
// in the order the originals were sent [MQTT-4.6.0-1].
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Dispatcher, type DispatchTarget } from '../../src/broker/dispatch.js';
import { handleSession } from '../../src/actors/session.js';
import {
  newOutput,
  SESSION_NEVER_EXPIRES,
  type OutgoingPublishSpec,
  type SessionEffect,
  type SessionEvent,
  type SessionLimits,
  type SessionState,
  type SubscribeRequest,
} from '../../src/actors/session-types.js';
import { decideSubscribe } from '../../src/actors/subscribe-decision.js';
import type { AppMessage, Delivery, ProtocolVersion, QoS, SubscriptionOptions } from '../../src/protocol/message.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { Router } from '../../src/routing/router.js';
import { parseSharedFilter } from '../../src/routing/topic.js';
import { propertyParams } from './harness.js';
import { refMatches } from '../helpers/topic-reference.js';

const T0 = 1_700_000_000_000;
const OUTSIDER = 'outsider';

// ---------------------------------------------------------------------------------------------
// Reference (topic matching: test/helpers/topic-reference.ts).

/** One copy of a message as a client sees it: the QoS it came at and its subscription ids. */
interface Copy {
  qos: QoS;
  ids: number[];
}

const copyKey = (c: Copy): string => `q${c.qos}[${c.ids.join(',')}]`;
const idSet = (ids: readonly number[]): number[] => [...new Set(ids)].sort((a, b) => a - b);
const minQos = (a: QoS, b: QoS): QoS => (a < b ? a : b);

interface ClientSpec {
  id: string;
  version: ProtocolVersion;
  /** Persistent sessions survive disconnects; the others stay online for the whole run. */
  persistent: boolean;
  startOnline: boolean;
  receiveMaximum: number;
  subs: Map<string, SubscriptionOptions>;
}

interface Publish {
  index: number;
  topic: string;
  qos: QoS;
  publisher: string;
}

/** The non-shared copy `client` must get of `p`, or null. */
function expectedDirect(client: ClientSpec, p: Publish): Copy | null {
  let qos: QoS | null = null;
  const ids: number[] = [];
  for (const [filter, o] of client.subs) {
    if (parseSharedFilter(filter) !== null || !refMatches(filter, p.topic)) continue;
    if (o.noLocal && p.publisher === client.id) continue; // [MQTT-3.8.3-3]
    const q = minQos(p.qos, o.qos); // [MQTT-3.3.4-2]: the highest over the matching subscriptions
    qos = qos === null || q > qos ? q : qos;
    if (o.subscriptionId !== undefined) ids.push(o.subscriptionId);
  }
  return qos === null ? null : { qos, ids: idSet(ids) };
}

/** Matching shared groups (keyed by name and inner filter): member → the copy it would get. */
function expectedGroups(clients: readonly ClientSpec[], p: Publish): Map<string, Map<string, Copy>> {
  const groups = new Map<string, Map<string, Copy>>();
  for (const c of clients) {
    for (const [filter, o] of c.subs) {
      const share = parseSharedFilter(filter);
      if (share === null || !refMatches(share.filter, p.topic)) continue;
      const key = `${share.group} ${share.filter}`;
      let members = groups.get(key);
      if (members === undefined) groups.set(key, (members = new Map()));
      members.set(c.id, { qos: minQos(p.qos, o.qos), ids: o.subscriptionId === undefined ? [] : [o.subscriptionId] });
    }
  }
  return groups;
}

/** Can every leftover copy be assigned to a distinct matching group it is a member of, with
 * every group used exactly once? (Backtracking; a handful of groups at most.) */
function assignGroups(left: { client: string; copy: Copy }[], groups: [string, Map<string, Copy>][], used: Set<string>): boolean {
  if (left.length === 0) return used.size === groups.length;
  const [first, ...rest] = left;
  for (const [key, members] of groups) {
    if (used.has(key)) continue;
    const want = members.get(first!.client);
    if (want === undefined || copyKey(want) !== copyKey(first!.copy)) continue;
    used.add(key);
    if (assignGroups(rest, groups, used)) return true;
    used.delete(key);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// The in-memory node and its clients.

interface Unacked {
  index: number;
  qos: 1 | 2;
  /** 'pub': PUBLISH held; 'rec': PUBREC sent; 'rel': PUBREL received, PUBCOMP to send. */
  stage: 'pub' | 'rec' | 'rel';
}

interface Receipt {
  index: number;
  publisher: string;
  copy: Copy;
  /** Written by the dispatcher's QoS 0 fast path rather than sent by the session actor. */
  direct: boolean;
}

class TestClient {
  connId: number | null = null;
  /** The client's side of its session: unacknowledged packet ids, in arrival order. */
  readonly unacked = new Map<number, Unacked>();
  readonly receipts: Receipt[] = [];
  /** Position in `unacked` of the last DUP resend on this connection. */
  resendCursor = -1;

  constructor(
    readonly spec: ClientSpec,
    private readonly window: number,
    private readonly publishes: readonly Publish[],
  ) {}

  onPublish(p: OutgoingPublishSpec, direct = false): void {
    const index = Number(new TextDecoder().decode(p.message.payload));
    const publish = this.publishes[index];
    assert.ok(publish !== undefined && publish.topic === p.message.topic, `${this.spec.id} got an unknown message ${index} on ${p.message.topic}`);
    const ids = idSet(p.subscriptionIds);
    assert.deepEqual(ids, p.subscriptionIds, `${this.spec.id}: subscription ids not a set ${JSON.stringify(p.subscriptionIds)}`);
    if (p.qos === 0) {
      assert.equal(p.packetId, undefined, 'QoS 0 PUBLISH with a packet id');
      assert.equal(p.dup, false, 'QoS 0 PUBLISH with DUP [MQTT-3.3.1-2]');
      this.receipts.push({ index, publisher: publish.publisher, copy: { qos: 0, ids }, direct });
      return;
    }
    const id = p.packetId;
    assert.ok(id !== undefined && id >= 1 && id <= 65535, `QoS ${p.qos} PUBLISH without a valid packet id`);
    const held = this.unacked.get(id);
    if (p.dup) {
      // A resend on resume of a PUBLISH the client has not acknowledged [MQTT-4.4.0-1]
      assert.ok(held !== undefined && held.stage === 'pub' && held.index === index && held.qos === p.qos,
        `${this.spec.id}: DUP resend of #${id} (message ${index}) that is not an unacknowledged PUBLISH`);
      // Resends come in the order the originals were sent [MQTT-4.6.0-1]; `unacked` keeps that order.
      const at = [...this.unacked.keys()].indexOf(id);
      assert.ok(at > this.resendCursor, `${this.spec.id}: DUP resend of #${id} out of the original order [MQTT-4.6.0-1]`);
      this.resendCursor = at;
      return;
    }
    assert.equal(held, undefined, `${this.spec.id}: new PUBLISH reuses unacknowledged packet id ${id} [MQTT-2.2.1-3]`);
    this.unacked.set(id, { index, qos: p.qos, stage: 'pub' });
    assert.ok(this.unacked.size <= this.window, `${this.spec.id}: ${this.unacked.size} unacknowledged > window ${this.window} [MQTT-3.3.4-9]`);
    this.receipts.push({ index, publisher: publish.publisher, copy: { qos: p.qos, ids }, direct });
  }

  onPubrel(id: number): void {
    const held = this.unacked.get(id);
    assert.ok(held !== undefined && held.qos === 2 && held.stage !== 'pub', `${this.spec.id}: PUBREL for #${id} that got no PUBREC`);
    held.stage = 'rel';
  }
}

class MemoryNode implements DispatchTarget {
  readonly router = new Router();
  readonly dispatcher = new Dispatcher(this.router, this);
  readonly sessions = new Map<string, SessionState | null>();
  readonly clients = new Map<string, TestClient>();
  /** Open connections as the node knows them (set at CONNACK, as src/node.ts does). */
  private readonly online = new Map<string, number>();
  /**
   * Connections the fast path may write to, from the actor's 'flow' effects. Effects apply
   * synchronously here, so the ticket round trip src/node.ts waits for before enabling is implicit.
   */
  private readonly direct = new Map<string, number>();
  private readonly byConn = new Map<number, TestClient>();
  private nextConnId = 1;
  now = T0;

  constructor(readonly limits: SessionLimits) {}

  // DispatchTarget
  isOnline(clientId: string): boolean {
    return this.online.has(clientId);
  }

  sendDirect(clientId: string, message: AppMessage, d: Delivery): boolean {
    const connId = this.direct.get(clientId);
    if (connId === undefined) return false;
    // src/node.ts writes the fast path as QoS 0, whatever the Delivery says.
    this.byConn.get(connId)!.onPublish({ message, qos: 0, dup: false, retain: d.retain, subscriptionIds: d.subscriptionIds }, true);
    return true;
  }

  toSession(clientId: string, message: AppMessage, d: Delivery): number {
    this.run(clientId, { type: 'deliver', message, qos: d.qos, retain: d.retain, subscriptionIds: d.subscriptionIds });
    return 0;
  }

  // The actor and its effects
  run(clientId: string, event: SessionEvent): void {
    this.now++;
    const out = newOutput();
    const next = handleSession(this.sessions.get(clientId) ?? null, event, this.now, this.limits, out);
    this.sessions.set(clientId, next);
    for (const e of out.effects) this.apply(clientId, e);
  }

  private apply(clientId: string, e: SessionEffect): void {
    switch (e.type) {
      case 'connack':
        this.online.set(e.clientId, e.connId);
        return;
      case 'flow':
        if (e.direct && this.online.get(e.clientId) === e.connId) this.direct.set(e.clientId, e.connId);
        else if (!e.direct && this.direct.get(e.clientId) === e.connId) this.direct.delete(e.clientId);
        return;
      case 'publish': {
        const client = this.byConn.get(e.connId);
        if (client !== undefined && client.connId === e.connId) client.onPublish(e.publish);
        return;
      }
      case 'packet': {
        const client = this.byConn.get(e.connId);
        if (client === undefined || client.connId !== e.connId) return;
        if (e.packet.cmd === 'pubrel') client.onPubrel(e.packet.messageId!);
        else if (e.packet.cmd === 'suback') {
          // Everything requested is valid and under the limits: granted as asked (max QoS 2).
          const wanted = [...client.spec.subs.values()].map((o) => o.qos);
          assert.deepEqual(e.packet.granted, wanted, `${clientId}: SUBACK`);
        } else assert.fail(`${clientId}: unexpected ${e.packet.cmd}`);
        return;
      }
      case 'close':
        assert.equal(e.reasonCode, ReasonCode.SessionTakenOver, `${clientId}: closed: ${e.detail}`);
        this.closeConn(e.connId);
        return;
      case 'routes':
        // As src/node.ts applies them.
        if (e.removeAll) {
          this.router.removeSession(e.clientId);
          return;
        }
        for (const a of e.add) this.router.subscribe(e.clientId, a.filter, a.options);
        return;
      case 'event':
        // A drop or an unknown ack would be a bug here: queues are unlimited, acks are genuine.
        assert.fail(`${clientId}: unexpected event ${e.name}: ${e.detail}`);
        return;
      default:
        assert.fail(`${clientId}: unexpected effect ${e.type}`);
    }
  }

  private closeConn(connId: number): void {
    const client = this.byConn.get(connId);
    if (client === undefined) return;
    this.byConn.delete(connId);
    if (client.connId === connId) client.connId = null;
    if (this.online.get(client.spec.id) === connId) this.online.delete(client.spec.id);
    if (this.direct.get(client.spec.id) === connId) this.direct.delete(client.spec.id);
  }

  // What a client does
  /** As src/node.ts reads a SUBSCRIBE: the router first, then the session. */
  subscribe(client: TestClient, requests: SubscribeRequest[]): void {
    const id = client.spec.id;
    const current = this.router.subscriptionsOf(id);
    const decision = decideSubscribe(current, current.size, requests, this.limits.maxSubscriptions);
    assert.equal(decision.protocolError, null, `${id}: SUBSCRIBE refused`);
    for (const { filter, options } of decision.add) this.router.subscribe(id, filter, options);
    this.run(id, { type: 'subscribe', connId: client.connId!, packetId: 1, requests });
  }

  connect(client: TestClient, first: boolean): void {
    const { spec } = client;
    const connId = this.nextConnId++;
    client.connId = connId;
    client.resendCursor = -1;
    this.byConn.set(connId, client);
    const expiry = spec.persistent ? (spec.version === 5 ? 3600 : SESSION_NEVER_EXPIRES) : 0;
    this.run(spec.id, {
      type: 'connect',
      connId,
      clientId: spec.id,
      protocolVersion: spec.version,
      // 3.1.1: Clean Session is the persistence flag; v5 starts clean once, then resumes.
      cleanStart: spec.version === 5 ? first : !spec.persistent,
      expiryIntervalSec: expiry,
      receiveMaximum: spec.receiveMaximum,
      will: null,
      username: null,
      ownerCheck: true,
    });
    assert.equal(this.online.get(spec.id), connId, `${spec.id}: no CONNACK`);
  }

  disconnect(client: TestClient, kind: 'normal' | 'abnormal'): void {
    const connId = client.connId;
    if (connId === null) return;
    // As src/node.ts on a closed connection: forget it, then tell the actor.
    this.closeConn(connId);
    this.run(client.spec.id, { type: 'disconnect', connId, kind });
  }

  /** The client acknowledges its k-th unacknowledged packet, one protocol step. */
  ack(client: TestClient, k: number): void {
    const connId = client.connId;
    if (connId === null || client.unacked.size === 0) return;
    const [id, held] = [...client.unacked][k % client.unacked.size]!;
    if (held.stage === 'rec') return; // waiting for the PUBREL
    if (held.qos === 1 || held.stage === 'rel') client.unacked.delete(id); // the id is free from now on
    if (held.qos === 1) this.run(client.spec.id, { type: 'puback', connId, packetId: id });
    else if (held.stage === 'pub') {
      held.stage = 'rec';
      this.run(client.spec.id, { type: 'pubrec', connId, packetId: id, reasonCode: ReasonCode.Success });
    } else this.run(client.spec.id, { type: 'pubcomp', connId, packetId: id });
  }
}

// ---------------------------------------------------------------------------------------------
// Generators

const qosArb = fc.constantFrom<QoS>(0, 1, 2);
const FILTERS = ['a', 'a/b', 'a/+', '+/b', '+', '#', 'a/#', '+/+', 'a/b/c', '+/#', '$s/#', '$s/+'];
const TOPICS = ['a', 'b', 'a/b', 'a/c', 'b/b', 'a/b/c', '$s/a', '$s'];
const filterArb = fc.oneof(
  { arbitrary: fc.constantFrom(...FILTERS), weight: 3 },
  { arbitrary: fc.tuple(fc.constantFrom('g1', 'g2'), fc.constantFrom(...FILTERS)).map(([g, f]) => `$share/${g}/${f}`), weight: 1 },
);

const clientArb = (i: number): fc.Arbitrary<ClientSpec> =>
  fc
    .record({
      version: fc.constantFrom<ProtocolVersion>(4, 5),
      persistent: fc.boolean(),
      startOnline: fc.boolean(),
      receiveMaximum: fc.integer({ min: 1, max: 4 }),
      subs: fc.uniqueArray(
        fc.record({ filter: filterArb, qos: qosArb, noLocal: fc.boolean(), subscriptionId: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }) }),
        { minLength: 1, maxLength: 4, selector: (s) => s.filter },
      ),
    })
    .map(({ version, persistent, startOnline, receiveMaximum, subs }) => ({
      id: `c${i}`,
      version,
      persistent: persistent || !startOnline, // an offline session that stays is a persistent one
      startOnline,
      receiveMaximum: version === 5 ? receiveMaximum : 65535,
      subs: new Map(
        subs.map(({ filter, qos, noLocal, subscriptionId }): [string, SubscriptionOptions] => {
          // 3.1.1 has neither No Local nor identifiers; No Local on a shared one is a Protocol Error [MQTT-3.8.3-4].
          const v5 = version === 5;
          const options: SubscriptionOptions = { qos, noLocal: v5 && noLocal && parseSharedFilter(filter) === null, retainAsPublished: false, retainHandling: 2 };
          return [filter, v5 && subscriptionId !== undefined ? { ...options, subscriptionId } : options];
        }),
      ),
    }));

type Step =
  | { kind: 'publish'; topic: string; qos: QoS; publisher: number }
  | { kind: 'ack'; client: number; k: number }
  | { kind: 'reconnect'; client: number }
  | { kind: 'disconnect'; client: number; how: 'normal' | 'abnormal' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('publish' as const), topic: fc.constantFrom(...TOPICS), qos: qosArb, publisher: fc.nat(6) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('ack' as const), client: fc.nat(5), k: fc.nat(8) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('reconnect' as const), client: fc.nat(5) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('disconnect' as const), client: fc.nat(5), how: fc.constantFrom<'normal' | 'abnormal'>('normal', 'abnormal') }), weight: 1 },
);

const scenarioArb = fc.record({
  clients: fc.integer({ min: 2, max: 6 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => clientArb(i)))),
  maxInflight: fc.integer({ min: 1, max: 4 }),
  // Unlimited, or far above what a run can queue: (c) needs nothing dropped.
  maxQueuedMessages: fc.constantFrom(0, 10_000),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 60 }),
});

// ---------------------------------------------------------------------------------------------

function checkDeliveries(clients: readonly ClientSpec[], node: MemoryNode, publishes: readonly Publish[]): void {
  for (const p of publishes) {
    const leftovers: { client: string; copy: Copy }[] = [];
    for (const spec of clients) {
      const got = node.clients.get(spec.id)!.receipts.filter((r) => r.index === p.index).map((r) => r.copy);
      const direct = expectedDirect(spec, p);
      if (direct !== null) {
        const at = got.findIndex((c) => copyKey(c) === copyKey(direct));
        assert.ok(at >= 0, `publish ${JSON.stringify(p)}: ${spec.id} should get ${copyKey(direct)}, got ${got.map(copyKey).join(' ') || 'nothing'}`);
        got.splice(at, 1);
      }
      for (const copy of got) leftovers.push({ client: spec.id, copy });
    }
    const groups = [...expectedGroups(clients, p)];
    assert.ok(
      assignGroups(leftovers, groups, new Set()),
      `publish ${JSON.stringify(p)}: copies beyond the non-shared ones ${JSON.stringify(leftovers.map((l) => `${l.client}:${copyKey(l.copy)}`))} ` +
        `are not exactly one per matching shared group ${JSON.stringify(groups.map(([k, m]) => [k, [...m].map(([c, cp]) => `${c}:${copyKey(cp)}`)]))}`,
    );
  }
}

function checkOrder(node: MemoryNode): void {
  for (const client of node.clients.values()) {
    // Per stream: the highest index received from the session actor, and from the fast path.
    const bySession = new Map<string, number>();
    const byDirect = new Map<string, number>();
    for (const r of client.receipts) {
      const stream = `${r.publisher} q${r.copy.qos}`;
      const fromSession = bySession.get(stream) ?? -1;
      const fromDirect = byDirect.get(stream) ?? -1;
      const prev = Math.max(fromSession, fromDirect);
      assert.ok(r.index >= prev, `${client.spec.id}: from ${r.publisher} at QoS ${r.copy.qos}, message ${r.index} arrived after ${prev} [MQTT-4.6.0-6]`);
      (r.direct ? byDirect : bySession).set(stream, Math.max(r.index, r.direct ? fromDirect : fromSession));
    }
  }
}

test('delivery on one node: exactly the matching sessions, spec QoS and ids, one per shared group, in order, nothing lost', () => {
  fc.assert(
    fc.property(scenarioArb, ({ clients, maxInflight, maxQueuedMessages, steps }) => {
      const limits: SessionLimits = { maxInflight, maxQueuedMessages, maxQueuedBytes: 0, maxSubscriptions: 0 };
      const node = new MemoryNode(limits);
      const publishes: Publish[] = [];
      const all: TestClient[] = clients.map((spec) => new TestClient(spec, Math.min(maxInflight, spec.receiveMaximum), publishes));
      for (const c of all) node.clients.set(c.spec.id, c);

      // Subscriptions go through the actor: CONNECT, SUBSCRIBE, and offline ones leave.
      for (const c of all) {
        node.connect(c, true);
        const requests = [...c.spec.subs].map(([filter, options]) => ({ filter, options }));
        node.subscribe(c, requests);
        if (!c.spec.startOnline) node.disconnect(c, 'abnormal');
      }

      for (const step of steps) {
        if (step.kind === 'publish') {
          const publisher = step.publisher < all.length ? all[step.publisher]!.spec.id : OUTSIDER;
          const p: Publish = { index: publishes.length, topic: step.topic, qos: step.qos, publisher };
          publishes.push(p);
          const message: AppMessage = { topic: p.topic, payload: new TextEncoder().encode(String(p.index)), qos: p.qos, retain: false, publisherId: publisher };
          node.dispatcher.dispatch(message);
          continue;
        }
        const client = all[step.client % all.length]!;
        if (step.kind === 'ack') node.ack(client, step.k);
        // Only persistent sessions come and go: ending a session would end its subscriptions.
        else if (!client.spec.persistent) continue;
        else if (step.kind === 'reconnect') node.connect(client, false); // resume, or takeover if online
        else node.disconnect(client, step.how);
      }

      // (c) Everyone comes back and acknowledges everything.
      for (const c of all) if (c.connId === null) node.connect(c, false);
      for (let guard = 0; all.some((c) => c.unacked.size > 0); guard++) {
        assert.ok(guard < 10_000, 'acknowledging everything does not terminate');
        for (const c of all) for (let i = 0; i < c.unacked.size; i++) node.ack(c, i);
      }
      for (const c of all) {
        const s = node.sessions.get(c.spec.id);
        assert.ok(s != null, `${c.spec.id}: session ended`);
        assert.deepEqual([s.inflight.length, s.queue.length], [0, 0], `${c.spec.id}: messages left in the session after acking everything`);
      }
      checkDeliveries(clients, node, publishes); // (a) and (c)
      checkOrder(node); // (b)
    }),
    propertyParams(),
  );
});
