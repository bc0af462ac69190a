// kill -9 of the node holding a persistent session, with QoS 1 messages inflight (sent, not yet
// acknowledged) and queued for it, then its restart on the same data directory. Three
// `shoal start --seeds` processes on 127.0.0.1. Checked: the other nodes purge its routes within
// the documented bound; while it is down a QoS 1 message for that session finds no route (v5
// PUBACK 0x10: not kept for it); after the restart the session is served again with everything
// acknowledged before the crash (inflight resent with DUP, then the queue, in publish order) and
// its routes (new incarnation) are back on the peers. The unavailability window is measured.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import {
  clusterSpecs,
  incarnationOf,
  purgeBoundMs,
  routeVisible,
  startCluster,
  startClusterProcess,
  stopCluster,
  type ClusterProcess,
} from '../helpers/cluster-process.js';
import { connect, resumeSession } from '../helpers/node.js';
import { RawClient } from '../helpers/raw-client.js';

const SECRET = 'cluster-crash-secret-0b9e';
const WAIT_MS = 15_000;
const PURGE_BOUND_MS = purgeBoundMs(3);
const INFLIGHT = 10;
const QUEUED = 40;
const SESSION = { clientId: 'durable', expirySec: 3600 };

describe('kill -9 of the node holding a persistent session, then its restart', { timeout: 120_000 }, () => {
  let nodes: ClusterProcess[] = [];
  const clients: MqttClient[] = [];

  before(async () => {
    nodes = await startCluster(await clusterSpecs(3), SECRET);
  });

  after(() => stopCluster(nodes, clients));

  it('purges its routes within the bound; the restarted node serves the session with its inflight and queued messages', async (t) => {
    const [n1, n2, n3] = nodes as [ClusterProcess, ClusterProcess, ClusterProcess];
    // The session lives on node3: subscribed, then INFLIGHT messages delivered and never acknowledged.
    const raw = await RawClient.open(n3.port, 5);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: SESSION.clientId, clean: false, keepalive: 0, properties: { sessionExpiryInterval: SESSION.expirySec } });
    assert.equal((await raw.next('CONNACK')).cmd, 'connack');
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'jobs/#', qos: 1 }] });
    assert.equal((await raw.next('SUBACK')).cmd, 'suback');
    const oldIncarnation = await incarnationOf(n3);
    await routeVisible([n1, n2], 'node3', 'jobs/#', oldIncarnation);

    const pub = await connect(n1.url, { clientId: 'job-source', protocolVersion: 5 });
    clients.push(pub);
    const pubacks: number[] = [];
    pub.on('packetreceive', (p) => {
      if (p.cmd === 'puback') pubacks.push(p.reasonCode ?? 0);
    });
    for (let i = 0; i < INFLIGHT; i++) await pub.publishAsync(`jobs/${i}`, String(i), { qos: 1 });
    for (let i = 0; i < INFLIGHT; i++) assert.equal((await raw.next(`PUBLISH ${i}`, WAIT_MS)).cmd, 'publish');
    raw.destroy();
    // The session actor hears of the close before any later delivery (one mailbox, in order).
    await n3.waitFor('durable disconnected', (l) => l.event === 'client.disconnected' && l.clientId === SESSION.clientId, WAIT_MS);
    // Offline now: the rest queue in the session on node3 (PUBACK only after node3 committed each).
    for (let i = INFLIGHT; i < INFLIGHT + QUEUED; i++) await pub.publishAsync(`jobs/${i}`, String(i), { qos: 1 });
    assert.deepEqual(pubacks, new Array(INFLIGHT + QUEUED).fill(0));

    const killedAt = Date.now();
    await n3.kill9();
    const purges = await Promise.all(
      [n1, n2].map((n) => n.waitFor('purge of node3', (l) => l.event === 'cluster.routes.purged' && l.origin === 'node3', PURGE_BOUND_MS + 5_000)),
    );
    const purgeMs = Math.max(...purges.map((l) => Date.parse(String(l.time)))) - killedAt;
    assert.ok(purgeMs <= PURGE_BOUND_MS, `routes purged ${purgeMs} ms after kill -9; documented bound ${PURGE_BOUND_MS} ms`);
    // While node3 is down its session is unavailable and nothing is kept for it elsewhere.
    await pub.publishAsync('jobs/while-down', 'not-kept', { qos: 1 });
    assert.equal(pubacks.at(-1), 0x10);

    const restartAt = Date.now();
    const restarted = await startClusterProcess(n3.spec, SECRET);
    nodes[2] = restarted;
    const listeningMs = Date.now() - restartAt;
    const newIncarnation = await incarnationOf(restarted);
    assert.ok(newIncarnation > oldIncarnation);
    // The session's subscription comes back from storage as a route of the new incarnation.
    await routeVisible([n1, n2], 'node3', 'jobs/#', newIncarnation, WAIT_MS);
    const routesBackMs = Date.now() - restartAt;
    t.diagnostic(
      `measured: routes purged ${purgeMs} ms after kill -9 (bound ${PURGE_BOUND_MS} ms); restarted node listening ${listeningMs} ms after start, ` +
        `its routes on the peers ≤ ${routesBackMs} ms after start`,
    );

    const { c, got, sessionPresent } = await resumeSession(restarted.url, SESSION.clientId);
    clients.push(c);
    assert.equal(sessionPresent, true);
    const m = await got.until(INFLIGHT + QUEUED, WAIT_MS);
    assert.deepEqual(m.map((x) => x.payload), Array.from({ length: INFLIGHT + QUEUED }, (_, i) => String(i)));
    // [MQTT-4.4.0-1] the unacknowledged ones are resent with DUP.
    assert.deepEqual(m.map((x) => (x.packet as IPublishPacket).dup), Array.from({ length: INFLIGHT + QUEUED }, (_, i) => i < INFLIGHT));
    // And it is live again for new messages from another node.
    await pub.publishAsync('jobs/after', 'after', { qos: 1 });
    assert.equal(pubacks.at(-1), 0);
    assert.equal((await got.until(INFLIGHT + QUEUED + 1, WAIT_MS)).at(-1)!.payload, 'after');
  });
});
