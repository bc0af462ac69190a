// The gossip UDP socket: bound to the configured host only (swim binds every interface), every
// datagram sealed on the way out and opened on the way in (gossip-seal.ts). What does not open is
// dropped and logged, at most once per REJECT_LOG_INTERVAL_MS per source, naming the sender and
// the setting to check. Knows nothing of SWIM: it carries payloads.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../log.js';
import { GossipSeal, OPEN_FAILURE_TEXT, type OpenFailure } from './gossip-seal.js';
import { GossipBindError } from './membership-errors.js';

/** At most one log line per source address (or send target) in this period. */
const REJECT_LOG_INTERVAL_MS = 10_000;
/** Sources tracked for that rate limit; the table is cleared when full (a flood of spoofed sources). */
export const MAX_TRACKED_SOURCES = 256;

/** "host:port" with brackets around an IPv6 host. */
export function joinHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Inverse of joinHostPort; also takes swim's unbracketed "::1:7946" (it formats rinfo that way). */
export function splitHostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(colon + 1)) };
}

export interface GossipSocketOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: string | undefined;
  readonly logger: Logger;
  /** An authentic datagram's payload. */
  readonly onPayload: (payload: Buffer, rinfo: RemoteInfo) => void;
}

export class GossipSocket {
  private readonly seal: GossipSeal;
  private socket: Socket | undefined;
  private readonly reported = new Map<string, { last: number; suppressed: number }>();
  private pendingSends = 0;
  private sendsDrained: (() => void) | undefined;

  constructor(private readonly opts: GossipSocketOptions) {
    this.seal = new GossipSeal(opts.secret);
  }

  get authenticated(): boolean {
    return this.seal.authenticated;
  }

  /** Binds host:port (exclusively) and resolves with the bound port. */
  bind(): Promise<number> {
    const { host, port, logger } = this.opts;
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    this.socket = socket;
    return new Promise<number>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.socket = undefined;
        socket.close();
        reject(new GossipBindError(joinHostPort(host, port), err));
      };
      socket.once('error', onError);
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.off('error', onError);
        socket.on('error', (err) => logger.error({ event: 'cluster.gossip.socket_error', err }, 'gossip socket error'));
        socket.on('message', (datagram, rinfo) => this.onDatagram(datagram, rinfo));
        resolve(socket.address().port);
      });
    });
  }

  /** Seals and sends `payload` to "host:port"; a failure is logged (rate-limited), not thrown. */
  send(payload: Buffer, address: string): void {
    const socket = this.socket;
    if (socket === undefined) return;
    const { host, port } = splitHostPort(address);
    this.pendingSends++;
    socket.send(this.seal.seal(payload), port, host, (err) => {
      if (err) {
        this.rateLimited(`send:${address}`, () =>
          this.opts.logger.warn({ event: 'cluster.gossip.send_failed', to: address, err }, `cannot send gossip to ${address}: ${err.message}`),
        );
      }
      if (--this.pendingSends === 0) this.sendsDrained?.();
    });
  }

  /** Closes the socket once the datagrams handed to send() are out, or after `flushMs`. */
  async close(flushMs: number): Promise<void> {
    if (this.pendingSends > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, flushMs);
        this.sendsDrained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private onDatagram(datagram: Buffer, rinfo: RemoteInfo): void {
    const opened = this.seal.open(datagram);
    if (opened.ok) {
      this.opts.onPayload(opened.payload, rinfo);
      return;
    }
    const from = joinHostPort(rinfo.address, rinfo.port);
    this.rateLimited(from, (suppressed) => this.reportRejected(from, opened.reason, suppressed));
  }

  private reportRejected(from: string, reason: OpenFailure, suppressed: number): void {
    this.opts.logger.error(
      { event: 'cluster.gossip.rejected', from, reason, suppressed },
      `dropped a gossip datagram from ${from}: ${OPEN_FAILURE_TEXT[reason]}; check --cluster-secret: ` +
        `every node of the cluster needs the same one` + (suppressed > 0 ? ` (${suppressed} more since the last report)` : ''),
    );
  }

  /** Calls `report` for `key` at most once per REJECT_LOG_INTERVAL_MS, with the count it skipped. */
  private rateLimited(key: string, report: (suppressed: number) => void): void {
    const now = Date.now();
    const seen = this.reported.get(key);
    if (seen !== undefined && now - seen.last < REJECT_LOG_INTERVAL_MS) {
      seen.suppressed++;
      return;
    }
    if (seen === undefined && this.reported.size >= MAX_TRACKED_SOURCES) this.reported.clear();
    report(seen?.suppressed ?? 0);
    this.reported.set(key, { last: now, suppressed: 0 });
  }
}
