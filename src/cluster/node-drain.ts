// A cluster node's graceful leave (SIGTERM, `shoal drain`), step by step, each step logged with
// its counts (event names `node.drain.*`):
//   1. stop accepting: the MQTT listeners close, a new connection is refused;
//   2. disconnect clients: MQTT 5 with 0x9C Use Another Server and a Server Reference to a live
//      node (the owner of the client id among the live peers, where step 3 moves its session: the
//      clients spread over the peers), 0x8B Server shutting down when no peer is live; MQTT 3.1.1
//      clients are closed. First, because a session moves only while offline: a client that
//      reconnects at once meets its session on the way (the takeover protocol orders the two);
//   3. push the persistent sessions to live peers (their owners by the hash; a takeover in the
//      push direction, src/cluster/cluster-node.ts pushSessions);
//   4. let the sessions take the disconnects (wills routed, copies committed);
//   5. wait until every message forwarded to a peer is acknowledged;
//   6. leave gossip (the others see it go at once and drop its routes);
//   7. close gRPC.
// One deadline (--drain-timeout) bounds it: a step still running at the deadline is cut short and
// logged (`node.drain.timeout`), the waits after it are skipped, and the quick steps that must run
// still do (disconnecting, leaving, closing). The node then closes storage as on any shutdown
// (which lets the sessions take the disconnects first).
import type { Logger } from '../log.js';
import type { ReferenceFor } from './server-reference.js';

/** What a graceful leave did; also the answer to `shoal drain`. */
export interface DrainReport {
  readonly node: string;
  /** Persistent sessions moved to live peers, those that stay in this node's storage (the push
   * failed or timed out), and those that ended instead of moving (expiry 0, or gone meanwhile). */
  readonly sessionsPushed: number;
  readonly sessionsKept: number;
  readonly sessionsEnded: number;
  /** MQTT 5 clients sent 0x9C with a Server Reference, sent 0x8B, and other connections closed. */
  readonly clientsRedirected: number;
  readonly clientsShutDown: number;
  readonly clientsClosed: number;
  /** Forwarded messages acknowledged during the wait, and still unacknowledged at its end. */
  readonly forwardsSettled: number;
  readonly forwardsUnsettled: number;
  /** The deadline cut a step short. */
  readonly timedOut: boolean;
  readonly elapsedMs: number;
}

/** What pushSessions did: sessions now on another node, still here, ended instead. */
export interface SessionPushResult {
  readonly moved: number;
  readonly failed: number;
  readonly skipped: number;
}

export interface ClientCounts {
  readonly redirected: number;
  readonly shutDown: number;
  readonly closed: number;
}

/** The node and its cluster part, as the drain uses them. */
export interface DrainSteps {
  readonly nodeName: string;
  stopAccepting(): void;
  /** The reference for each client, from the live peers now. */
  references(): ReferenceFor;
  disconnectClients(referenceFor: ReferenceFor): ClientCounts;
  /** Persistent sessions held here, before the push. */
  sessionCount(): number;
  /** Moves the persistent sessions to live peers. */
  pushSessions(): Promise<SessionPushResult>;
  /** Resolves once the sessions have taken the disconnects and committed what they caused. */
  settleSessions(): Promise<void>;
  forwardsInFlight(): number;
  /** Resolves once no forwarded message awaits its acknowledgement. */
  forwardsSettled(): Promise<void>;
  leaveGossip(): Promise<void>;
  /** The report, once the node has left: the answer to `shoal drain` goes out before gRPC closes. */
  reported(report: DrainReport): void;
  closeGrpc(): Promise<void>;
}

const TIMED_OUT = Symbol('timed out');

export async function drainNode(steps: DrainSteps, timeoutMs: number, log: Logger, now: () => number = Date.now): Promise<DrainReport> {
  const startedAt = now();
  const deadlineAt = startedAt + timeoutMs;
  let timedOut = false;
  /** `work()`, unless the deadline passes first (then null, logged); not started once it has. */
  const bounded = async <T>(step: string, work: () => Promise<T>): Promise<T | null> => {
    if (timedOut) return null;
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, deadlineAt - now()))));
    try {
      const result = await Promise.race([work(), expiry]);
      if (result !== TIMED_OUT) return result as T;
    } finally {
      clearTimeout(timer);
    }
    timedOut = true;
    log.warn({ event: 'node.drain.timeout', step, timeoutMs }, `graceful leave: ${step} not done within the drain timeout (${timeoutMs} ms); cutting it short`);
    return null;
  };

  log.info({ event: 'node.drain.begin', node: steps.nodeName, timeoutMs }, 'graceful leave: draining this node');
  steps.stopAccepting();
  log.info({ event: 'node.drain.listeners_closed' }, 'graceful leave: no longer accepting MQTT connections');

  const clients = steps.disconnectClients(steps.references());
  log.info(
    { event: 'node.drain.clients_disconnected', ...clients },
    `graceful leave: ${clients.redirected} MQTT 5 clients referred to another node (0x9C), ${clients.shutDown} told 0x8B, ${clients.closed} other connections closed`,
  );

  const held = steps.sessionCount();
  const push = await bounded('moving persistent sessions', () => steps.pushSessions());
  // Cut short: what was not reported moved counts as kept (it may still move in the background).
  const sessions = push === null ? { pushed: 0, kept: held, ended: 0 } : { pushed: push.moved, kept: push.failed, ended: push.skipped };
  log.info(
    { event: 'node.drain.sessions_pushed', held, ...sessions },
    `graceful leave: ${sessions.pushed} of ${held} persistent sessions moved to live peers, ${sessions.kept} kept in this node's storage, ${sessions.ended} ended instead`,
  );

  await bounded('sessions taking the disconnects', () => steps.settleSessions());
  const before = steps.forwardsInFlight();
  await bounded('forwarded messages awaiting acknowledgement', () => steps.forwardsSettled());
  const unsettled = steps.forwardsInFlight();
  log.info(
    { event: 'node.drain.forwards_settled', settled: Math.max(0, before - unsettled), unsettled },
    `graceful leave: forwarded messages acknowledged${unsettled > 0 ? `; ${unsettled} still unacknowledged` : ''}`,
  );

  await steps.leaveGossip();
  log.info({ event: 'node.drain.left_gossip' }, 'graceful leave: left the cluster gossip');
  const report: DrainReport = {
    node: steps.nodeName,
    sessionsPushed: sessions.pushed,
    sessionsKept: sessions.kept,
    sessionsEnded: sessions.ended,
    clientsRedirected: clients.redirected,
    clientsShutDown: clients.shutDown,
    clientsClosed: clients.closed,
    forwardsSettled: Math.max(0, before - unsettled),
    forwardsUnsettled: unsettled,
    timedOut,
    elapsedMs: now() - startedAt,
  };
  steps.reported(report);
  await steps.closeGrpc();
  log.info({ event: 'node.drain.done', report }, `graceful leave done in ${report.elapsedMs} ms${timedOut ? ' (cut short by the drain timeout)' : ''}`);
  return report;
}
