// What a node counts for /metrics and $SYS, as plain numbers the hot path increments (an array
// slot per QoS, a field per cause); prom-client reads them only when scraped
// (src/metrics/prometheus.ts). NodeMetrics is the seam other layers call: the cluster reports
// takeovers through it, so it never imports prom-client.
import { TopTopics } from './top-topics.js';

/** Why a message was not delivered to a subscriber. */
export type DropCause =
  /** QoS 0 to a connection whose write buffer is past half its limit (see --max-write-buffer). */
  | 'slow_consumer'
  /** Larger than the subscriber's v5 Maximum Packet Size. */
  | 'too_large'
  /** The session's queue was full (--max-queued-messages / --max-queued-bytes). */
  | 'queue_full'
  /** A PUBLISH over the publisher's --max-publish-rate, dropped or refused (v5 0x97); not one only delayed. */
  | 'rate_limited'
  /** A PUBLISH the ACL file does not let its publisher write (v5 PUBACK/PUBREC 0x87). */
  | 'not_authorized';
export const DROP_CAUSES: readonly DropCause[] = ['slow_consumer', 'too_large', 'queue_full', 'rate_limited', 'not_authorized'];

/** How a cross-node session takeover this node asked for ended. */
export type TakeoverOutcome = 'completed' | 'failed';
export const TAKEOVER_OUTCOMES: readonly TakeoverOutcome[] = ['completed', 'failed'];

/** Upper bounds (seconds) of the takeover latency buckets: a loopback takeover takes a few ms, across hosts tens. */
export const TAKEOVER_BUCKETS_SECONDS: readonly number[] = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** The seam: what other layers report to the node's metrics. */
export interface NodeMetrics {
  /** A session takeover claimed by this node ended after `ms` milliseconds. */
  observeTakeover(outcome: TakeoverOutcome, ms: number): void;
  /** A message was not delivered to one subscriber. */
  dropped(cause: DropCause): void;
}

/** A node's load as the dashboard plots it and peers report it in Status (counters since the
 * node started: the reader takes rates; the rest are current sizes). */
export interface NodeLoad {
  connections: number;
  messagesReceived: number;
  messagesSent: number;
  /** Payload bytes. */
  bytesReceived: number;
  bytesSent: number;
  subscriptions: number;
  retained: number;
}

/** A fixed-bucket histogram in plain numbers (non-cumulative counts; the last bucket is +Inf). */
export class PlainHistogram {
  readonly counts: number[];
  count = 0;
  sum = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += value;
  }

  /** Cumulative counts per bound, then +Inf. */
  cumulative(): number[] {
    let sum = 0;
    return this.counts.map((c) => (sum += c));
  }
}

/** Close kinds (CloseReason['kind']) in a fixed order, to key the disconnect counts by number. */
export const CLOSE_KINDS = ['normal', 'will', 'abnormal', 'takeover', 'server'] as const;
export type CloseKind = (typeof CLOSE_KINDS)[number];

export class BrokerCounters implements NodeMetrics {
  /** Indexed by QoS. Payload bytes, as $SYS counts them. */
  readonly messagesReceived = [0, 0, 0];
  readonly payloadBytesReceived = [0, 0, 0];
  readonly messagesSent = [0, 0, 0];
  readonly payloadBytesSent = [0, 0, 0];
  readonly drops: Record<DropCause, number> = { slow_consumer: 0, too_large: 0, queue_full: 0, rate_limited: 0, not_authorized: 0 };
  /** CONNECTs answered with a successful CONNACK. */
  connectsAccepted = 0;
  /** Connections closed before a successful CONNACK, by reason code (refused, timed out, malformed). */
  readonly connectsFailed = new Map<number, number>();
  /** Connections closed after CONNACK, by CLOSE_KINDS index × 256 + reason code. */
  readonly disconnects = new Map<number, number>();
  /** Wire bytes of connections already closed (open ones are read from their own counters). */
  closedBytesReceived = 0;
  closedBytesSent = 0;
  clientsMaximum = 0;
  readonly takeovers: Record<TakeoverOutcome, number> = { completed: 0, failed: 0 };
  readonly takeoverSeconds = new PlainHistogram(TAKEOVER_BUCKETS_SECONDS);
  readonly topics = new TopTopics();

  observeTakeover(outcome: TakeoverOutcome, ms: number): void {
    this.takeovers[outcome]++;
    this.takeoverSeconds.observe(ms / 1000);
  }

  dropped(cause: DropCause): void {
    this.drops[cause]++;
  }

  connectFailed(reasonCode: number): void {
    this.connectsFailed.set(reasonCode, (this.connectsFailed.get(reasonCode) ?? 0) + 1);
  }

  disconnected(kind: CloseKind, reasonCode: number): void {
    const key = CLOSE_KINDS.indexOf(kind) * 256 + reasonCode;
    this.disconnects.set(key, (this.disconnects.get(key) ?? 0) + 1);
  }

  get totalReceived(): number {
    return this.messagesReceived[0]! + this.messagesReceived[1]! + this.messagesReceived[2]!;
  }

  get totalSent(): number {
    return this.messagesSent[0]! + this.messagesSent[1]! + this.messagesSent[2]!;
  }

  get totalPayloadReceived(): number {
    return this.payloadBytesReceived[0]! + this.payloadBytesReceived[1]! + this.payloadBytesReceived[2]!;
  }

  get totalPayloadSent(): number {
    return this.payloadBytesSent[0]! + this.payloadBytesSent[1]! + this.payloadBytesSent[2]!;
  }

  get totalDropped(): number {
    let n = 0;
    for (const cause of DROP_CAUSES) n += this.drops[cause];
    return n;
  }
}
