// A session's outbound messages sent and not yet finished (state 'inflight' or 'released'), by
// packet id, in send order. A Map keeps both: insertion order is the send order that redelivery
// on resume must keep [MQTT-4.4.0-1], and an acknowledgement, a packet id allocation or a
// removal out of the middle (acks may come in any order) is O(1), where a search of an array
// cost O(window) per message (the window is up to 65,535).
import type { StoredMessage } from '../storage/types.js';

/** What the session's readers see; writes go through writable() (session-types.ts). */
export interface ReadonlyInflightWindow extends Iterable<StoredMessage> {
  readonly length: number;
  get(packetId: number): StoredMessage | undefined;
  has(packetId: number): boolean;
  /** The messages in send order: the exported (serialisable) form. */
  toArray(): StoredMessage[];
}

export class InflightWindow implements ReadonlyInflightWindow {
  /** Made on the first add; the frozen empty window (NO_INFLIGHT) can therefore never get one. */
  private byId: Map<number, StoredMessage> | null = null;

  /** A window holding `messages` in this order (each with its packet id). */
  static from(messages: Iterable<StoredMessage>): InflightWindow {
    const w = new InflightWindow();
    for (const m of messages) w.add(m);
    return w;
  }

  /** An empty window that throws on any write (see NO_INFLIGHT in session-types.ts). */
  static frozenEmpty(): ReadonlyInflightWindow {
    return Object.freeze(new InflightWindow());
  }

  get length(): number {
    return this.byId === null ? 0 : this.byId.size;
  }

  get(packetId: number): StoredMessage | undefined {
    return this.byId?.get(packetId);
  }

  has(packetId: number): boolean {
    return this.byId !== null && this.byId.has(packetId);
  }

  /** Adds a sent message at the end of the send order; its packet id must be free [MQTT-2.2.1-3]. */
  add(m: StoredMessage): void {
    if (m.packetId === null) throw new InflightWithoutPacketIdError(m.seq);
    // On a frozen window this assignment throws (a write that bypassed writable()).
    if (this.byId === null) this.byId = new Map();
    if (this.byId.has(m.packetId)) throw new DuplicatePacketIdError(m.packetId, m.seq);
    this.byId.set(m.packetId, m);
  }

  /** Removes and returns the message under `packetId`, if any. */
  delete(packetId: number): StoredMessage | undefined {
    const m = this.byId?.get(packetId);
    if (m !== undefined) this.byId!.delete(packetId);
    return m;
  }

  [Symbol.iterator](): IterableIterator<StoredMessage> {
    return (this.byId ?? NO_ENTRIES).values();
  }

  toArray(): StoredMessage[] {
    return this.byId === null ? [] : [...this.byId.values()];
  }
}

const NO_ENTRIES: ReadonlyMap<number, StoredMessage> = new Map();

export class InflightWithoutPacketIdError extends Error {
  constructor(readonly seq: number) {
    super(`inflight message seq ${seq} has no packet identifier: a sent QoS 1/2 message always has one; the session state is corrupt`);
    this.name = 'InflightWithoutPacketIdError';
  }
}

export class DuplicatePacketIdError extends Error {
  constructor(readonly packetId: number, readonly seq: number) {
    super(`packet identifier ${packetId} of message seq ${seq} is already inflight [MQTT-2.2.1-3]: the session state is corrupt`);
    this.name = 'DuplicatePacketIdError';
  }
}
