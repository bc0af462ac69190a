// The push direction of a takeover (graceful leave), two nodes in this process with real gRPC
// and gossip on 127.0.0.1: ClusterNode.pushSessions() moves every session of the leaving node to
// its owner among the others, offline there, with its queue; a client reconnecting anywhere finds it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freeUdpPorts } from '../helpers/membership-process.js';
import { connect, freePort, removeDir, resumeSession, startTestNode, type TestNode } from '../helpers/node.js';

const WAIT_MS = 10_000;

function logged(node: TestNode, what: string, match: (l: Record<string, unknown>) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = (): void => {
      if (node.logs.some(match)) resolve();
      else if (Date.now() - started > WAIT_MS) reject(new Error(`no ${what} within ${WAIT_MS} ms`));
      else setTimeout(check, 10);
    };
    check();
  });
}

describe('pushing sessions to the other nodes (graceful leave)', { timeout: 60_000 }, () => {
  let a: TestNode;
  let b: TestNode;

  before(async () => {
    const gossip = await freeUdpPorts(2);
    const grpc = [await freePort(), await freePort()];
    const seeds = gossip.map((p) => `127.0.0.1:${p}`).join(',');
    const spec = (i: number): Record<string, unknown> => ({ nodeName: `push${i}`, gossip: `127.0.0.1:${gossip[i]}`, grpc: `127.0.0.1:${grpc[i]}`, advertise: '127.0.0.1', seeds, logLevel: 'debug' });
    [a, b] = await Promise.all([startTestNode(spec(0)), startTestNode(spec(1))]);
    await Promise.all([
      logged(a, 'streams to push1', (l) => l.event === 'cluster.peer.up' && l.peer === 'push1'),
      logged(b, 'streams to push0', (l) => l.event === 'cluster.peer.up' && l.peer === 'push0'),
    ]);
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    for (const n of [a, b]) if (n !== undefined) removeDir(n.dataDir);
  });

  it('moves every session of the leaving node, offline with its queue; the client finds it on the other node', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `leaver-${i}`);
    for (const id of ids) {
      const c = await connect(a.url, { clientId: id, protocolVersion: 5, clean: true, properties: { sessionExpiryInterval: 600 } });
      await c.subscribeAsync(`push/${id}`, { qos: 1 });
      await c.endAsync();
    }
    const pub = await connect(a.url, { clientId: 'push-pub', protocolVersion: 5 });
    for (const id of ids) await pub.publishAsync(`push/${id}`, `for ${id}`, { qos: 1 });
    await pub.endAsync();
    // The publisher's clean session ends on its shard after the DISCONNECT; pushed before that, it
    // would be counted as skipped (it ends instead of moving).
    await logged(a, 'the end of push-pub\'s session', (l) => l.event === 'session.ended' && l.clientId === 'push-pub');

    const result = await a.handle.cluster!.pushSessions();
    assert.deepEqual(result, { moved: ids.length, failed: 0, skipped: 0 });
    for (const id of ids) {
      const { c, got, sessionPresent } = await resumeSession(b.url, id);
      assert.equal(sessionPresent, true, `${id} is on push1 now`);
      const [m] = await got.until(1, WAIT_MS);
      assert.equal(m!.payload, `for ${id}`);
      await c.endAsync();
    }
    assert.ok(b.logs.some((l) => l.event === 'cluster.takeover.done'));
  });
});
