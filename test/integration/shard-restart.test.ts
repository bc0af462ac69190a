// A shard that fails is restarted and reloads its sessions from its SQLite file, hosted on worker
// threads (real piscina workers) and on the main thread alike, with real SQLite. The fault is
// injected by a malformed event (a 'deliver' without a message), which throws inside the shard's
// batch handler: on the main thread it must stop that shard, not the process.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ShardSupervisor, type ShardHostMode } from '../../src/actors/supervisor.js';
import { SESSION_NEVER_EXPIRES, type SessionEffect, type SessionEvent } from '../../src/actors/session-types.js';
import { removeDir, tempDir } from '../helpers/node.js';

const dataDir = tempDir();
after(() => removeDir(dataDir));

/** Collects effects and failures; `next(pred)` waits for a matching one with a timeout. */
class Observer {
  readonly effects: SessionEffect[] = [];
  readonly restored: SessionEffect[] = [];
  readonly failures: string[] = [];
  private waiters: { pred: () => boolean; resolve: () => void }[] = [];
  notify(): void {
    for (const w of [...this.waiters]) if (w.pred()) w.resolve();
  }
  until(what: string, pred: () => boolean, ms = 10_000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      this.waiters.push({ pred, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }
}

for (const host of ['workers', 'main'] as ShardHostMode[]) test(`a crashed shard (host: ${host}) is restarted, reloads its persistent sessions, and serves them again`, { timeout: 30_000 }, async () => {
  const obs = new Observer();
  mkdirSync(join(dataDir, host));
  const sup = new ShardSupervisor({
    shards: 1,
    host,
    dataDir: join(dataDir, host),
    storageSync: 'normal',
    limits: { maxInflight: 32, maxQueuedMessages: 100, maxQueuedBytes: 0, maxSubscriptions: 0 },
    onEffects: (_s, effects) => { obs.effects.push(...effects); obs.notify(); },
    onRestored: (_s, effects) => { obs.restored.push(...effects); obs.notify(); },
    onShardFailure: (_s, message) => { obs.failures.push(message); obs.notify(); },
  });
  try {
    await sup.start();
    assert.equal(sup.hostMode, host);
    const connect = (connId: number): SessionEvent => ({
      type: 'connect', connId, clientId: 'c1', protocolVersion: 5, cleanStart: false,
      expiryIntervalSec: SESSION_NEVER_EXPIRES, receiveMaximum: 65535, will: null, username: null, ownerCheck: true,
    });
    sup.send('c1', connect(1));
    sup.send('c1', { type: 'subscribe', connId: 1, packetId: 1, requests: [{ filter: 'a/#', options: { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 } }] });
    await obs.until('SUBACK', () => obs.effects.some((e) => e.type === 'packet' && e.packet.cmd === 'suback'));

    // Fault injection: a 'deliver' without a message throws inside the worker.
    sup.send('c1', { type: 'deliver', qos: 1, retain: false, subscriptionIds: [] } as unknown as SessionEvent);
    await obs.until('the shard failure', () => obs.failures.length > 0);
    await obs.until('the restored sessions', () => obs.restored.some((e) => e.type === 'routes' && e.clientId === 'c1'));
    const routes = obs.restored.find((e) => e.type === 'routes' && e.clientId === 'c1');
    assert.deepEqual(routes?.type === 'routes' && routes.add.map((a) => a.filter), ['a/#'], 'the subscription came back from SQLite');

    // The restarted shard serves the session: it is present, and takes deliveries again.
    obs.effects.length = 0;
    sup.send('c1', connect(2));
    await obs.until('CONNACK after restart', () => obs.effects.some((e) => e.type === 'connack'));
    const connack = obs.effects.find((e) => e.type === 'connack');
    assert.equal(connack?.type === 'connack' && connack.sessionPresent, true);
  } finally {
    await sup.close();
  }
});
