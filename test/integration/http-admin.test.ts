// The admin API against a real node: token refusal, client listing with paging and filters,
// client details, kick (v5 DISCONNECT 0x98), subscriptions, routes, retained, members, /health
// and /ready, and JSON errors. Plus the start-up refusal of a non-loopback listener without a token.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { IDisconnectPacket, MqttClient } from 'mqtt';
import { connect, removeDir, startTestNode, tempDir, waitFor, type TestNode } from '../helpers/node.js';
import { eventually, httpJson } from '../helpers/http.js';
import type { ClientInfo } from '../../src/http/admin-source.js';
import type { Page } from '../../src/http/paging.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'admin-test-token-0123456789abcdef';

interface ErrorBody {
  error: { code: string; message: string };
}

let node: TestNode;
let base: string;
const clients: MqttClient[] = [];

before(async () => {
  node = await startTestNode({ http: '127.0.0.1:0', httpToken: TOKEN });
  base = `http://127.0.0.1:${node.handle.http!.port}`;
  // Five connected clients (two users), and one offline persistent session.
  for (let i = 1; i <= 5; i++) {
    clients.push(await connect(node.url, { clientId: `adm-${i}`, username: i <= 2 ? 'alice' : 'bob', protocolVersion: 5, properties: { sessionExpiryInterval: i === 1 ? 60 : 0 } }));
  }
  const away = await connect(node.url, { clientId: 'away-1', clean: false, protocolVersion: 4 });
  await away.subscribeAsync('away/#', { qos: 1 });
  const gone = waitFor(node.handle.events, 'client.disconnected', (e: { clientId: string | null }) => e.clientId === 'away-1');
  await away.endAsync();
  await gone;
  await clients[0]!.subscribeAsync(['adm/a', 'adm/b'], { qos: 1 });
  await clients[1]!.publishAsync('keep/one', 'first', { qos: 1, retain: true });
  await clients[1]!.publishAsync('keep/two', Buffer.from([0xff, 0xfe]), { qos: 0, retain: true });
  await clients[1]!.publishAsync('other/three', 'x', { qos: 1, retain: true });
});

after(async () => {
  await Promise.all(clients.filter((c) => c.connected).map((c) => c.endAsync()));
  await node.stop();
  removeDir(node.dataDir);
});

test('without the bearer token the API refuses with 401 and a JSON error; /health, /ready and the dashboard answer', async () => {
  for (const token of [undefined, 'wrong-token-wrong-token-wrong']) {
    const r = await httpJson<ErrorBody>(base, '/api/v1/clients', token === undefined ? {} : { token });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'unauthorized');
    assert.match(r.body.error.message, /Authorization: Bearer/);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="shoal"');
  }
  assert.equal((await fetch(`${base}/metrics`)).status, 401);
  const health = await httpJson<{ status: string; node: string }>(base, '/health');
  assert.deepEqual(health.body, { status: 'ok', node: node.config.nodeName });
  const ready = await httpJson<{ ready: boolean; checks: Record<string, boolean> }>(base, '/ready');
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.body.checks, { listeners: true });
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type')!, /^text\/html/);
  assert.match(page.headers.get('content-security-policy')!, /default-src 'self'/);
});

test('GET /api/v1/clients pages through every client by cursor and filters by id prefix, username, node and connected', async () => {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const r: { status: number; body: Page<ClientInfo> } = await httpJson<Page<ClientInfo>>(base, `/api/v1/clients?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`, { token: TOKEN });
    assert.equal(r.status, 200);
    assert.equal(r.body.total, 6);
    assert.ok(r.body.data.length <= 2);
    seen.push(...r.body.data.map((c) => c.clientId));
    cursor = r.body.nextCursor;
    pages++;
  } while (cursor !== null);
  assert.equal(pages, 3);
  assert.deepEqual(seen, ['adm-1', 'adm-2', 'adm-3', 'adm-4', 'adm-5', 'away-1']);

  const alice = await httpJson<Page<ClientInfo>>(base, '/api/v1/clients?username=alice', { token: TOKEN });
  assert.deepEqual(alice.body.data.map((c) => c.clientId), ['adm-1', 'adm-2']);
  const prefix = await httpJson<Page<ClientInfo>>(base, '/api/v1/clients?clientId=away', { token: TOKEN });
  assert.deepEqual(prefix.body.data.map((c) => c.clientId), ['away-1']);
  const offline = await httpJson<Page<ClientInfo>>(base, '/api/v1/clients?connected=false', { token: TOKEN });
  assert.deepEqual(offline.body.data.map((c) => [c.clientId, c.connected, c.persistent, c.subscriptions]), [['away-1', false, true, 1]]);
  const here = await httpJson<Page<ClientInfo>>(base, `/api/v1/clients?node=${encodeURIComponent(node.config.nodeName)}`, { token: TOKEN });
  assert.equal(here.body.total, 6);
  const elsewhere = await httpJson<Page<ClientInfo>>(base, '/api/v1/clients?node=nobody', { token: TOKEN });
  assert.equal(elsewhere.body.total, 0);

  const bad = await httpJson<ErrorBody>(base, '/api/v1/clients?limit=0', { token: TOKEN });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /invalid limit "0": an integer 1\.\.1000/);
  const badCursor = await httpJson<ErrorBody>(base, '/api/v1/clients?cursor=%25%25', { token: TOKEN });
  assert.equal(badCursor.status, 400);
});

test('GET /api/v1/clients/{id} shows one client; unknown ids and wrong methods are clear JSON errors', async () => {
  const one = await httpJson<ClientInfo>(base, '/api/v1/clients/adm-1', { token: TOKEN });
  assert.equal(one.status, 200);
  assert.equal(one.body.clientId, 'adm-1');
  assert.equal(one.body.node, node.config.nodeName);
  assert.equal(one.body.connected, true);
  assert.equal(one.body.username, 'alice');
  assert.equal(one.body.protocolVersion, 5);
  assert.equal(one.body.persistent, true);
  assert.equal(one.body.subscriptions, 2);
  assert.match(one.body.address!, /^127\.0\.0\.1:\d+$/);
  const missing = await httpJson<ErrorBody>(base, '/api/v1/clients/nope', { token: TOKEN });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'client_not_found');
  const post = await httpJson<ErrorBody>(base, '/api/v1/clients/adm-1', { method: 'POST', token: TOKEN });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD, DELETE');
  const unknown = await httpJson<ErrorBody>(base, '/api/v1/nothing', { token: TOKEN });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'not_found');
});

test('DELETE /api/v1/clients/{id} kicks the client with DISCONNECT 0x98; an offline session is a 409', async () => {
  const victim = clients[4]!; // adm-5, v5
  const disconnect = new Promise<IDisconnectPacket>((resolve) => victim.once('disconnect', resolve));
  const closed = waitFor(node.handle.events, 'client.disconnected', (e: { clientId: string | null; reason: { reasonCode: number } }) => e.clientId === 'adm-5');
  const r = await httpJson<{ disconnected: boolean; reasonCode: number }>(base, '/api/v1/clients/adm-5', { method: 'DELETE', token: TOKEN });
  assert.equal(r.status, 200);
  assert.equal(r.body.disconnected, true);
  assert.equal((await disconnect).reasonCode, 0x98);
  const [event] = await closed;
  assert.equal(event.reason.reasonCode, 0x98);
  assert.ok(node.logs.some((l) => l.event === 'admin.client.kicked' && l.clientId === 'adm-5'));
  // A clean session ends with its connection, once its shard has handled the close.
  await eventually('adm-5 gone', async () => (await httpJson(base, '/api/v1/clients/adm-5', { token: TOKEN })).status === 404);
  const offline = await httpJson<ErrorBody>(base, '/api/v1/clients/away-1', { method: 'DELETE', token: TOKEN });
  assert.equal(offline.status, 409);
  assert.equal(offline.body.error.code, 'client_not_connected');
  const unknown = await httpJson<ErrorBody>(base, '/api/v1/clients/nope', { method: 'DELETE', token: TOKEN });
  assert.equal(unknown.status, 404);
});

test('subscriptions, routes, retained and cluster members list what the node holds', async () => {
  const subs = await httpJson<Page<{ clientId: string; filter: string; qos: number }>>(base, '/api/v1/subscriptions', { token: TOKEN });
  assert.deepEqual(subs.body.data.map((s) => [s.clientId, s.filter, s.qos]), [['adm-1', 'adm/a', 1], ['adm-1', 'adm/b', 1], ['away-1', 'away/#', 1]]);
  const mine = await httpJson<Page<{ filter: string }>>(base, '/api/v1/subscriptions?clientId=away-1', { token: TOKEN });
  assert.deepEqual(mine.body.data.map((s) => s.filter), ['away/#']);
  const routes = await httpJson<Page<{ filter: string; nodes: string[] }>>(base, '/api/v1/routes', { token: TOKEN });
  assert.deepEqual(routes.body.data, ['adm/a', 'adm/b', 'away/#'].map((filter) => ({ filter, nodes: [node.config.nodeName] })));

  const retained = await httpJson<Page<{ topic: string; payload: string | null; payloadBase64: string | null; payloadBytes: number }>>(base, '/api/v1/retained?topic=keep/&limit=1', { token: TOKEN });
  assert.equal(retained.body.total, 2);
  assert.deepEqual(retained.body.data.map((r) => [r.topic, r.payload]), [['keep/one', 'first']]);
  const second = await httpJson<Page<{ topic: string; payload: string | null; payloadBase64: string | null }>>(base, `/api/v1/retained?topic=keep/&limit=1&cursor=${retained.body.nextCursor}`, { token: TOKEN });
  assert.deepEqual(second.body.data.map((r) => [r.topic, r.payload, r.payloadBase64]), [['keep/two', null, '//4=']]);
  assert.equal(second.body.nextCursor, null);

  const members = await httpJson<{ clustered: boolean; data: { node: string; state: string; self: boolean; load: { connections: number; retained: number } }[] }>(base, '/api/v1/cluster/members', { token: TOKEN });
  assert.equal(members.body.clustered, false);
  assert.equal(members.body.data.length, 1);
  const self = members.body.data[0]!;
  assert.equal(self.node, node.config.nodeName);
  assert.equal(self.state, 'alive');
  assert.equal(self.load.connections, clients.filter((c) => c.connected).length);
  assert.equal(self.load.retained, 3);
});

test('a node refuses to start with --http on a non-loopback address and no token (exit 2)', () => {
  const dir = tempDir();
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--http', '0.0.0.0:0'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_'))),
    });
    assert.equal(r.status, 2, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, /httpToken is required: --http 0\.0\.0\.0:0 \(from flag --http\) is not a loopback address; set --http-token/);
  } finally {
    removeDir(dir);
  }
});
