// /metrics against real traffic: a node with its HTTP listener, real MQTT clients, and the
// scrape parsed with parse-prometheus-text-format; every number checked is one this test caused.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { connect, collector, removeDir, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { scrape } from '../helpers/http.js';

let node: TestNode;
let base: string;

before(async () => {
  node = await startTestNode({ http: '127.0.0.1:0' });
  base = `http://127.0.0.1:${node.handle.http!.port}`;
});

after(async () => {
  await node.stop();
  removeDir(node.dataDir);
});

test('/metrics counts messages and bytes by QoS, connects, disconnects, drops, retained, subscriptions and commits', async () => {
  const idle = await scrape(base);
  assert.equal(idle.value('shoal_connections'), 0);
  assert.equal(idle.value('shoal_messages_received_total', { qos: '0' }), 0);

  // A persistent QoS 1 subscriber (its session is stored: shard commits), and a v5 subscriber
  // that accepts packets of at most 200 bytes (a larger message is a too_large drop).
  const sub = await connect(node.url, { clientId: 'metrics-sub', clean: false, protocolVersion: 4 });
  const small = await connect(node.url, { clientId: 'metrics-small', protocolVersion: 5, properties: { maximumPacketSize: 200 } });
  const pub = await connect(node.url, { clientId: 'metrics-pub' });
  const clients: MqttClient[] = [sub, small, pub];
  try {
    await sub.subscribeAsync('m/#', { qos: 1 });
    await small.subscribeAsync('big/#', { qos: 0 });
    const got = collector(sub);

    // 5 × QoS 0 (10 bytes), 3 × QoS 1 (20 bytes), 2 × QoS 2 (30 bytes), 1 retained QoS 1 (7 bytes).
    for (let i = 0; i < 5; i++) await pub.publishAsync('m/zero', Buffer.alloc(10, 0x61), { qos: 0 });
    for (let i = 0; i < 3; i++) await pub.publishAsync('m/one', Buffer.alloc(20, 0x62), { qos: 1 });
    for (let i = 0; i < 2; i++) await pub.publishAsync('m/two', Buffer.alloc(30, 0x63), { qos: 2 });
    await pub.publishAsync('m/kept', Buffer.from('retain!'), { qos: 1, retain: true });
    await got.until(11);
    // Too large for metrics-small: dropped, not sent.
    await pub.publishAsync('big/x', Buffer.alloc(500, 0x64), { qos: 1 });

    const s = await scrape(base);
    assert.equal(s.value('shoal_messages_received_total', { qos: '0' }), 5);
    assert.equal(s.value('shoal_messages_received_total', { qos: '1' }), 5); // 3 + retained + big
    assert.equal(s.value('shoal_messages_received_total', { qos: '2' }), 2);
    assert.equal(s.value('shoal_payload_bytes_received_total', { qos: '0' }), 50);
    assert.equal(s.value('shoal_payload_bytes_received_total', { qos: '1' }), 60 + 7 + 500);
    assert.equal(s.value('shoal_payload_bytes_received_total', { qos: '2' }), 60);
    // The subscriber's QoS 1 caps the copies: QoS 0 stays 0, QoS 1 and 2 arrive as QoS 1.
    assert.equal(s.value('shoal_messages_sent_total', { qos: '0' }), 5);
    assert.equal(s.value('shoal_messages_sent_total', { qos: '1' }), 3 + 2 + 1);
    assert.equal(s.value('shoal_messages_sent_total', { qos: '2' }), 0);
    assert.equal(s.value('shoal_payload_bytes_sent_total', { qos: '1' }), 60 + 60 + 7);
    assert.equal(s.value('shoal_messages_dropped_total', { cause: 'too_large' }), 1);
    assert.equal(s.value('shoal_messages_dropped_total', { cause: 'slow_consumer' }), 0);
    assert.equal(s.value('shoal_connections'), 3);
    assert.equal(s.value('shoal_sessions'), 3);
    assert.equal(s.value('shoal_connects_total', { result: 'accepted', reason: 'Success' }), 3);
    assert.equal(s.value('shoal_retained_messages'), 1);
    assert.equal(s.value('shoal_subscriptions'), 2);
    assert.equal(s.value('shoal_routes', { node: node.config.nodeName }), 2);
    assert.equal(s.value('shoal_ready'), 1);
    // Wire bytes include MQTT framing: more than the payloads.
    assert.ok(s.value('shoal_network_bytes_received_total')! > 50 + 567 + 60, `network bytes received ${s.value('shoal_network_bytes_received_total')}`);
    assert.ok(s.value('shoal_network_bytes_sent_total')! > 50 + 127, `network bytes sent ${s.value('shoal_network_bytes_sent_total')}`);
    // The stored session made the shards commit; every commit is in the histogram.
    const commits = s.families.get('shoal_storage_commit_duration_seconds')!.metrics[0]!;
    assert.ok(Number(commits.count) > 0, 'shard commits counted');
    assert.equal(commits.buckets!['+Inf'], commits.count);
    assert.ok(Number(commits.sum) > 0);
    assert.equal(s.families.get('shoal_shard_mailbox_depth')!.metrics.length, node.config.shards);
    assert.equal(s.families.get('shoal_takeover_duration_seconds')!.metrics[0]!.count, '0');
    assert.ok(s.families.has('nodejs_eventloop_lag_p99_seconds'), 'event-loop lag exported');
    assert.equal(s.families.get('shoal_cluster_members')!.metrics.length, 0, 'no member series on a single node');

    // A normal DISCONNECT, and a connection whose first packet is not CONNECT (closed before
    // any CONNACK: a failed connect).
    const gone = waitFor(node.handle.events, 'client.disconnected', (e: { clientId: string | null }) => e.clientId === 'metrics-pub');
    await pub.endAsync();
    await gone;
    clients.splice(clients.indexOf(pub), 1);
    const refused = waitFor(node.handle.events, 'client.disconnected', (e: { clientId: string | null }) => e.clientId === null);
    const raw = net.connect(node.handle.mqtt.port, '127.0.0.1');
    raw.on('error', () => {}); // the broker closing it is the point
    raw.write(Buffer.from([0xc0, 0x00])); // PINGREQ before CONNECT [MQTT-3.1.0-1]
    await refused;
    raw.destroy();
    const after = await scrape(base);
    assert.equal(after.value('shoal_disconnects_total', { kind: 'normal', reason: 'Success' }), 1);
    assert.equal(after.sum('shoal_connects_total', { result: 'failed' }), 1);
    assert.equal(after.value('shoal_connections'), 2);
  } finally {
    await Promise.all(clients.map((c) => c.endAsync()));
  }
});
