// MQTT over TLS (--tls) with Mosquitto's own clients (libmosquitto + OpenSSL, an independent TLS
// stack): mosquitto_pub/mosquitto_sub with --cafile, and with a client certificate when the node
// requires one (refused without). Certificates come from openssl into a temp directory.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { makePki, type CertFiles, type TestPki } from '../helpers/certs.js';
import { runMosquitto as run } from '../helpers/mosquitto-client.js';
import { collector, connect, removeDir, startTestNode, tempDir, type TestNode } from '../helpers/node.js';
import { withTimeout } from '../helpers/raw-client.js';

const BINARIES = ['mosquitto_pub', 'mosquitto_sub', 'stdbuf', 'openssl'] as const;
const missing = BINARIES.filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
const inCi = process.env.CI === 'true' || process.env.CI === '1';
const skip = missing.length > 0 && !inCi ? `${missing.join(', ')} not on PATH (apt-get install mosquitto-clients openssl)` : false;
const EXIT_TIMEOUT_MS = 10_000;

const certArgs = (c: CertFiles): string[] => ['--cert', c.cert, '--key', c.key];

describe('MQTT over TLS with mosquitto_pub and mosquitto_sub', { skip }, () => {
  let pkiDir: string;
  let pki: TestPki;
  let server: CertFiles;
  let clientCert: CertFiles;
  const nodes: TestNode[] = [];
  const children: ChildProcess[] = [];

  before(() => {
    assert.deepEqual(missing, [], `${missing.join(', ')} not found on PATH with CI=${process.env.CI}: install mosquitto-clients and openssl (.ci/run does)`);
    pkiDir = tempDir('shoal-pki-');
    pki = makePki(pkiDir);
    server = pki.server('server', '1001');
    clientCert = pki.client('client', 'client-1', '2001');
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const n of nodes) {
      await n.stop();
      removeDir(n.dataDir);
    }
    if (pkiDir) removeDir(pkiDir);
  });

  async function tlsNode(extra: Record<string, unknown> = {}): Promise<{ node: TestNode; tls: string[] }> {
    const node = await startTestNode({ tls: '127.0.0.1:0', tlsCert: server.cert, tlsKey: server.key, ...extra });
    nodes.push(node);
    // -h localhost: the clients check the name against the certificate (SAN localhost, 127.0.0.1).
    return { node, tls: ['-h', 'localhost', '-p', String(node.handle.transports.tls!.port), '--cafile', pki.ca] };
  }

  async function roundTrip(tls: string[], pubExtra: string[], subExtra: string[], version: 'mqttv311' | 'mqttv5', topic: string): Promise<void> {
    const sub = run('mosquitto_sub', [...tls, ...subExtra, '-V', version, '-t', topic, '-q', '1', '-C', '1', '-W', '10'], children);
    await withTimeout(Promise.race([sub.subscribed, sub.exited.then(() => Promise.reject(new Error(`mosquitto_sub exited: ${sub.output()}`)))]), EXIT_TIMEOUT_MS, () => `SUBACK; output: ${sub.output()}`);
    const pub = run('mosquitto_pub', [...tls, ...pubExtra, '-V', version, '-t', topic, '-q', '1', '-m', `over tls ${version}`], children);
    assert.equal(await withTimeout(pub.exited, EXIT_TIMEOUT_MS, () => `mosquitto_pub; output: ${pub.output()}`), 0, pub.output());
    assert.equal(await withTimeout(sub.exited, EXIT_TIMEOUT_MS, () => `mosquitto_sub; output: ${sub.output()}`), 0, sub.output());
    assert.match(sub.output(), new RegExp(`^over tls ${version}$`, 'm'));
  }

  it('publishes and subscribes over TLS with --cafile, MQTT 3.1.1 and 5.0, next to a TCP client', async () => {
    const { node, tls } = await tlsNode();
    const tcp = await connect(node.url, { clientId: 'tcp-watcher' });
    const got = collector(tcp);
    await tcp.subscribeAsync('tls/#');
    await roundTrip(tls, [], [], 'mqttv311', 'tls/v3');
    await roundTrip(tls, [], [], 'mqttv5', 'tls/v5');
    assert.deepEqual((await got.until(2)).map((m) => m.payload), ['over tls mqttv311', 'over tls mqttv5']);
    await tcp.endAsync();
  });

  it('with --tls-require-client-cert: a client certificate signed by --tls-ca gets in, a client without one is refused', async () => {
    const { node, tls } = await tlsNode({ tlsCa: pki.ca, tlsRequireClientCert: true });
    await roundTrip(tls, certArgs(clientCert), certArgs(clientCert), 'mqttv5', 'mtls/a');

    const refused = run('mosquitto_pub', [...tls, '-t', 'mtls/b', '-m', 'no cert'], children);
    const code = await withTimeout(refused.exited, EXIT_TIMEOUT_MS, () => `mosquitto_pub without a certificate; output: ${refused.output()}`);
    assert.notEqual(code, 0, `refused: ${refused.output()}`);
    const failed = node.logs.filter((l) => l.event === 'tls.handshake.failed');
    assert.ok(failed.length >= 1, 'the refused handshake is logged');
    assert.equal(failed[0]!.listener, '--tls');
    assert.match(String(failed[0]!.address), /^127\.0\.0\.1:\d+$/);
    assert.match(String(failed[0]!.err), /certificate/i);
  });
});
