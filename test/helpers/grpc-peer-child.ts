// A child process holding one real GrpcTransport, driven by JSON-line commands on stdin and
// reporting on stdout (its pino log lines, plus `{"helper": ...}` lines for transport events and
// command results). Used by test/integration/cluster-grpc.test.ts so two nodes talk real gRPC
// across processes.
import { createInterface } from 'node:readline';
import { createLogger } from '../../src/log.js';
import { GrpcTransport } from '../../src/cluster/grpc-transport.js';
import { RouteTable } from '../../src/cluster/route-table.js';
import { STATUS_LOAD, jsonLine, revive, type ChildConfig, type Command } from './grpc-peer-protocol.js';

async function main(): Promise<void> {
  const config = revive(process.argv[2]!) as ChildConfig;
  const logger = createLogger('info');
  const table = new RouteTable();
  const say = (line: Record<string, unknown>): boolean => process.stdout.write(jsonLine({ helper: true, ...line }) + '\n');
  // self.grpcAddress is informational here (sent in Hello); peers get the port from "ready".
  const t = new GrpcTransport({
    self: { name: config.name, incarnation: config.incarnation, grpcAddress: '127.0.0.1:0', protocolVersion: 1 },
    listen: '127.0.0.1:0',
    ...(config.secret === undefined ? {} : { secret: config.secret }),
    ...(config.tls === undefined ? {} : { tls: config.tls }),
    lanes: config.lanes ?? 2,
    reconnectMs: 100,
    logger,
    handlers: {
      routeSlice: (origin) => table.sliceOf(origin),
      retainedSnapshot: () => config.retained ?? [],
      adopt: (from, clientId) => Promise.resolve({ moved: false, detail: `${from} asked for ${clientId}; this test peer holds no sessions` }),
      status: () => ({ node: config.name, incarnation: config.incarnation, protocolVersion: 1, members: [], load: { ...STATUS_LOAD } }),
      drain: () => Promise.reject(new Error('this test peer does not drain')),
    },
  });
  const port = await t.start();
  t.on('message', (from, message) => {
    if (message.kind === 'route-delta') table.apply(message.delta);
    // Large payloads are reported by size only, to keep the pipe small.
    if (message.kind === 'forward' && message.publishes.some((p) => p.message.payload.byteLength > 65_536)) {
      const sizes = message.publishes.map((p) => p.message.payload.byteLength);
      say({ event: 'bulk', from, sizes, ackIds: message.publishes.map((p) => p.ackId) });
      return;
    }
    say({ event: 'message', from, message });
  });
  t.on('takeover', (from, message) => say({ event: 'takeover', from, message }));
  t.on('peer-up', (peer) => say({ event: 'peer-up', peer: peer.name }));
  t.on('peer-down', (name, reason) => say({ event: 'peer-down', peer: name, reason }));
  say({ event: 'ready', port });
  for await (const text of createInterface({ input: process.stdin })) {
    const c = revive(text) as Command;
    const answer = (id: number, p: Promise<unknown>): void => {
      p.then(
        (value) => say({ event: 'result', id, value }),
        (err: Error) => say({ event: 'result', id, error: err.message }),
      );
    };
    if (c.cmd === 'connect') t.connect(c.peer);
    else if (c.cmd === 'disconnect') t.disconnect(c.name);
    else if (c.cmd === 'send') for (const m of c.messages) say({ event: 'sent', ok: t.send(c.to, m, c.lane) });
    else if (c.cmd === 'sendBulk') {
      for (let i = 0; i < c.count; i++) {
        const payload = new Uint8Array(c.bytes).fill(i & 0xff);
        const message = { topic: c.topic, payload, qos: 0 as const, retain: false, publisherId: 'bulk' };
        t.send(c.to, { kind: 'forward', publishes: [{ message, deliverDirect: true, sharedGroups: [], ackId: i + 1 }] }, c.lane);
      }
    } else if (c.cmd === 'fetchSlice') answer(c.id, t.fetchSlice(c.peer, c.origin, 5_000));
    else if (c.cmd === 'fetchRetained') answer(c.id, t.fetchRetained(c.peer, 5_000));
    else if (c.cmd === 'status') answer(c.id, t.status(c.peer, 5_000));
    else if (c.cmd === 'takeover') answer(c.id, t.takeover(c.peer, c.message, 5_000));
  }
  await t.close();
}

void main();
