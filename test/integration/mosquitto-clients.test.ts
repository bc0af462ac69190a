// Interoperability with Mosquitto's own command-line clients (libmosquitto, a second, independent
// MQTT implementation): QoS 0/1/2 round trips, retained messages and an offline queue, over both
// MQTT 3.1.1 and 5.0. The binaries come from the Debian package mosquitto-clients (.ci/run installs
// it); in CI their absence is a failure, locally a skip.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { runMosquitto } from '../helpers/mosquitto-client.js';
import { removeDir, startTestNode, type TestNode } from '../helpers/node.js';

const BINARIES = ['mosquitto_pub', 'mosquitto_sub', 'stdbuf'] as const;
const missing = BINARIES.filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
const inCi = process.env.CI === 'true' || process.env.CI === '1';
const skip = missing.length > 0 && !inCi ? `${missing.join(', ')} not on PATH (apt-get install mosquitto-clients)` : false;

const VERSIONS = [
  { name: 'MQTT 3.1.1', flag: 'mqttv311' },
  { name: 'MQTT 5.0', flag: 'mqttv5' },
] as const;
const EXIT_TIMEOUT_MS = 10_000;

/** A message line as printed by `-F`: retain flag, QoS, topic, payload. */
interface Line {
  retain: boolean;
  qos: number;
  topic: string;
  payload: string;
}
const FORMAT = 'MSG %r %q %t %p';

interface Sub {
  messages: Line[];
  subscribed: Promise<void>;
  exited: Promise<number | null>;
  output(): string;
  child: ChildProcess;
}

describe('Mosquitto command-line clients against Shoal', { skip }, () => {
  let node: TestNode;
  let port = 0;
  const children: ChildProcess[] = [];

  before(() => {
    assert.deepEqual(missing, [], `${missing.join(', ')} not found on PATH with CI=${process.env.CI}: install the Debian package mosquitto-clients (.ci/run does)`);
  });
  before(async () => {
    node = await startTestNode();
    port = node.handle.mqtt.port;
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await node?.stop();
    if (node) removeDir(node.dataDir);
  });

  function sub(args: string[]): Sub {
    // -F prints each message as a line next to the protocol trace.
    const messages: Line[] = [];
    const run = runMosquitto('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-F', FORMAT, '-W', '10', ...args], children, (line) => {
      const m = /^MSG (\d) (\d) (\S+) (.*)$/.exec(line);
      if (m) messages.push({ retain: m[1] === '1', qos: Number(m[2]), topic: m[3]!, payload: m[4]! });
    });
    const { child, exited, output } = run;
    return {
      child,
      messages,
      output,
      exited,
      subscribed: within(Promise.race([run.subscribed, exited.then(() => Promise.reject(new Error(`mosquitto_sub exited before SUBACK:\n${output()}`)))]), EXIT_TIMEOUT_MS, () => `SUBACK for mosquitto_sub ${args.join(' ')}:\n${output()}`),
    };
  }

  async function pub(args: string[]): Promise<void> {
    const child = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let text = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (text += d));
    const code = await within(new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c))), EXIT_TIMEOUT_MS, () => `mosquitto_pub ${args.join(' ')}: ${text}`);
    assert.equal(code, 0, `mosquitto_pub ${args.join(' ')} exited ${code}: ${text}`);
  }

  async function finished(s: Sub): Promise<void> {
    const code = await within(s.exited, EXIT_TIMEOUT_MS, () => `mosquitto_sub to exit:\n${s.output()}`);
    assert.equal(code, 0, `mosquitto_sub exited ${code}:\n${s.output()}`);
  }

  for (const v of VERSIONS) {
    it(`${v.name}: QoS 0, 1 and 2 round trip (subscription QoS 2)`, async () => {
      const topic = `mosq/${v.flag}/qos`;
      const s = sub(['-V', v.flag, '-t', topic, '-q', '2', '-C', '3', '-i', `sub-qos-${v.flag}`]);
      await s.subscribed;
      for (const qos of [0, 1, 2]) await pub(['-V', v.flag, '-t', topic, '-q', String(qos), '-m', `payload-q${qos}`, '-i', `pub-qos-${v.flag}`]);
      await finished(s);
      assert.deepEqual(
        s.messages.map((m) => `${m.qos} ${m.topic} ${m.payload} ${m.retain}`).sort(),
        ['0 TOPIC payload-q0 false', '1 TOPIC payload-q1 false', '2 TOPIC payload-q2 false'].map((l) => l.replace('TOPIC', topic)),
      );
      // QoS 2 reached the subscriber through the full PUBREC/PUBREL/PUBCOMP exchange.
      assert.match(s.output(), /Client \S+ sending PUBREC/);
      assert.match(s.output(), /Client \S+ sending PUBCOMP/);
    });

    it(`${v.name}: granted QoS is the minimum of publish and subscription QoS`, async () => {
      const topic = `mosq/${v.flag}/downgrade`;
      const s = sub(['-V', v.flag, '-t', topic, '-q', '1', '-C', '2', '-i', `sub-down-${v.flag}`]);
      await s.subscribed;
      await pub(['-V', v.flag, '-t', topic, '-q', '2', '-m', 'two']);
      await pub(['-V', v.flag, '-t', topic, '-q', '0', '-m', 'zero']);
      await finished(s);
      assert.deepEqual(s.messages.map((m) => `${m.payload}:${m.qos}`).sort(), ['two:1', 'zero:0']);
    });

    it(`${v.name}: retained messages are kept, sent flagged to new subscribers, and cleared`, async () => {
      const topic = `mosq/${v.flag}/retained`;
      await pub(['-V', v.flag, '-t', topic, '-q', '1', '-r', '-m', 'kept']);
      const s = sub(['-V', v.flag, '-t', topic, '-q', '1', '-C', '1']);
      await finished(s);
      assert.deepEqual(s.messages, [{ retain: true, qos: 1, topic, payload: 'kept' }]);

      await pub(['-V', v.flag, '-t', topic, '-q', '1', '-r', '-n']); // empty retained payload clears [MQTT-3.3.1-6]
      const after = sub(['-V', v.flag, '-t', topic, '-q', '1', '-C', '1']);
      await after.subscribed;
      await pub(['-V', v.flag, '-t', topic, '-q', '1', '-m', 'live']);
      await finished(after);
      assert.deepEqual(after.messages, [{ retain: false, qos: 1, topic, payload: 'live' }], 'no retained message after clearing');
    });

    it(`${v.name}: a persistent session queues QoS 1/2 messages while offline`, async () => {
      const topic = `mosq/${v.flag}/offline`;
      const id = `mosq-offline-${v.flag}`;
      // -c: clean session off (v5: with -x a session expiry); -E: exit once subscribed.
      const persist = v.flag === 'mqttv5' ? ['-c', '-x', '300'] : ['-c'];
      const first = sub(['-V', v.flag, '-t', topic, '-q', '2', '-i', id, ...persist, '-E']);
      await finished(first);
      for (let i = 0; i < 5; i++) await pub(['-V', v.flag, '-t', topic, '-q', String(1 + (i % 2)), '-m', `queued-${i}`]);
      const second = sub(['-V', v.flag, '-t', topic, '-q', '2', '-i', id, ...persist, '-C', '5']);
      await finished(second);
      assert.deepEqual(
        second.messages.map((m) => `${m.payload}:${m.qos}`).sort(),
        ['queued-0:1', 'queued-1:2', 'queued-2:1', 'queued-3:2', 'queued-4:1'],
        'every queued message, at its QoS',
      );
      // libmosquitto prints a QoS 2 message only after PUBREL, so the printed order is not the
      // wire order; the debug lines are. Sent in publish order [MQTT-4.6.0-6], flagged as resumed.
      const wire = [...second.output().matchAll(/received PUBLISH \(d\d, q(\d), r0, m\d+, '([^']+)'/g)].map((m) => `${m[2]}:${m[1]}`);
      assert.deepEqual(wire, ['1', '2', '1', '2', '1'].map((q) => `${topic}:${q}`));
      assert.match(second.output(), /received CONNACK \(0\)/);
      // Clean up the session so the node's state does not carry over.
      const clean = sub(['-V', v.flag, '-t', topic, '-i', id, '-E']);
      await finished(clean);
    });
  }
});

async function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what()}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
