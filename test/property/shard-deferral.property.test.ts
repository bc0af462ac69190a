// The shard's held-back writes (src/actors/deferred-puts.ts), through the real Shard: the same
// random sequence of deliveries (QoS 0, 1, 2; to online and offline persistent sessions; some
// expiring while queued),
// acknowledgements, disconnects, reconnects, time passing and commits completing is run against
// a shard that holds copies for their acknowledgement (DEFER_WRITE_MS) and one that writes every
// copy with its batch (deferWriteMs 0).
// Limits are drawn per run: windows of 1-3 copies, queues of 2, 4 or unlimited (a full queue
// drops its oldest QoS 0 copy, or the new copy, which is then owed to nobody). Checked:
//  (a) after every step, for both: a ticket has been answered only when every QoS 1/2 copy
//      delivered (and kept) before it is committed or was acknowledged by its subscriber (what
//      the publisher's PUBACK vouches for);
//  (b) tickets are answered in order, and all of them by the end; a QoS 2 PUBLISH is posted only
//      once its copy is committed (exactly once across a crash); no first PUBLISH of a copy is
//      posted while the store holds it as queued (a crash would send it again as new); on each
//      connection, PUBLISHes (resends aside) are posted in delivery order, also when timers run
//      late;
//  (c) after shutdown both stores hold exactly the same sessions: holding writes back moves a
//      put past ops that do not concern it, and cancels a put with its delete, nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFER_WRITE_MS, Shard } from '../../src/actors/shard.js';
import type { SessionEvent, SessionLimits } from '../../src/actors/session-types.js';
import type { ToShard } from '../../src/actors/shard-protocol.js';
import type { QoS } from '../../src/protocol/message.js';
import { connect, LIMITS, message, subOptions } from '../helpers/session-driver.js';
import { FakeClock, GatedStore, Port } from '../helpers/shard-fakes.js';
import { normalizeSessions } from '../unit/storage/normalize.js';
import { propertyParams } from './harness.js';

const CLIENTS = ['c0', 'c1', 'c2'];
/**
 * Small windows, so copies also wait in the queue and are sent (updated) later, and small queues,
 * so a full one drops its oldest QoS 0 copy (a delete of a copy that may be held back) or the new one.
 */
const limitsArb: fc.Arbitrary<SessionLimits> = fc.record({ maxInflight: fc.integer({ min: 1, max: 3 }), maxQueuedMessages: fc.constantFrom(0, 2, 4) }).map((l) => ({ ...LIMITS, ...l }));

type Step =
  | { t: 'deliver'; client: number; qos: QoS; ticket: boolean; expiresInMs: number | null }
  /** One publish to every client: a 'deliver' entry, whose copies to offline sessions are shared. */
  | { t: 'fanout'; qos: QoS; ticket: boolean; expiresInMs: number | null }
  | { t: 'ack'; client: number }
  | { t: 'disconnect'; client: number }
  | { t: 'connect'; client: number; clean: boolean }
  | { t: 'advance'; ms: number }
  /** Time passes but the due timers have not run yet (a busy event loop runs them late). */
  | { t: 'late'; ms: number }
  | { t: 'commit'; which: 0 | 1 | 2 };

/** Mostly none; else a message that expires while queued (an expired copy is deleted, not sent). */
const expiryArb = fc.option(fc.integer({ min: 1, max: 10 }), { freq: 4, nil: null });

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('deliver' as const), client: fc.nat(2), qos: fc.constantFrom<QoS>(0, 1, 1, 2), ticket: fc.boolean(), expiresInMs: expiryArb }), weight: 5 },
  { arbitrary: fc.record({ t: fc.constant('fanout' as const), qos: fc.constantFrom<QoS>(0, 1, 1, 2), ticket: fc.boolean(), expiresInMs: expiryArb }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('ack' as const), client: fc.nat(2) }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('disconnect' as const), client: fc.nat(2) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('connect' as const), client: fc.nat(2), clean: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.nat(DEFER_WRITE_MS + 2) }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('late' as const), ms: fc.nat(DEFER_WRITE_MS + 2) }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('commit' as const), which: fc.constantFrom<0 | 1 | 2>(0, 1, 2) }), weight: 3 },
);

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** One shard under test, with what the test needs to check it. */
class Subject {
  readonly store = new GatedStore();
  readonly port = new Port();
  readonly clock = new FakeClock();
  readonly shard: Shard;
  constructor(limits: SessionLimits, deferWriteMs: number) {
    this.shard = new Shard(this.port, this.store, limits, this.clock, deferWriteMs);
  }
  async releaseAll(): Promise<void> {
    while (this.store.waiting.length > 0) {
      this.store.release();
      await settle();
    }
  }
  /** The committed copies, "client:payload", with their stored state. */
  async committedPayloads(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const s of await this.store.inner.loadAll()) for (const m of s.messages) out.set(`${s.meta.clientId}:${Buffer.from(m.message.payload).toString()}`, m.state);
    return out;
  }
}

async function run(limits: SessionLimits, steps: Step[]): Promise<void> {
  const subjects = [new Subject(limits, DEFER_WRITE_MS), new Subject(limits, 0)] as const;
  for (const s of subjects) {
    s.store.gated = false;
    await s.shard.start();
  }
  const online = new Map<string, number>();
  let nextConn = 1;
  const send = async (batch: ToShard[]): Promise<void> => {
    for (const s of subjects) s.shard.handleBatch(batch);
    await settle();
  };
  const ev = (clientId: string, event: SessionEvent): ToShard => ({ t: 'event', clientId, event });
  for (const c of CLIENTS) {
    const connId = nextConn++;
    online.set(c, connId);
    await send([ev(c, connect({ clientId: c, connId, expiry: 60 })), ev(c, { type: 'subscribe', connId, packetId: 1, requests: [{ filter: 'a', options: subOptions(2) }] })]);
  }
  for (const s of subjects) s.store.gated = true;

  /** QoS 1/2 copies delivered before each ticket: "client:payload". */
  const owedBefore = new Map<number, string[]>();
  const owed: string[] = [];
  const acknowledged = new Set<string>();
  let k = 0;
  let ticket = 0;
  for (const step of steps) {
    switch (step.t) {
      case 'deliver':
      case 'fanout': {
        const payload = `m${k++}`;
        const m = message('a', payload, step.expiresInMs === null ? {} : { expiresAt: subjects[0].clock.now() + step.expiresInMs });
        const to = step.t === 'deliver' ? [CLIENTS[step.client]!] : CLIENTS;
        const batch: ToShard[] =
          step.t === 'deliver'
            ? [ev(to[0]!, { type: 'deliver', message: m, qos: step.qos, retain: false, subscriptionIds: [] })]
            : [{ t: 'deliver', message: m, clientIds: to, delivery: to.map(() => step.qos), subscriptionIds: to.map(() => []) }];
        if (step.ticket) batch.push({ t: 'ticket', id: ++ticket });
        await send(batch);
        // Owed unless a full queue dropped it (with an event; the sessions are the same in both shards).
        const kept = (c: string): boolean => {
          const st = subjects[0].shard.session(c);
          return st !== undefined && [...st.inflight, ...st.queue].some((m) => Buffer.from(m.message.payload).toString() === payload);
        };
        // A message that may expire is owed to nobody: [MQTT-3.3.2-5] lets it go unsent.
        if (step.qos > 0 && step.expiresInMs === null) for (const c of to) if (kept(c)) owed.push(`${c}:${payload}`);
        if (step.ticket) owedBefore.set(ticket, [...owed]);
        break;
      }
      case 'ack': {
        const c = CLIENTS[step.client]!;
        const connId = online.get(c);
        // The sessions evolve identically in both shards: the store never feeds back into them.
        const [a, b] = subjects.map((s) => s.shard.session(c));
        assert.deepEqual(a?.inflight.toArray(), b?.inflight.toArray());
        const m = a?.inflight.toArray()[0];
        if (connId === undefined || m === undefined) break;
        const key = `${c}:${Buffer.from(m.message.payload).toString()}`;
        let event: SessionEvent;
        if (m.qos === 1) {
          event = { type: 'puback', connId, packetId: m.packetId! };
          acknowledged.add(key);
        } else if (m.state === 'inflight') event = { type: 'pubrec', connId, packetId: m.packetId!, reasonCode: 0 };
        else {
          event = { type: 'pubcomp', connId, packetId: m.packetId! };
          acknowledged.add(key);
        }
        await send([ev(c, event)]);
        break;
      }
      case 'disconnect': {
        const c = CLIENTS[step.client]!;
        const connId = online.get(c);
        if (connId === undefined) break;
        online.delete(c);
        await send([ev(c, { type: 'disconnect', connId, kind: 'normal' })]);
        break;
      }
      case 'connect': {
        const c = CLIENTS[step.client]!;
        if (online.has(c) && !step.clean) break;
        const connId = nextConn++;
        online.set(c, connId);
        // Clean start (a takeover when online) ends the session: what it was owed is gone with it.
        if (step.clean) for (const key of owed) if (key.startsWith(`${c}:`)) acknowledged.add(key);
        const batch = [ev(c, connect({ clientId: c, connId, expiry: 60, cleanStart: step.clean }))];
        if (step.clean) batch.push(ev(c, { type: 'subscribe', connId, packetId: 1, requests: [{ filter: 'a', options: subOptions(2) }] }));
        await send(batch);
        break;
      }
      case 'advance':
        for (const s of subjects) s.clock.advance(step.ms);
        await settle();
        break;
      case 'late':
        for (const s of subjects) s.clock.t += step.ms;
        break;
      case 'commit':
        for (const [i, s] of subjects.entries()) if (step.which === 2 || step.which === i) await s.releaseAll();
        break;
    }
    for (const s of subjects) {
      // Order [MQTT-4.6.0]: on each connection, first sends (not DUP resends) in delivery order.
      const lastSent = new Map<number, number>();
      for (const e of s.port.effects()) {
        if (e.type !== 'publish' || e.publish.dup) continue;
        const n = Number(Buffer.from(e.publish.message.payload).toString().slice(1));
        assert.ok(n > (lastSent.get(e.connId) ?? -1), `connection ${e.connId}: m${n} posted after m${lastSent.get(e.connId)}`);
        lastSent.set(e.connId, n);
      }
      const committed = await s.committedPayloads();
      for (const e of s.port.effects()) {
        if (e.type !== 'publish' || e.publish.qos === 0) continue;
        const client = [...online.entries()].find(([, conn]) => conn === e.connId)?.[0] ?? `conn ${e.connId}`;
        if (online.get(client) !== e.connId) continue;
        const key = `${client}:${Buffer.from(e.publish.message.payload).toString()}`;
        // Exactly once: a QoS 2 PUBLISH leaves only once its copy is durable [MQTT-4.3.3].
        if (e.publish.qos === 2) assert.ok(committed.has(key) || acknowledged.has(key), `QoS 2 PUBLISH ${key} posted before its copy was committed`);
        // A copy sent is never durable as unsent: a crash would send it again as a new PUBLISH,
        // new packet id and DUP=0, to the client that has it [MQTT-3.3.1-1, MQTT-4.4.0-1].
        if (!e.publish.dup) assert.notEqual(committed.get(key), 'queued', `PUBLISH ${key} posted while its copy is committed as queued`);
      }
      for (const id of s.port.tickets()) {
        const lost = owedBefore.get(id)!.filter((key) => !committed.has(key) && !acknowledged.has(key));
        assert.deepEqual(lost, [], `ticket ${id} answered (deferWriteMs ${s === subjects[0] ? DEFER_WRITE_MS : 0}) while these copies are neither committed nor acknowledged`);
      }
    }
  }
  for (const s of subjects) {
    const closing = s.shard.shutdown();
    let done = false;
    void closing.then(() => (done = true));
    while (!done) {
      await s.releaseAll();
      await settle();
    }
    await closing;
    const all = Array.from({ length: ticket }, (_, i) => i + 1);
    assert.deepEqual(s.port.tickets(), all, 'every ticket answered, in order');
  }
  const [held, direct] = await Promise.all(subjects.map(async (s) => normalizeSessions(await s.store.inner.loadAll())));
  assert.deepEqual(held, direct, 'the same sessions stored with and without held-back writes');
}

test('held-back writes: tickets only for copies committed or acknowledged, and the same store as writing every copy', async () => {
  await fc.assert(
    fc.asyncProperty(limitsArb, fc.array(stepArb, { minLength: 1, maxLength: 60 }), (limits, steps) => run(limits, steps)),
    propertyParams(),
  );
});
