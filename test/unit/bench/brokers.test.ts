import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { BrokerStartError, startBroker } from '../../../bench/brokers.js';

test('startBroker refuses a port something already listens on, before spawning anything', async () => {
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen({ port: 0, host: '127.0.0.1' }, resolve));
  const port = (squatter.address() as net.AddressInfo).port;
  try {
    await assert.rejects(startBroker('shoal', { port, cpu: null }), (err: unknown) => {
      assert.ok(err instanceof BrokerStartError, String(err));
      assert.match(err.message, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is not free .*--port-base`));
      return true;
    });
  } finally {
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  }
});
