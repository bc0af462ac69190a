// Properties of the SQLite session store, checked against the memory store as the model:
//  1. after every batch of a generated op sequence both stores hold the same sessions (and the
//     SQLite file still does after close + reopen);
//  2. kill -9 of a writer process at a random point loses no batch it reported committed, never
//     leaves half a batch, and leaves a file that passes PRAGMA integrity_check.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { AppMessage, SubscriptionOptions } from '../../src/protocol/message.js';
import { MemorySessionStore } from '../../src/storage/memory-session-store.js';
import { SqliteDb } from '../../src/storage/sqlite-db.js';
import { SqliteSessionStore } from '../../src/storage/sqlite-session-store.js';
import type { SessionMeta, StoredMessage, StoredMessageState, StoredSession, StoreOp } from '../../src/storage/types.js';
import { normalizeSessions } from '../unit/storage/normalize.js';
import { propertyParams } from './harness.js';
import { appMessageArb, subOptionsArb, willArb } from './message-arbitraries.js';

const params = propertyParams();
// Each crash run forks a Node process (~0.5 s): 30 of them by default, scaled with SHOAL_RUNS.
const crashRuns = Math.max(1, Math.ceil((params.numRuns * 30) / 200));

let dir = '';
let counter = 0;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
const freshFile = (): string => path.join(dir, `prop-${counter++}.db`);

// ---- generators: a few clients, seqs increasing per client ----

const CLIENTS = ['a', 'b', 'c'] as const;
const clientArb = fc.nat({ max: CLIENTS.length - 1 });
const stateArb = fc.constantFrom<StoredMessageState>('queued', 'inflight', 'released');
const packetIdArb = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null });
const filterArb = fc.constantFrom('a/#', '+/b', 'x', '__proto__');

/** An op with its message seq not yet chosen: `pick` selects an existing seq (or a missing one). */
type Intent =
  | { k: 'putMeta'; c: number; meta: Omit<SessionMeta, 'clientId'> }
  | { k: 'deleteSession'; c: number }
  | { k: 'putSubscription'; c: number; filter: string; options: SubscriptionOptions }
  | { k: 'deleteSubscription'; c: number; filter: string }
  /**
   * `reuse` picks the AppMessage object of an earlier putMessage (any batch), as a fan-out does;
   * `again` puts a live seq of the client again (a session re-persisting its queue) instead of a new one.
   */
  | { k: 'putMessage'; c: number; body: Omit<StoredMessage, 'seq'>; reuse: number | null; again: number | null }
  /** One frozen queued StoredMessage put to several clients under one seq, as a shard's 'deliver' entry does (`asOne`: as one putShared op). */
  | { k: 'putShared'; cs: number[]; body: Pick<StoredMessage, 'qos' | 'retain' | 'subscriptionIds' | 'message'>; asOne: boolean }
  | { k: 'updateMessage'; c: number; pick: number; state: StoredMessageState; packetId: number | null }
  | { k: 'deleteMessage'; c: number; pick: number }
  | { k: 'putQos2'; c: number; packetId: number }
  | { k: 'deleteQos2'; c: number; packetId: number };

const intentArb: fc.Arbitrary<Intent> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('putMeta' as const), c: clientArb, meta: fc.record({ username: fc.option(fc.constantFrom('', 'alice', 'bob'), { nil: null }), protocolVersion: fc.constantFrom(3 as const, 4 as const, 5 as const), expiryIntervalSec: fc.constantFrom(0, 60, 0xffffffff), disconnectedAt: fc.option(fc.nat(), { nil: null }), will: willArb }) }), weight: 3 },
  { arbitrary: fc.record({ k: fc.constant('deleteSession' as const), c: clientArb }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('putSubscription' as const), c: clientArb, filter: filterArb, options: subOptionsArb }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('deleteSubscription' as const), c: clientArb, filter: filterArb }), weight: 1 },
  {
    arbitrary: fc.record({
      k: fc.constant('putMessage' as const),
      c: clientArb,
      body: fc.record({ state: stateArb, packetId: packetIdArb, qos: fc.constantFrom(0 as const, 1 as const, 2 as const), retain: fc.boolean(), subscriptionIds: fc.array(fc.integer({ min: 1, max: 268_435_455 }), { maxLength: 3 }), message: appMessageArb }),
      reuse: fc.oneof(fc.constant(null), fc.nat()),
      again: fc.option(fc.nat(), { nil: null, freq: 3 }),
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({
      k: fc.constant('putShared' as const),
      cs: fc.uniqueArray(clientArb, { minLength: 2, maxLength: CLIENTS.length }),
      body: fc.record({ qos: fc.constantFrom(0 as const, 1 as const, 2 as const), retain: fc.boolean(), subscriptionIds: fc.array(fc.integer({ min: 1, max: 268_435_455 }), { maxLength: 2 }), message: appMessageArb }),
      asOne: fc.boolean(),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ k: fc.constant('updateMessage' as const), c: clientArb, pick: fc.nat(), state: stateArb, packetId: packetIdArb }), weight: 3 },
  { arbitrary: fc.record({ k: fc.constant('deleteMessage' as const), c: clientArb, pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('putQos2' as const), c: clientArb, packetId: fc.integer({ min: 1, max: 5 }) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('deleteQos2' as const), c: clientArb, packetId: fc.integer({ min: 1, max: 5 }) }), weight: 1 },
);

/**
 * Turns intents into ops the way a shard would issue them: fresh seqs strictly increase per
 * client. With `visible`, every client has meta throughout (put first, put again right after a
 * deleteSession), so loadAll() shows every row; without it, rows of clients without meta stay
 * hidden until a putMeta reveals them.
 */
function concretise(intentBatches: Intent[][], visible: boolean): StoreOp[][] {
  const nextSeq = new Map<string, number>();
  // Message objects put so far: reusing one shares a body in the SQLite store within a batch.
  const messages: AppMessage[] = [];
  const live = new Map<string, number[]>();
  const liveOf = (c: string): number[] => live.get(c) ?? (live.set(c, []), live.get(c)!);
  const target = (c: string, pick: number): number => {
    const seqs = liveOf(c);
    // One pick in (n + 1) aims at a seq that does not exist: updates and deletes of gone rows.
    return pick % (seqs.length + 1) === seqs.length ? (nextSeq.get(c) ?? 1) + 1000 : seqs[pick % (seqs.length + 1)]!;
  };
  const plainMeta = (clientId: string): StoreOp => ({ op: 'putMeta', meta: { clientId, username: null, protocolVersion: 5, expiryIntervalSec: 60, disconnectedAt: null, will: null } });
  const batches = intentBatches.map((batch) =>
    batch.flatMap((i): StoreOp[] => {
      if (i.k === 'putShared') {
        const clients = i.cs.map((c) => CLIENTS[c]!);
        // One seq above each client's, as the shard's counter gives it.
        const seq = Math.max(...clients.map((c) => nextSeq.get(c) ?? 1));
        const shared: StoredMessage = Object.freeze({ seq, state: 'queued', packetId: null, ...i.body });
        messages.push(shared.message);
        for (const c of clients) {
          nextSeq.set(c, seq + 1);
          liveOf(c).push(seq);
        }
        // As the shard writes it (one putShared op), or as the sessions emit it (a putMessage each).
        return i.asOne ? [{ op: 'putShared', clientIds: clients, message: shared }] : clients.map((c): StoreOp => ({ op: 'putMessage', clientId: c, message: shared }));
      }
      const clientId = CLIENTS[i.c]!;
      switch (i.k) {
        case 'putMeta':
          return [{ op: 'putMeta', meta: { clientId, ...i.meta } }];
        case 'deleteSession':
          live.set(clientId, []);
          return visible ? [{ op: 'deleteSession', clientId }, plainMeta(clientId)] : [{ op: 'deleteSession', clientId }];
        case 'putSubscription':
          return [{ op: 'putSubscription', clientId, filter: i.filter, options: i.options }];
        case 'deleteSubscription':
          return [{ op: 'deleteSubscription', clientId, filter: i.filter }];
        case 'putMessage': {
          const seqs = liveOf(clientId);
          let seq: number;
          if (i.again !== null && seqs.length > 0) seq = seqs[i.again % seqs.length]!;
          else {
            seq = nextSeq.get(clientId) ?? 1;
            nextSeq.set(clientId, seq + 1);
            seqs.push(seq);
          }
          const message = i.reuse === null || messages.length === 0 ? i.body.message : messages[i.reuse % messages.length]!;
          messages.push(message);
          return [{ op: 'putMessage', clientId, message: { seq, ...i.body, message } }];
        }
        case 'updateMessage':
          return [{ op: 'updateMessage', clientId, seq: target(clientId, i.pick), state: i.state, packetId: i.packetId }];
        case 'deleteMessage': {
          const seq = target(clientId, i.pick);
          live.set(clientId, liveOf(clientId).filter((s) => s !== seq));
          return [{ op: 'deleteMessage', clientId, seq }];
        }
        case 'putQos2':
          return [{ op: 'putQos2', clientId, packetId: i.packetId }];
        case 'deleteQos2':
          return [{ op: 'deleteQos2', clientId, packetId: i.packetId }];
      }
    }),
  );
  if (visible && batches.length > 0) batches[0] = [...CLIENTS.map(plainMeta), ...batches[0]!];
  return batches;
}

const batchesArb = (maxBatches: number, maxOps: number, visible: boolean): fc.Arbitrary<StoreOp[][]> =>
  fc.array(fc.array(intentArb, { maxLength: maxOps, size: 'max' }), { minLength: 1, maxLength: maxBatches }).map((b) => concretise(b, visible));

/** Model state after each prefix of `batches`: snapshots[k] = state after the first k batches. */
async function modelSnapshots(batches: StoreOp[][]): Promise<StoredSession[][]> {
  const model = new MemorySessionStore();
  const snapshots = [normalizeSessions(await model.loadAll())];
  for (const batch of batches) {
    await model.apply(batch);
    snapshots.push(normalizeSessions(await model.loadAll()));
  }
  return snapshots;
}

test('property: the SQLite session store agrees with the memory store after every batch', async () => {
  // One file for all passing runs (opening a new one costs ~20 ms): each run starts by deleting
  // every client's session, which must leave the store empty. After a failed run the next one
  // starts on a fresh file, so shrinking is not misled by what the failure left behind.
  let file = freshFile();
  let sqlite = await SqliteSessionStore.open(file);
  let clean = true;
  try {
    await fc.assert(
      fc.asyncProperty(fc.boolean().chain((visible) => batchesArb(6, 24, visible)), fc.nat({ max: 4 }), async (batches, reopenDie) => {
        if (!clean) {
          await sqlite.close().catch(() => undefined);
          file = freshFile();
          sqlite = await SqliteSessionStore.open(file);
        }
        clean = false;
        await sqlite.apply(CLIENTS.map((clientId): StoreOp => ({ op: 'deleteSession', clientId })));
        assert.deepEqual(await sqlite.loadAll(), []);
        const model = new MemorySessionStore();
        for (const batch of batches) {
          await model.apply(batch);
          await sqlite.apply(batch);
          assert.deepEqual(normalizeSessions(await sqlite.loadAll()), normalizeSessions(await model.loadAll()));
        }
        await assertLogAccounted(file);
        if (reopenDie === 0) {
          await sqlite.close();
          sqlite = await SqliteSessionStore.open(file);
          assert.deepEqual(normalizeSessions(await sqlite.loadAll()), normalizeSessions(await model.loadAll()));
        }
        clean = true;
      }),
      params,
    );
  } finally {
    await sqlite.close();
  }
});

/** SQL: the JSON path of log row f's recipient list, in either form (fanout-index.ts: entries, or the shared form's client ids). */
const RECIPIENT_LIST = `iif(json_type(f.recipients) = 'object', '$.clients', '$')`;

/**
 * The fan-out log (SQLite only), read on a second connection: every row still has a live copy;
 * every dead index names a distinct recipient that is there; no dead list outlives its row; no
 * client keeps an empty override list, and every override names a live copy of that client.
 */
async function assertLogAccounted(file: string): Promise<void> {
  const db = await SqliteDb.open(file);
  try {
    const finished = await db.all(`SELECT f.id FROM fanout f LEFT JOIN fanout_dead d ON d.id = f.id
                                   WHERE (SELECT count(*) FROM json_each(f.recipients, ${RECIPIENT_LIST}) WHERE type <> 'null') <= coalesce(json_array_length(d.dead), 0)`);
    assert.deepEqual(finished, [], 'log rows kept with no live copy');
    const badDead = await db.all(`SELECT d.id, j.value FROM fanout_dead d JOIN fanout f ON f.id = d.id, json_each(d.dead) j
                                  WHERE json_type(f.recipients, ${RECIPIENT_LIST} || '[' || j.value || ']') NOT IN ('array', 'text')`);
    assert.deepEqual(badDead, [], 'dead indexes naming no recipient');
    const dupDead = await db.all('SELECT d.id FROM fanout_dead d WHERE json_array_length(d.dead) <> (SELECT count(DISTINCT value) FROM json_each(d.dead))');
    assert.deepEqual(dupDead, [], 'dead lists with a repeated index');
    const orphans = await db.all('SELECT id FROM fanout_dead WHERE id NOT IN (SELECT id FROM fanout)');
    assert.deepEqual(orphans, [], 'dead lists of rows that are gone');
    const empty = await db.all('SELECT client_id FROM copy_state WHERE json_array_length(runs) = 0');
    assert.deepEqual(empty, [], 'empty override lists kept');
    const live = new Set(
      (await db.all(`SELECT iif(r.type = 'array', r.value->>0, r.value) AS c, iif(r.type = 'array', r.value->>1, f.recipients->>'$.seq') AS s
                     FROM fanout f LEFT JOIN fanout_dead d ON d.id = f.id, json_each(f.recipients, ${RECIPIENT_LIST}) r
                     WHERE r.type IN ('array', 'text') AND NOT EXISTS (SELECT 1 FROM json_each(coalesce(d.dead, '[]')) x WHERE x.value = r.key)`)).map((r) => `${String(r['c'])}/${String(r['s'])}`),
    );
    const stale: string[] = [];
    for (const row of await db.all('SELECT client_id, runs FROM copy_state')) {
      for (const [first, count] of JSON.parse(String(row['runs'])) as [number, number][]) {
        for (let k = 0; k < count; k++) if (!live.has(`${String(row['client_id'])}/${first + k}`)) stale.push(`${String(row['client_id'])}/${first + k}`);
      }
    }
    assert.deepEqual(stale, [], 'overrides of copies that are not live');
  } finally {
    await db.close();
  }
}

// ---- crash property ----

const WRITER = fileURLToPath(new URL('./fixtures/session-writer.ts', import.meta.url));
const CHILD_TIMEOUT_MS = 20_000;

interface CrashOutcome {
  /** Highest N of a `committed N` line the child printed before it died. */
  reported: number;
}

/** Runs the writer on `file`, SIGKILLs it once it has printed `killAfter` lines, and waits for its death. */
function runAndKill(file: string, batches: StoreOp[][], killAfter: number): Promise<CrashOutcome> {
  return new Promise((resolve, reject) => {
    const child = fork(WRITER, [file], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let reported = 0;
    let lines = 0;
    let killed = false;
    let stderr = '';
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer did not reach line ${killAfter} within ${CHILD_TIMEOUT_MS} ms; stderr: ${stderr}`));
    }, CHILD_TIMEOUT_MS);
    const kill = (): void => {
      if (killed) return;
      killed = true;
      child.kill('SIGKILL');
    };
    child.on('message', (m) => {
      if (m === 'ready') child.send({ batches });
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines++;
        const m = /^committed (\d+)$/.exec(line);
        if (m) reported = Number(m[1]);
        if (lines >= killAfter) kill();
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && killed) resolve({ reported });
      else reject(new Error(`writer exited on its own (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
  });
}

test('property: kill -9 of the writer loses no reported batch and never half a batch', { timeout: 600_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(
      batchesArb(8, 40, true).chain((batches) => {
        // The writer prints `opened`, per batch one `op I` line per op and `committed N`, then
        // `done` (see the fixture): kill it right after any of these lines.
        const lines = 1 + batches.reduce((n, b) => n + b.length + 1, 0) + 1;
        return fc.record({ batches: fc.constant(batches), killAfter: fc.integer({ min: 1, max: lines }) });
      }),
      async ({ batches, killAfter }) => {
        const file = freshFile();
        try {
          const { reported } = await runAndKill(file, batches, killAfter);
          const db = await SqliteDb.open(file);
          try {
            assert.equal(await db.integrityCheck(), 'ok');
          } finally {
            await db.close();
          }
          await assertLogAccounted(file);
          const store = await SqliteSessionStore.open(file);
          let recovered: StoredSession[];
          try {
            recovered = normalizeSessions(await store.loadAll());
          } finally {
            await store.close();
          }
          // The file holds exactly some prefix of the batches, at least as long as what was reported.
          const snapshots = await modelSnapshots(batches);
          const matching = snapshots.map((s, k) => k).filter((k) => k >= reported && isDeepEqual(recovered, snapshots[k]!));
          assert.ok(matching.length > 0, `recovered state is no prefix of >= ${reported} batches of ${batches.length}`);
        } finally {
          for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
        }
      },
    ),
    { ...params, numRuns: crashRuns },
  );
});

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}
