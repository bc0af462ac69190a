// The gRPC peer transport between real processes on 127.0.0.1: batches both ways with every
// MQTT 5 property intact, per-topic order on a lane, unary control calls (FullSync, Status,
// RetainedSnapshot), and refusals: a wrong cluster secret and a stale incarnation are refused and
// logged with the caller's address, and the secret never appears in a log line; with mTLS, nodes
// holding certificates of the cluster's CA talk and a node without TLS cannot.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { STATUS_LOAD, jsonLine, revive, type ChildConfig, type Command } from '../helpers/grpc-peer-protocol.js';
import type { ForwardedPublish, PeerMessage } from '../../src/cluster/peer-messages.js';
import { laneFor } from '../../src/cluster/peer-transport.js';
import type { SessionTakeoverMessage } from '../../src/cluster/takeover-codec.js';
import type { SessionSnapshot } from '../../src/actors/session-types.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WAIT_MS = 20_000;
const SECRET = 'integration-secret-7f3a';

type Line = Record<string, unknown>;
/** A command that answers, without its id (call() numbers it). */
type Call = Extract<Command, { id: number }> extends infer C ? (C extends unknown ? Omit<C, 'id'> : never) : never;

class Peer {
  readonly lines: Line[] = [];
  private readonly waiters: { match: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  private stderr = '';
  private nextId = 1;
  port = 0;

  constructor(readonly config: ChildConfig, readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    createInterface({ input: child.stdout }).on('line', (text) => {
      const line = revive(text) as Line;
      this.lines.push(line);
      for (const w of [...this.waiters]) {
        if (w.match(line)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
  }

  static async start(config: ChildConfig): Promise<Peer> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/grpc-peer-child.ts', jsonLine(config)], { cwd: ROOT });
    const peer = new Peer(config, child);
    const ready = await peer.waitFor((l) => l.helper === true && l.event === 'ready');
    peer.port = ready.port as number;
    return peer;
  }

  get member(): { name: string; incarnation: number; grpcAddress: string; protocolVersion: number } {
    return { name: this.config.name, incarnation: this.config.incarnation, grpcAddress: `127.0.0.1:${this.port}`, protocolVersion: 1 };
  }

  /** Resolves with the first line (already seen or future) matching `match`. */
  waitFor(match: (l: Line) => boolean, what = 'a matching line'): Promise<Line> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.config.name}: no ${what} within ${WAIT_MS} ms; stderr: ${this.stderr.slice(-1500)}`)), WAIT_MS);
      this.waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  }

  command(c: Command): void {
    this.child.stdin.write(jsonLine(c) + '\n');
  }

  async call(c: Call): Promise<Line> {
    const id = this.nextId++;
    this.command({ ...c, id } as Command);
    const line = await this.waitFor((l) => l.event === 'result' && l.id === id, `result of ${c.cmd}`);
    if (typeof line.error === 'string') throw new Error(line.error);
    return line;
  }

  messagesFrom(from: string): PeerMessage[] {
    return this.lines.filter((l) => l.event === 'message' && l.from === from).map((l) => l.message as PeerMessage);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

function forward(topic: string, i: number): ForwardedPublish {
  return {
    message: {
      topic,
      payload: new Uint8Array([i & 0xff, 0, 255, 7]),
      qos: 1,
      retain: false,
      publisherId: 'pub-1',
      properties: {
        payloadFormatIndicator: true,
        contentType: 'application/json',
        responseTopic: 'reply/here',
        correlationData: new Uint8Array([1, 2, 3]),
        userProperties: { k: ['v1', 'v2'], single: 'x' },
      },
      expiresAt: 1_900_000_000_000,
    },
    deliverDirect: true,
    sharedGroups: ['$share/g/t/+'],
    ackId: 1000 + i,
  };
}

describe('cluster gRPC transport between processes', { timeout: 120_000 }, () => {
  let a: Peer;
  let b: Peer;
  const extra: Peer[] = [];

  before(async () => {
    [a, b] = await Promise.all([
      Peer.start({ name: 'a', incarnation: 100, secret: SECRET, lanes: 2 }),
      Peer.start({
        name: 'b',
        incarnation: 200,
        secret: SECRET,
        lanes: 2,
        retained: [
          { topic: 'r/1', message: { payload: new Uint8Array([9]), qos: 1, publisherId: 'p' }, timestampMs: 5, node: 'b' },
          { topic: 'r/2', message: null, timestampMs: 6, node: 'b' },
        ],
      }),
    ]);
    a.command({ cmd: 'connect', peer: b.member });
    b.command({ cmd: 'connect', peer: a.member });
    await Promise.all([a.waitFor((l) => l.event === 'peer-up' && l.peer === 'b'), b.waitFor((l) => l.event === 'peer-up' && l.peer === 'a')]);
  });

  after(async () => {
    await Promise.all([a, b, ...extra].filter((p) => p !== undefined).map((p) => p.stop()));
  });

  it('carries batches both ways with every property intact, and answers control calls', async () => {
    const delta: PeerMessage = { kind: 'route-delta', delta: { origin: 'a', incarnation: 100, seq: 1, adds: ['t/+', '$share/g/t/+'], removes: [] } };
    a.command({ cmd: 'send', to: 'b', lane: 0, messages: [delta] });
    a.command({ cmd: 'send', to: 'b', lane: laneFor('t/1', 2), messages: [{ kind: 'forward', publishes: [forward('t/1', 1)] }] });
    b.command({ cmd: 'send', to: 'a', lane: 1, messages: [{ kind: 'forward-ack', ack: { ackId: 1001, status: 'stored' } }] });
    await b.waitFor((l) => l.event === 'message' && (l.message as PeerMessage).kind === 'forward', 'forward at b');
    await a.waitFor((l) => l.event === 'message' && (l.message as PeerMessage).kind === 'forward-ack', 'ack at a');
    const atB = b.messagesFrom('a');
    assert.deepEqual(atB[0], delta);
    assert.deepEqual(atB[1], { kind: 'forward', publishes: [forward('t/1', 1)] });
    assert.deepEqual(a.messagesFrom('b'), [{ kind: 'forward-ack', ack: { ackId: 1001, status: 'stored' } }]);

    const slice = await a.call({ cmd: 'fetchSlice', peer: 'b', origin: 'a' });
    assert.deepEqual(slice.value, { origin: 'a', incarnation: 100, lastSeq: 1, filters: ['t/+', '$share/g/t/+'] });
    const none = await a.call({ cmd: 'fetchSlice', peer: 'b', origin: 'nobody' });
    assert.equal(none.value, null);
    const status = await a.call({ cmd: 'status', peer: 'b' });
    assert.deepEqual(status.value, { node: 'b', incarnation: 200, protocolVersion: 1, members: [], load: { ...STATUS_LOAD } });
    const retained = await a.call({ cmd: 'fetchRetained', peer: 'b' });
    assert.deepEqual(retained.value, b.config.retained);
  });

  it('carries takeover messages as their own call, sessions and arrivals intact', async () => {
    const copy = { seq: 7, state: 'queued' as const, packetId: null, qos: 1 as const, retain: false, subscriptionIds: [3], message: forward('s/1', 1).message };
    const session: SessionSnapshot = {
      clientId: 'mover', username: 'mover-user', protocolVersion: 5, expiryIntervalSec: 600, connId: null, disconnectedAt: 1_800_000_000_000, clientReceiveMaximum: 20,
      subscriptions: { 's/+': { qos: 1, noLocal: false, retainAsPublished: true, retainHandling: 0, subscriptionId: 3 } }, subscriptionCount: 1,
      inboundQos2: [4], inflight: [{ ...copy, seq: 6, state: 'inflight', packetId: 9 }], queue: [copy],
      queuedBytes: copy.message.payload.byteLength + copy.message.topic.length, queuedQos0: 0, nextSeq: 8, nextPacketId: 10, will: null, willDueAt: null, expiresAt: 1_800_000_600_000,
    };
    const messages: SessionTakeoverMessage[] = [
      { kind: 'claim', id: 'a/100/1', clientId: 'mover', from: 'a' },
      { kind: 'begin', id: 'a/100/1', clientId: 'mover', from: 'a', cleanStart: false },
    ];
    for (const message of messages) await a.call({ cmd: 'takeover', peer: 'b', message });
    await b.call({ cmd: 'takeover', peer: 'a', message: { kind: 'exported', id: 'a/100/1', clientId: 'mover', session, busy: false } });
    await b.call({ cmd: 'takeover', peer: 'a', message: { kind: 'ended', id: 'a/100/1', clientId: 'mover', outcome: 'ended', buffered: [copy] } });
    const atB = b.lines.filter((l) => l.event === 'takeover' && l.from === 'a').map((l) => l.message);
    assert.deepEqual(atB, messages);
    const atA = a.lines.filter((l) => l.event === 'takeover' && l.from === 'b').map((l) => l.message as SessionTakeoverMessage);
    assert.deepEqual(atA, [
      { kind: 'exported', id: 'a/100/1', clientId: 'mover', session, busy: false },
      { kind: 'ended', id: 'a/100/1', clientId: 'mover', outcome: 'ended', buffered: [copy] },
    ]);
    // A node speaks only for itself: a message naming another sender is refused.
    await assert.rejects(a.call({ cmd: 'takeover', peer: 'b', message: { kind: 'claim', id: 'x/1/1', clientId: 'mover', from: 'x' } }), /names "x" as its sender/);
  });

  it('keeps the order of messages on one topic across many batches', async () => {
    const n = 300;
    for (let i = 0; i < n; i++) {
      // One command per message, so they leave in many event-loop turns (many batches).
      b.command({ cmd: 'send', to: 'a', lane: laneFor('order/x', 2), messages: [{ kind: 'forward', publishes: [forward('order/x', i)] }] });
    }
    await a.waitFor((l) => l.event === 'message' && ((l.message as PeerMessage & { kind: 'forward' }).publishes?.[0]?.ackId === 1000 + n - 1), 'last ordered message');
    const got = a
      .messagesFrom('b')
      .filter((m): m is PeerMessage & { kind: 'forward' } => m.kind === 'forward')
      .map((m) => m.publishes[0]!.ackId - 1000);
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => i));
  });

  it('splits what is queued in one turn into bounded batches, and takes a message larger than 4 MiB', async () => {
    // 24 × 512 KiB in one turn (12 MiB) and one of 6 MiB: one batch of all would exceed gRPC's
    // default 4 MiB message limit and break the stream.
    a.command({ cmd: 'sendBulk', to: 'b', lane: 1, topic: 'bulk/a', count: 24, bytes: 512 * 1024 });
    a.command({ cmd: 'sendBulk', to: 'b', lane: 1, topic: 'bulk/b', count: 1, bytes: 6 * 1024 * 1024 });
    const total = (): number => b.lines.filter((l) => l.event === 'bulk').reduce((n, l) => n + (l.sizes as number[]).length, 0);
    await b.waitFor(() => total() === 25, '25 bulk messages at b');
    const sizes = b.lines.filter((l) => l.event === 'bulk').flatMap((l) => l.sizes as number[]);
    assert.deepEqual(sizes, [...Array<number>(24).fill(512 * 1024), 6 * 1024 * 1024]);
    assert.equal(a.lines.some((l) => l.event === 'peer-down'), false);
  });

  it('refuses a node with a wrong secret, logging its address and what to do; never logs the secret', async () => {
    const c = await Peer.start({ name: 'c', incarnation: 300, secret: 'wrong-secret', lanes: 1 });
    extra.push(c);
    c.command({ cmd: 'connect', peer: a.member });
    const refusal = await a.waitFor((l) => l.event === 'cluster.call.refused' && l.node === 'c', 'refusal of c');
    assert.match(String(refusal.reason), /wrong cluster secret/);
    assert.match(String(refusal.hint), /same --cluster-secret/);
    assert.match(String(refusal.peerAddress), /127\.0\.0\.1:\d+/);
    const seenByC = await c.waitFor((l) => l.event === 'cluster.peer.unreachable', 'c told it is refused');
    assert.match(String(seenByC.reason), /status 16/);
    assert.match(String(seenByC.hint), /same --cluster-secret/);
    assert.equal(c.lines.some((l) => l.event === 'peer-up'), false);
    for (const p of [a, b, c]) {
      for (const l of p.lines) assert.equal(JSON.stringify(l).includes(SECRET) || JSON.stringify(l).includes('wrong-secret'), false);
    }
  });

  it('refuses a stale incarnation of a known node', async () => {
    const old = await Peer.start({ name: 'b', incarnation: 150, secret: SECRET, lanes: 1 });
    extra.push(old);
    old.command({ cmd: 'connect', peer: a.member });
    const refusal = await a.waitFor((l) => l.event === 'cluster.call.refused' && l.incarnation === 150, 'refusal of b@150');
    assert.match(String(refusal.reason), /stale incarnation 150/);
    const seen = await old.waitFor((l) => l.event === 'cluster.peer.unreachable', 'old b told it is refused');
    assert.match(String(seen.reason), /status 9/);
    // The current b is unaffected: its messages still arrive.
    b.command({ cmd: 'send', to: 'a', lane: 0, messages: [{ kind: 'digests', set: { from: 'b', digests: [] } }] });
    await a.waitFor((l) => l.event === 'message' && (l.message as PeerMessage).kind === 'digests', 'digests from current b');
  });

  it('reports a peer down when its process dies, and queues (bounded) meanwhile', async () => {
    await b.stop();
    await a.waitFor((l) => l.event === 'peer-down' && l.peer === 'b', 'peer-down of b');
    a.command({ cmd: 'send', to: 'b', lane: 0, messages: [{ kind: 'digests', set: { from: 'a', digests: [] } }] });
    const sent = await a.waitFor((l) => l.event === 'sent', 'send result');
    assert.equal(sent.ok, true);
  });
});

/** A throwaway CA and one certificate for 127.0.0.1 signed by it (EC keys: fast to make). */
function makeCerts(dir: string): { certPath: string; keyPath: string; caPath: string } {
  const run = (args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=shoal-test-ca']);
  run(['req', ...ec, '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.pem', '-days', '1', '-extfile', 'san.ext']);
  return { certPath: join(dir, 'node.pem'), keyPath: join(dir, 'node.key'), caPath: join(dir, 'ca.pem') };
}

describe('cluster gRPC transport with mTLS', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-mtls-'));
  const peers: Peer[] = [];

  after(async () => {
    await Promise.all(peers.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects nodes with certificates of the cluster CA and refuses a node without TLS', async () => {
    const tls = makeCerts(dir);
    const [x, y, plain] = await Promise.all([
      Peer.start({ name: 'x', incarnation: 1, secret: SECRET, lanes: 1, tls }),
      Peer.start({ name: 'y', incarnation: 2, secret: SECRET, lanes: 1, tls }),
      Peer.start({ name: 'p', incarnation: 3, secret: SECRET, lanes: 1 }),
    ]);
    peers.push(x!, y!, plain!);
    x!.command({ cmd: 'connect', peer: y!.member });
    y!.command({ cmd: 'connect', peer: x!.member });
    await x!.waitFor((l) => l.event === 'peer-up' && l.peer === 'y', 'x sees y up over mTLS');
    x!.command({ cmd: 'send', to: 'y', lane: 0, messages: [{ kind: 'digests', set: { from: 'x', digests: [] } }] });
    await y!.waitFor((l) => l.event === 'message' && l.from === 'x', 'a batch over mTLS');
    // x knows p (so admission would accept it): only TLS can keep it out.
    x!.command({ cmd: 'connect', peer: plain!.member });
    plain!.command({ cmd: 'connect', peer: x!.member });
    const failure = await plain!.waitFor((l) => l.event === 'cluster.peer.unreachable', 'plaintext dial refused');
    assert.match(String(failure.reason), /Hello failed/);
    assert.equal(plain!.lines.some((l) => l.event === 'peer-up'), false);
    assert.equal(x!.lines.some((l) => l.event === 'cluster.call.refused'), false, 'the plaintext call must not reach the handlers');
  });
});
