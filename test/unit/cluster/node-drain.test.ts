// The graceful leave's sequence over fake steps: the order of the steps (clients disconnected
// before their sessions are pushed), the counts in its report and log lines, and the drain timeout
// cutting a stuck step short while the steps after it (leave, close) still run.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { drainNode, type DrainReport, type DrainSteps, type SessionPushResult } from '../../../src/cluster/node-drain.js';
import { createLogger, flushLogger } from '../../../src/log.js';

function capture(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger('info', { destination: sink }), lines };
}

class FakeSteps implements DrainSteps {
  readonly nodeName = 'node3';
  readonly calls: string[] = [];
  push: Promise<SessionPushResult> = Promise.resolve({ moved: 2, failed: 1, skipped: 1 });
  settle: Promise<void> = Promise.resolve();
  inFlight = 3;
  report: DrainReport | null = null;
  referenced = new Map<string, string | null>();
  stopAccepting(): void {
    this.calls.push('stopAccepting');
  }
  sessionCount(): number {
    return 4;
  }
  pushSessions(): Promise<SessionPushResult> {
    this.calls.push('pushSessions');
    return this.push;
  }
  references(): (clientId: string) => string | null {
    this.calls.push('references');
    return (id) => (id === 'moved' ? 'node1:1883' : null);
  }
  disconnectClients(referenceFor: (clientId: string) => string | null): { redirected: number; shutDown: number; closed: number } {
    this.calls.push('disconnectClients');
    for (const id of ['moved', 'other']) this.referenced.set(id, referenceFor(id));
    return { redirected: 1, shutDown: 1, closed: 4 };
  }
  settleSessions(): Promise<void> {
    this.calls.push('settleSessions');
    return this.settle;
  }
  forwardsInFlight(): number {
    return this.inFlight;
  }
  forwardsSettled(): Promise<void> {
    this.calls.push('forwardsSettled');
    this.inFlight = 0;
    return Promise.resolve();
  }
  leaveGossip(): Promise<void> {
    this.calls.push('leaveGossip');
    return Promise.resolve();
  }
  reported(report: DrainReport): void {
    this.calls.push('reported');
    this.report = report;
  }
  closeGrpc(): Promise<void> {
    this.calls.push('closeGrpc');
    return Promise.resolve();
  }
}

describe('drainNode', () => {
  it('runs the steps in order, refers clients, logs and reports the counts', async () => {
    const steps = new FakeSteps();
    const { log, lines } = capture();
    const report = await drainNode(steps, 5_000, log);
    await flushLogger(log);
    assert.deepEqual(steps.calls, ['stopAccepting', 'references', 'disconnectClients', 'pushSessions', 'settleSessions', 'forwardsSettled', 'leaveGossip', 'reported', 'closeGrpc']);
    assert.deepEqual(Object.fromEntries(steps.referenced), { moved: 'node1:1883', other: null });
    assert.equal(steps.report, report, 'reported before gRPC closes, the same report');
    assert.deepEqual({ ...report, elapsedMs: 0 }, {
      node: 'node3', sessionsPushed: 2, sessionsKept: 1, sessionsEnded: 1, clientsRedirected: 1, clientsShutDown: 1, clientsClosed: 4,
      forwardsSettled: 3, forwardsUnsettled: 0, timedOut: false, elapsedMs: 0,
    });
    const events = lines.map((l) => l.event);
    assert.deepEqual(events, [
      'node.drain.begin', 'node.drain.listeners_closed', 'node.drain.clients_disconnected', 'node.drain.sessions_pushed',
      'node.drain.forwards_settled', 'node.drain.left_gossip', 'node.drain.done',
    ]);
    const pushed = lines.find((l) => l.event === 'node.drain.sessions_pushed')!;
    assert.deepEqual([pushed.held, pushed.pushed, pushed.kept, pushed.ended], [4, 2, 1, 1]);
    const disconnected = lines.find((l) => l.event === 'node.drain.clients_disconnected')!;
    assert.deepEqual([disconnected.redirected, disconnected.shutDown, disconnected.closed], [1, 1, 4]);
  });

  it('cuts a step that overruns the drain timeout short, skips the bounded waits after it, and still leaves and closes', async () => {
    const steps = new FakeSteps();
    steps.push = new Promise(() => undefined); // a push that never finishes
    const { log, lines } = capture();
    const report = await drainNode(steps, 50, log);
    await flushLogger(log);
    assert.equal(report.timedOut, true);
    assert.equal(report.sessionsPushed, 0);
    assert.equal(report.sessionsKept, 4, 'what the push did not report counts as kept');
    assert.deepEqual(steps.calls, ['stopAccepting', 'references', 'disconnectClients', 'pushSessions', 'leaveGossip', 'reported', 'closeGrpc']);
    const timeout = lines.find((l) => l.event === 'node.drain.timeout')!;
    assert.equal(timeout.step, 'moving persistent sessions');
    assert.equal(report.forwardsUnsettled, 3);
  });
});
