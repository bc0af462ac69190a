// Certificate reload on SIGHUP, against a real `shoal start` process: a new handshake presents the
// new certificate (seen by its serial number) while a connection made before stays up and keeps
// receiving; an unusable new file keeps the old certificate and is logged. Also: TLS files that
// cannot be used stop startup with exit 2 and a message naming them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { parseListen } from '../../src/config/options.js';
import { makePki, type CertFiles } from '../helpers/certs.js';
import { collector, connect, removeDir, tempDir } from '../helpers/node.js';
import { ProcessNodeError, startProcessNode, type ProcessNode } from '../helpers/process-node.js';
import { withTimeout } from '../helpers/raw-client.js';

const TIMEOUT_MS = 5000;

/** The serial number of the certificate a new TLS handshake with `port` presents. */
function serialOf(port: number, ca: Buffer): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca }, () => {
        resolve(s.getPeerCertificate().serialNumber.toUpperCase());
        s.end();
      });
      s.on('error', reject);
    }),
    TIMEOUT_MS,
    'a TLS handshake',
  );
}

describe('TLS certificate reload on SIGHUP', () => {
  let dir: string;
  let ca: Buffer;
  let first: CertFiles;
  let second: CertFiles;
  let node: ProcessNode | null = null;
  const live = { cert: '', key: '' };

  before(() => {
    dir = tempDir('shoal-reload-');
    const pki = makePki(dir);
    ca = readFileSync(pki.ca);
    first = pki.server('server-1', '1001');
    second = pki.server('server-2', '1002');
    live.cert = join(dir, 'live.pem');
    live.key = join(dir, 'live.key');
    copyFileSync(first.cert, live.cert);
    copyFileSync(first.key, live.key);
  });

  after(async () => {
    await node?.stop();
    removeDir(dir);
  });

  it('new handshakes get the new certificate, an open connection stays; a bad file keeps the old one', async () => {
    node = await startProcessNode(join(dir, 'data'), ['--tls', '127.0.0.1:0', '--tls-cert', live.cert, '--tls-key', live.key]);
    const listening = node.lines.find((l) => l.event === 'node.listening')!;
    const port = parseListen(String(listening.tls)).port;
    const url = `mqtts://localhost:${port}`;
    assert.equal(await serialOf(port, ca), first.serial);

    const old = await connect(url, { ca, clientId: 'before-reload' });
    let oldClosed = false;
    old.on('close', () => (oldClosed = true));
    const got = collector(old);
    await old.subscribeAsync('reload/#', { qos: 1 });

    // The new pair replaces the files in place, as a certificate renewal does.
    copyFileSync(second.cert, live.cert);
    copyFileSync(second.key, live.key);
    let from = node.lines.length;
    node.child.kill('SIGHUP');
    const done = await node.waitForLog((l) => l.event === 'tls.reload.done', TIMEOUT_MS, from);
    assert.equal(done.serialNumber, second.serial);
    assert.equal(done.previousSerialNumber, first.serial);
    assert.equal(await serialOf(port, ca), second.serial);

    const after = await connect(url, { ca, clientId: 'after-reload' });
    await after.publishAsync('reload/1', 'over the new certificate', { qos: 1 });
    assert.equal((await got.until(1))[0]!.payload, 'over the new certificate');

    // A broken renewal: the node keeps serving with the certificate it has.
    writeFileSync(live.cert, 'not a certificate\n');
    from = node.lines.length;
    node.child.kill('SIGHUP');
    const failed = await node.waitForLog((l) => l.event === 'tls.reload.failed', TIMEOUT_MS, from);
    assert.match(String(failed.err), new RegExp(`--tls-cert ${live.cert.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} holds no PEM certificate`));
    assert.equal(failed.serialNumber, second.serial);
    assert.equal(await serialOf(port, ca), second.serial);
    await after.publishAsync('reload/2', 'still served', { qos: 1 });
    assert.deepEqual((await got.until(2)).map((m) => m.payload), ['over the new certificate', 'still served']);
    assert.equal(oldClosed, false, 'the connection made before the reloads is still open');
    await Promise.all([old.endAsync(), after.endAsync()]);
  });

  it('a key that does not match the certificate stops startup with exit 2, naming the files', async () => {
    await assert.rejects(
      startProcessNode(join(dir, 'data-bad'), ['--tls', '127.0.0.1:0', '--tls-cert', first.cert, '--tls-key', second.key]),
      (err: unknown) => {
        assert.ok(err instanceof ProcessNodeError);
        assert.match(err.message, /exited \(code 2/);
        assert.ok(err.stderr.includes(`cannot use --tls-cert ${first.cert}, --tls-key ${second.key}`), err.stderr);
        return true;
      },
    );
  });
});
