// The bench's Aedes peers, really started through startBroker: 'aedes-level' keeps offline
// queues and retained messages on disk across a crash (the reason it is the like-for-like peer of
// Shoal's SQLite paths), and plain 'aedes' does not (so the check below can tell them apart).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { startBroker, unavailable, type BrokerName, type RunningBroker } from '../../bench/brokers.js';
import { connect, connectCollecting, freePort, removeDir, resumeSession, tempDir, type Received } from '../helpers/node.js';

/** Waits (event-driven, with a timeout) until the collected messages satisfy `done`. */
async function until(got: Collected, done: (m: Received[]) => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done(got.messages)) await got.until(got.messages.length + 1, Math.max(1, end - Date.now()));
}

type Collected = Awaited<ReturnType<typeof connectCollecting>>['got'];

/**
 * Leaves a persistent session with one queued QoS 1 message and a retained message behind, kills
 * the broker with SIGKILL and starts it again on the same files. `check` looks at what came back.
 */
async function crashAndResume(name: BrokerName, check: (url: string, resumed: Awaited<ReturnType<typeof resumeSession>>) => Promise<void>): Promise<void> {
  const dataDir = tempDir('shoal-bench-peer-');
  const clients: MqttClient[] = [];
  let broker: RunningBroker | null = null;
  try {
    broker = await startBroker(name, { port: await freePort(), cpu: null, dataDir });
    let url = `mqtt://127.0.0.1:${broker.port}`;
    const offline = await connect(url, { clientId: 'peer-offline', clean: false });
    await offline.subscribeAsync('peer/q', { qos: 1 });
    await offline.endAsync();
    const live = await connectCollecting(url, { clientId: 'peer-live' });
    clients.push(live.c);
    await live.c.subscribeAsync('peer/#', { qos: 1 });
    const pub = await connect(url, { clientId: 'peer-pub' });
    clients.push(pub);
    await pub.publishAsync('peer/q', 'queued', { qos: 1 });
    await pub.publishAsync('peer/r', 'kept', { qos: 1, retain: true });
    // Aedes stores a publish (storeRetained, then enqueueOffline) before it routes it to live
    // subscribers; its PUBACK comes earlier, so it is the live copies that say both are stored.
    await live.got.until(2, 10_000);
    for (const c of clients.splice(0)) c.end(true);
    process.kill(broker.pid, 'SIGKILL');
    await broker.stop(); // waits for the exit; dataDir stays
    broker = await startBroker(name, { port: await freePort(), cpu: null, dataDir });
    url = `mqtt://127.0.0.1:${broker.port}`;
    const resumed = await resumeSession(url, 'peer-offline');
    clients.push(resumed.c);
    await check(url, resumed);
  } finally {
    for (const c of clients) c.end(true);
    if (broker !== null) await broker.stop();
    removeDir(dataDir);
  }
}

test('aedes-level keeps an offline queue and a retained message across a crash', { skip: unavailable('aedes-level') ?? false, timeout: 60_000 }, async () => {
  await crashAndResume('aedes-level', async (url, resumed) => {
    assert.equal(resumed.sessionPresent, true, 'the persistent session survived');
    await until(resumed.got, (m) => m.some((x) => x.payload === 'queued'));
    assert.deepEqual(resumed.got.messages.map((m) => [m.topic, m.payload]), [['peer/q', 'queued']]);
    const fresh = await connectCollecting(url, { clientId: 'peer-fresh' });
    try {
      await fresh.c.subscribeAsync('peer/r', { qos: 1 });
      await until(fresh.got, (m) => m.length > 0);
      assert.deepEqual(fresh.got.messages.map((m) => [m.topic, m.payload, m.packet.retain]), [['peer/r', 'kept', true]]);
    } finally {
      fresh.c.end(true);
    }
  });
});

test('plain aedes (in memory) loses the session in the same crash, so the check above can fail', { skip: unavailable('aedes') ?? false, timeout: 60_000 }, async () => {
  await crashAndResume('aedes', async (_url, resumed) => {
    assert.equal(resumed.sessionPresent, false);
  });
});
