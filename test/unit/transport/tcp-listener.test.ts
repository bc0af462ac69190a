import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { listenTcp } from '../../../src/transport/tcp-listener.js';
import { ListenError } from '../../../src/transport/errors.js';
import { withTimeout } from './wire.js';

describe('listenTcp', () => {
  it('hands each accepted socket on with its remote address', async () => {
    const accepted: string[] = [];
    let got!: () => void;
    const done = new Promise<void>((r) => (got = r));
    const l = await listenTcp({ host: '127.0.0.1', port: 0 }, (s, remote) => {
      accepted.push(remote);
      got();
    });
    assert.equal(l.address.host, '127.0.0.1');
    assert.ok(l.address.port > 0);
    const c = net.connect({ host: '127.0.0.1', port: l.address.port });
    await withTimeout(done, 2000, 'accept');
    assert.match(accepted[0]!, /^127\.0\.0\.1:\d+$/);
    await withTimeout(l.close(), 2000, 'close with a socket still open');
    c.destroy();
  });

  it('names host:port and says what to do when the port is in use', async () => {
    const first = await listenTcp({ host: '127.0.0.1', port: 0 }, () => {});
    try {
      await assert.rejects(listenTcp({ host: '127.0.0.1', port: first.address.port }, () => {}), (e: unknown) => {
        assert.ok(e instanceof ListenError);
        assert.equal(e.code, 'EADDRINUSE');
        assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${first.address.port}`));
        assert.match(e.message, /--listen/);
        return true;
      });
    } finally {
      await first.close();
    }
  });
});
