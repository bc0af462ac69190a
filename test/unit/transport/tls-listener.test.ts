// The TLS listener and its credentials, on loopback sockets with certificates from openssl: the
// files' errors name the file; with --tls-cn-as-username the verified certificate's CN is the
// username the node sees (and a certificate without one is refused).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { TlsFiles } from '../../../src/config/transport-options.js';
import { createLogger } from '../../../src/log.js';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';
import { Connection } from '../../../src/transport/connection.js';
import { TlsCredentialsError } from '../../../src/transport/errors.js';
import { loadTlsCredentials } from '../../../src/transport/tls-credentials.js';
import { listenTls, type TlsListener } from '../../../src/transport/tls-listener.js';
import { makePki, type CertFiles, type TestPki } from '../../helpers/certs.js';
import { removeDir, tempDir } from '../../helpers/node.js';
import { RecordingHandler, defaultLimits, withTimeout } from './wire.js';

function credentialsError(files: TlsFiles): TlsCredentialsError {
  try {
    loadTlsCredentials(files);
  } catch (err) {
    assert.ok(err instanceof TlsCredentialsError, `expected TlsCredentialsError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the files to be refused');
}

describe('TLS credentials and listener', () => {
  let dir: string;
  let pki: TestPki;
  let server: CertFiles;
  let other: CertFiles;
  let named: CertFiles;
  let nameless: CertFiles;
  const listeners: TlsListener[] = [];

  before(() => {
    dir = tempDir('shoal-tls-unit-');
    pki = makePki(dir);
    server = pki.server('server', '1001');
    other = pki.server('other', '1002');
    named = pki.client('named', 'client-1', '2001');
    nameless = pki.client('nameless', null, '2002');
  });

  after(async () => {
    for (const l of listeners) await l.close();
    removeDir(dir);
  });

  const files = (extra: Partial<TlsFiles> = {}): TlsFiles => ({ cert: server.cert, key: server.key, ca: pki.ca, requireClientCert: true, cnAsUsername: true, ...extra });

  it('reads the files and describes the certificate', () => {
    const c = loadTlsCredentials(files());
    assert.equal(c.certificate.serialNumber, '1001');
    assert.equal(c.certificate.subject, 'CN=localhost');
    assert.equal(c.certificate.issuer, 'CN=Shoal Test CA');
  });

  it('names the file that cannot be read or used, and says what to check', () => {
    const missing = credentialsError(files({ key: join(dir, 'no-such.key') }));
    assert.equal(missing.flag, '--tls-key');
    assert.match(missing.message, /cannot read the private key --tls-key \S+no-such\.key: ENOENT; check the path/);
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'hello\n');
    const notPem = credentialsError(files({ cert: garbage }));
    assert.equal(notPem.flag, '--tls-cert');
    assert.match(notPem.message, /--tls-cert \S+garbage\.pem holds no PEM certificate/);
    const mismatch = credentialsError(files({ key: other.key }));
    assert.ok(mismatch.message.startsWith(`cannot use --tls-cert ${server.cert}, --tls-key ${other.key}, --tls-ca ${pki.ca}: `), mismatch.message);
    assert.match(mismatch.message, /is the key the certificate's/);
    const badCa = credentialsError(files({ ca: garbage }));
    assert.equal(badCa.flag, '--tls-ca');
    assert.match(badCa.message, /--tls-ca \S+garbage\.pem holds no PEM certificate/);
  });

  async function serve(tlsFiles: TlsFiles): Promise<{ port: number; handler: RecordingHandler }> {
    const handler = new RecordingHandler();
    const l = await listenTls({ host: '127.0.0.1', port: 0 }, { files: tlsFiles, handshakeTimeoutMs: 5000 }, loadTlsCredentials(tlsFiles), (stream, remote, username) => {
      const conn = new Connection(stream, handler, defaultLimits, 1, remote);
      if (username !== undefined) conn.useCertificateUsername(username);
    }, createLogger('silent'));
    listeners.push(l);
    return { port: l.address.port, handler };
  }

  const clientOptions = (cert: CertFiles): mqtt.IClientOptions => ({
    ca: readFileSync(pki.ca),
    cert: readFileSync(cert.cert),
    key: readFileSync(cert.key),
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });

  it("with --tls-cn-as-username the certificate's CN replaces the CONNECT username and the password is dropped", async () => {
    const { port, handler } = await serve(files());
    const c = await mqtt.connectAsync(`mqtts://localhost:${port}`, { ...clientOptions(named), username: 'mallory', password: 'guess' });
    const event = handler.events.find((e) => e.type === 'connect');
    assert.ok(event !== undefined && event.type === 'connect');
    assert.equal(event.packet.username, 'client-1');
    assert.equal(event.packet.password, undefined);
    assert.equal(event.decision.certificateUsername, 'client-1');
    c.end(true);
  });

  it('a certificate without a Common Name is refused with 0x87 when the CN is the username', async () => {
    const { port, handler } = await serve(files());
    await assert.rejects(mqtt.connectAsync(`mqtts://localhost:${port}`, clientOptions(nameless)), (err: unknown) => {
      assert.equal((err as { code?: number }).code, ReasonCode.NotAuthorized);
      return true;
    });
    const reason = await withTimeout(handler.closed, 2000, 'close');
    assert.match(reason.detail, /the client certificate has no Common Name to use as username/);
    assert.equal(handler.events.some((e) => e.type === 'connect'), false, 'the node never saw the CONNECT');
  });

  it('without --tls-cn-as-username the username is the client\'s own', async () => {
    const { port, handler } = await serve(files({ cnAsUsername: false }));
    const c = await mqtt.connectAsync(`mqtts://localhost:${port}`, { ...clientOptions(named), username: 'alice', password: 'pw' });
    const event = handler.events.find((e) => e.type === 'connect');
    assert.ok(event !== undefined && event.type === 'connect');
    assert.equal(event.packet.username, 'alice');
    assert.equal(event.decision.certificateUsername, undefined);
    c.end(true);
  });
});
