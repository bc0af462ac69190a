// The closed-loop publish/subscribe engine behind the throughput scenarios. Publishers write
// batches of pre-encoded PUBLISH packets while fewer than `window` published messages are still
// undelivered (so no broker is pushed into unbounded queues or slow-consumer drops, and every broker
// sees the same load shape); QoS 1/2 publishers also respect an in-flight limit per client.
// Subscribers only scan fixed headers, except where they must ack or read a send timestamp.
import { performance } from 'node:perf_hooks';
import type { RawClient } from './client.js';
import { FrameScanner, PacketType, publishLayout } from './frame-scanner.js';
import type { LatencyRecorder } from './latency.js';
import { ACK, STAMP_BYTES, writeAck, type PublishTemplate } from './packets.js';

export interface FlowOptions {
  publishers: RawClient[];
  /** Templates each publisher cycles through (index-aligned with publishers). */
  templates: PublishTemplate[][];
  subscribers: RawClient[];
  qos: 0 | 1 | 2;
  /** QoS the subscribers hold (decides which acks they send). */
  subQos: 0 | 1 | 2;
  /** Deliveries expected per published message (subscribers matching each publish). */
  fanOut: number;
  /** Most published-but-undelivered messages. */
  window: number;
  batch: number;
  inflightPerPublisher: number;
  latency: LatencyRecorder | null;
  /** After this long without a delivery while messages are outstanding, count them lost. */
  stallMs?: number;
  /**
   * Open loop at this many published messages per second (checked every millisecond): latency at
   * a load every broker sustains, instead of at saturation where it is only window / throughput.
   * The window and in-flight limits still apply, as a safety net.
   */
  ratePerSec?: number;
}

interface Pub {
  client: RawClient;
  /** All templates back to back (repeated so a QoS 0 batch is one subarray). */
  stream: Buffer;
  /** Start offset of each packet in `stream`, plus the end. */
  starts: Int32Array;
  idOffsets: Int32Array;
  payloadOffsets: Int32Array;
  cursor: number;
  nextId: number;
  inflight: number;
  waitingDrain: boolean;
}

export class Flow {
  published = 0;
  delivered = 0;
  /** Deliveries given up on after a stall (dropped by the broker, or never sent). */
  lost = 0;
  stalls = 0;
  duplicatesOrExtra = 0;
  private running = false;
  private readonly pubs: Pub[];
  private rr = 0;
  private stallTimer: NodeJS.Timeout | null = null;
  private paceTimer: NodeJS.Timeout | null = null;
  private begin = 0;
  private lastDelivered = -1;
  private readonly stamp: boolean;
  private readonly copyBatch: boolean;

  constructor(private readonly o: FlowOptions) {
    this.stamp = o.latency !== null;
    this.copyBatch = o.qos > 0 || this.stamp;
    this.pubs = o.publishers.map((client, i) => this.preparePublisher(client, o.templates[i]!));
    for (const s of o.subscribers) this.attachSubscriber(s);
  }

  start(): void {
    this.running = true;
    const stallMs = this.o.stallMs ?? 1000;
    this.stallTimer = setInterval(() => this.checkStall(), stallMs);
    this.begin = performance.now();
    if (this.o.ratePerSec !== undefined) this.paceTimer = setInterval(() => this.pump(), 1);
    this.pump();
  }

  stop(): void {
    this.running = false;
    if (this.stallTimer) clearInterval(this.stallTimer);
    if (this.paceTimer) clearInterval(this.paceTimer);
  }

  /** Deliveries still owed: published × fan-out − delivered − lost. */
  outstanding(): number {
    return this.published * this.o.fanOut - this.delivered - this.lost;
  }

  /** Resolves once nothing is outstanding (or after `ms`). */
  async settle(ms: number): Promise<void> {
    const until = performance.now() + ms;
    while (this.outstanding() > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  private preparePublisher(client: RawClient, templates: PublishTemplate[]): Pub {
    // Repeat a short template list so one QoS 0 batch fits without wrapping.
    const reps = Math.max(1, Math.ceil(this.o.batch / templates.length));
    const list: PublishTemplate[] = [];
    for (let r = 0; r < reps; r++) list.push(...templates);
    const starts = new Int32Array(list.length + 1);
    const idOffsets = new Int32Array(list.length);
    const payloadOffsets = new Int32Array(list.length);
    let at = 0;
    list.forEach((t, i) => {
      starts[i] = at;
      idOffsets[i] = t.idOffset;
      payloadOffsets[i] = t.payloadOffset;
      at += t.bytes.length;
    });
    starts[list.length] = at;
    const stream = Buffer.concat(list.map((t) => t.bytes));
    if (this.o.qos > 0) {
      client.scanner.bodyMask |= FrameScanner.mask(PacketType.PUBACK, PacketType.PUBREC, PacketType.PUBCOMP);
    }
    const pub: Pub = { client, stream, starts, idOffsets, payloadOffsets, cursor: 0, nextId: 1, inflight: 0, waitingDrain: false };
    client.onFrame = (type, _flags, body) => {
      if (type === PacketType.PUBACK || type === PacketType.PUBCOMP) pub.inflight--;
      else if (type === PacketType.PUBREC) {
        const rel = Buffer.allocUnsafe(4);
        writeAck(rel, 0, ACK.PUBREL, body.readUInt16BE(0));
        client.write(rel);
      }
    };
    client.afterChunk = () => this.pump();
    client.socket.on('drain', () => {
      pub.waitingDrain = false;
      this.pump();
    });
    return pub;
  }

  private attachSubscriber(s: RawClient): void {
    const v5 = s.version === 5;
    const needBody = this.o.subQos > 0 || this.stamp;
    if (needBody) s.scanner.bodyMask |= FrameScanner.mask(PacketType.PUBLISH, PacketType.PUBREL);
    const acks: number[] = [];
    let now = 0;
    const lat = this.o.latency;
    s.onFrame = (type, flags, body) => {
      if (type === PacketType.PUBLISH) {
        const { packetId, payloadOffset } = publishLayout(flags, body, v5);
        if (lat !== null && body.length >= payloadOffset + STAMP_BYTES) lat.record(now - body.readDoubleLE(payloadOffset));
        const q = (flags >> 1) & 3;
        if (q === 1) acks.push(ACK.PUBACK, packetId);
        else if (q === 2) acks.push(ACK.PUBREC, packetId);
      } else if (type === PacketType.PUBREL) {
        acks.push(ACK.PUBCOMP, body.readUInt16BE(0));
      }
    };
    let seen = 0;
    s.socket.removeAllListeners('data');
    s.socket.on('data', (chunk: Buffer) => {
      now = performance.now();
      s.scanner.push(chunk);
      if (acks.length > 0) {
        const out = Buffer.allocUnsafe(acks.length * 2);
        for (let i = 0, o = 0; i < acks.length; i += 2, o += 4) writeAck(out, o, acks[i]!, acks[i + 1]!);
        acks.length = 0;
        s.write(out);
      }
      const total = s.scanner.counts[PacketType.PUBLISH]!;
      this.delivered += total - seen;
      seen = total;
      this.pump();
    });
  }

  private pump(): void {
    if (!this.running) return;
    const o = this.o;
    const n = this.pubs.length;
    let progress = true;
    while (progress) {
      progress = false;
      for (let k = 0; k < n; k++) {
        if (this.outstanding() + o.batch * o.fanOut > o.window * o.fanOut) return;
        if (o.ratePerSec !== undefined && this.published + o.batch > ((performance.now() - this.begin) * o.ratePerSec) / 1000) return;
        const p = this.pubs[(this.rr + k) % n]!;
        if (p.waitingDrain || p.client.closed) continue;
        if (o.qos > 0 && p.inflight + o.batch > o.inflightPerPublisher) continue;
        this.sendBatch(p);
        progress = true;
      }
      this.rr = (this.rr + 1) % n;
    }
  }

  private sendBatch(p: Pub): void {
    const b = this.o.batch;
    const total = p.starts.length - 1;
    const count = Math.min(b, total - p.cursor);
    let buf = p.stream.subarray(p.starts[p.cursor]!, p.starts[p.cursor + count]!);
    if (this.copyBatch) {
      buf = Buffer.from(buf);
      const base = p.starts[p.cursor]!;
      const ts = this.stamp ? performance.now() : 0;
      for (let i = 0; i < count; i++) {
        const at = p.starts[p.cursor + i]! - base;
        const idAt = p.idOffsets[p.cursor + i]!;
        if (idAt >= 0) {
          buf.writeUInt16BE(p.nextId, at + idAt);
          p.nextId = p.nextId === 65535 ? 1 : p.nextId + 1;
        }
        if (this.stamp) buf.writeDoubleLE(ts, at + p.payloadOffsets[p.cursor + i]!);
      }
    }
    p.cursor += count;
    if (p.cursor >= total) p.cursor = 0;
    this.published += count;
    if (this.o.qos > 0) p.inflight += count;
    if (!p.client.write(buf)) p.waitingDrain = true;
  }

  private checkStall(): void {
    if (!this.running) return;
    const out = this.outstanding();
    if (out > 0 && this.delivered === this.lastDelivered) {
      // Nothing arrived for a whole period: whatever is owed is not coming (dropped QoS 0, or a
      // broker that stopped delivering). Count it and open the window again.
      this.lost += out;
      this.stalls++;
      for (const p of this.pubs) p.inflight = 0;
      this.pump();
    }
    this.lastDelivered = this.delivered;
  }
}
