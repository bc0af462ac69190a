// The dashboard in real headless Chromium (Debian's /usr/bin/chromium through playwright-core)
// against a running node with a token: the page asks for the token, then shows the node, its
// member row and top topics with the numbers the API gives, and its message-rate plot moves while
// a publisher runs; against a 2-node cluster it shows both members with each node's connections
// and rate. Skipped, saying so, where Chromium is not installed (CI installs it).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { chromium, type Browser, type Page as BrowserPage } from 'playwright-core';
import { clusterSpecs, peersUp, startClusterProcess, CLUSTER_START_TIMEOUT_MS, type ClusterProcess } from '../helpers/cluster-process.js';
import { collector, connect, removeDir, startTestNode, type TestNode } from '../helpers/node.js';
import { httpJson } from '../helpers/http.js';
import type { MemberInfoView } from '../../src/http/admin-source.js';
import type { TopicCount } from '../../src/metrics/top-topics.js';

const CHROMIUM = '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium; .ci/run does) to run the dashboard test`;
const TOKEN = 'dashboard-test-token-0123456789';
const WAIT_MS = 20_000;
/** The page polls this often (?interval=), so the test sees several samples quickly. */
const POLL_MS = 250;

/** The little of the DOM the page functions below touch (they run in the browser, where it
 * exists; the project compiles without DOM typings). Functions, not strings: the page's CSP
 * forbids eval, and the test runs with it enforced. */
declare const document: {
  body: { dataset: Record<string, string | undefined> };
  querySelector(selector: string): { textContent: string | null } | null;
};

let node: TestNode;
let base: string;
let browser: Browser | null = null;
const clients: MqttClient[] = [];

before(async () => {
  if (SKIP !== false) return;
  node = await startTestNode({ http: '127.0.0.1:0', httpToken: TOKEN });
  base = `http://127.0.0.1:${node.handle.http!.port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
  if (node !== undefined) {
    await node.stop();
    removeDir(node.dataDir);
  }
});

/** Resolves once the page has drawn `n` more samples than it had. */
async function moreSamples(page: BrowserPage, n: number): Promise<void> {
  const now = Number(await page.locator('body').getAttribute('data-samples'));
  await page.waitForFunction((want) => Number(document.body.dataset.samples) >= want, now + n, { timeout: WAIT_MS });
}

test('the dashboard shows the node, its members and top topics as the API does, and plots rates live', { skip: SKIP, timeout: 90_000 }, async () => {
  const sub = await connect(node.url, { clientId: 'dash-sub' });
  const pub = await connect(node.url, { clientId: 'dash-pub' });
  clients.push(sub, pub);
  await sub.subscribeAsync('dash/#', { qos: 0 });
  const got = collector(sub);
  // Enough messages on one topic that the sampled top-topics table has it for sure.
  for (let i = 0; i < 2000; i++) pub.publish('dash/hot', 'x', { qos: 0 });
  for (let i = 0; i < 100; i++) pub.publish('dash/cold', 'y', { qos: 0 });
  await got.until(2100, WAIT_MS);

  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/?interval=${POLL_MS}`);
  // The API wants the token: the page asks for it.
  await page.locator('#token-form').waitFor({ state: 'visible', timeout: WAIT_MS });
  await page.locator('#token-input').fill(TOKEN);
  await page.locator('#token-form button').click();
  await page.waitForFunction(() => Number(document.body.dataset.samples) >= 2, undefined, { timeout: WAIT_MS });

  assert.equal(await page.locator('[data-testid=node-name]').textContent(), node.config.nodeName);
  const api = await httpJson<{ data: MemberInfoView[] }>(base, '/api/v1/cluster/members', { token: TOKEN });
  const self = api.body.data[0]!;
  const row = page.locator(`tr[data-node="${self.node}"]`);
  assert.equal(await row.locator('[data-field=state]').textContent(), 'alive');
  assert.equal(await row.locator('[data-field=connections]').textContent(), String(self.load!.connections));
  assert.equal(await row.locator('[data-field=subscriptions]').textContent(), String(self.load!.subscriptions));
  assert.equal(await row.locator('[data-field=routes]').textContent(), String(self.routes));
  assert.equal(self.load!.connections, 2);

  // Top topics: the same list, in the same order, with the same counts as the API.
  const top = await httpJson<{ topTopics: TopicCount[] }>(base, '/api/v1/node?top=10', { token: TOKEN });
  assert.equal(top.body.topTopics[0]!.topic, 'dash/hot');
  await moreSamples(page, 1);
  const shown = await page.locator('[data-testid=topics] tbody tr').evaluateAll((rows) =>
    rows.map((r) => [r.getAttribute('data-topic'), r.querySelector('[data-field=messages]')?.textContent ?? null]),
  );
  assert.deepEqual(shown, top.body.topTopics.map((t) => [t.topic, String(t.messages)]));

  // A publisher at a steady rate: the page's rate for this node rises above 0 and its plot
  // draws points; a new connection shows up in the connections cell.
  const timer = setInterval(() => pub.publish('dash/live', 'z', { qos: 0 }), 10);
  try {
    await page.waitForFunction((name) => Number(document.querySelector(`tr[data-node="${name}"] [data-field=rate-in]`)?.textContent) > 0, self.node, { timeout: WAIT_MS });
  } finally {
    clearInterval(timer);
  }
  assert.ok(Number(await page.locator('[data-testid=plot-rate-in]').getAttribute('data-points')) > 0, 'the rate plot drew points');
  const third = await connect(node.url, { clientId: 'dash-third' });
  clients.push(third);
  await page.waitForFunction((name) => document.querySelector(`tr[data-node="${name}"] [data-field=connections]`)?.textContent === '3', self.node, { timeout: WAIT_MS });
  assert.ok(Number(await page.locator('[data-testid=plot-connections]').getAttribute('data-max')) >= 3);
  assert.deepEqual(errors, [], 'no script errors on the page');
});

test('on a 2-node cluster the dashboard shows both members, their state and each node\'s connections and rate', { skip: SKIP, timeout: 120_000 }, async () => {
  const specs = await clusterSpecs(2);
  const nodes: ClusterProcess[] = [];
  const mqtt: MqttClient[] = [];
  try {
    nodes.push(...(await Promise.all(specs.map((s) => startClusterProcess(s, undefined)))));
    await Promise.all(nodes.map((n, i) => peersUp(n, [nodes[1 - i]!.spec.name])));
    const line = await nodes[0]!.waitFor('http.listening', (l) => l.event === 'http.listening', CLUSTER_START_TIMEOUT_MS);
    const base1 = `http://127.0.0.1:${line.port as number}`;
    // One client on node1, two on node2; node2's publisher keeps a rate going.
    mqtt.push(await connect(nodes[0]!.url, { clientId: 'c1' }));
    mqtt.push(await connect(nodes[1]!.url, { clientId: 'c2' }), await connect(nodes[1]!.url, { clientId: 'c3' }));
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base1}/?interval=${POLL_MS}`);
    const timer = setInterval(() => mqtt[2]!.publish('cluster/live', 'z', { qos: 0 }), 10);
    try {
      await page.waitForFunction(() => Number(document.querySelector('tr[data-node="node2"] [data-field=rate-in]')?.textContent) > 0, undefined, { timeout: WAIT_MS });
    } finally {
      clearInterval(timer);
    }
    await page.waitForFunction(
      () => document.querySelector('tr[data-node="node1"] [data-field=connections]')?.textContent === '1' && document.querySelector('tr[data-node="node2"] [data-field=connections]')?.textContent === '2',
      undefined,
      { timeout: WAIT_MS },
    );
    const api = await httpJson<{ clustered: boolean; data: MemberInfoView[] }>(base1, '/api/v1/cluster/members');
    assert.equal(api.body.clustered, true);
    for (const m of api.body.data) {
      const row = page.locator(`tr[data-node="${m.node}"]`);
      assert.equal(await row.locator('[data-field=state]').textContent(), m.state);
      assert.equal(await row.locator('[data-field=connections]').textContent(), String(m.load!.connections));
      assert.equal(await row.locator('[data-field=routes]').textContent(), String(m.routes));
    }
    assert.match((await page.locator('[data-testid=status]').textContent())!, /cluster of 2/);
    assert.deepEqual(errors, []);
  } finally {
    await Promise.all(mqtt.map((c) => c.endAsync().catch(() => undefined)));
    await Promise.all(nodes.map((n) => n.stop()));
    for (const s of specs) removeDir(s.dataDir);
  }
});
