// Retained messages replicated to every node. Each write (a retained PUBLISH, or a clear with an
// empty payload) is stamped (timestamp ms, node name) and sent to every peer; a node keeps, per
// topic, the write with the greatest stamp, compared in that order (last writer wins), so every
// node converges on the same message whatever order writes arrive in. A joining node fetches a
// peer's whole set (RetainedSnapshot) and merges it the same way. Stamps live in memory: after a
// restart a node's stored retained messages count as stamped (0, its name), so any write a peer
// made meanwhile wins over them.
import type { RetainedMessages } from '../broker/retained.js';
import type { AppMessage } from '../protocol/message.js';
import type { RetainedPayload, RetainedUpdate } from './peer-messages.js';

/** A clear's stamp is kept this long, then forgotten (it bounds memory; an older write of the
 * topic arriving later than this would bring the message back). */
export const TOMBSTONE_TTL_MS = 10 * 60_000;

interface Stamp {
  readonly ts: number;
  readonly node: string;
}

function newer(a: Stamp, b: Stamp): boolean {
  return a.ts > b.ts || (a.ts === b.ts && a.node > b.node);
}

export class RetainedReplica {
  /** Per topic, the stamp of the write held (clears included, so a late older write stays out). */
  private readonly stamps = new Map<string, Stamp>();

  constructor(
    private readonly self: string,
    private readonly retained: RetainedMessages,
    private readonly now: () => number,
  ) {}

  /** A retained PUBLISH on this node (already stored locally): its stamped update for the peers. */
  localWrite(message: AppMessage): RetainedUpdate {
    const held = this.stamps.get(message.topic);
    // Later than anything held for the topic even if this node's clock is behind: a client that
    // writes twice on one node must see its second write win.
    const ts = held === undefined ? this.now() : Math.max(this.now(), held.ts + 1);
    this.stamps.set(message.topic, { ts, node: this.self });
    const clear = message.payload.byteLength === 0;
    return { topic: message.topic, message: clear ? null : payloadOf(message), timestampMs: ts, node: this.self };
  }

  /** Merges a peer's write; true when it replaced what this node held. */
  apply(update: RetainedUpdate): boolean {
    const held = this.stamps.get(update.topic) ?? { ts: 0, node: this.self };
    if (!newer({ ts: update.timestampMs, node: update.node }, held)) return false;
    this.stamps.set(update.topic, { ts: update.timestampMs, node: update.node });
    const m = update.message;
    const message: AppMessage = {
      topic: update.topic,
      payload: m === null ? new Uint8Array(0) : m.payload,
      qos: m === null ? 0 : m.qos,
      retain: true,
      publisherId: m === null ? '' : m.publisherId,
    };
    if (m?.properties !== undefined) message.properties = m.properties;
    if (m?.expiresAt !== undefined) message.expiresAt = m.expiresAt;
    // A failed local store is logged by RetainedMessages' caller path; the next snapshot or
    // write repairs this node.
    this.retained.set(message).catch(() => undefined);
    return true;
  }

  /** Forgets the stamps of clears older than TOMBSTONE_TTL_MS (called on the cluster's tick). */
  prune(): void {
    const limit = this.now() - TOMBSTONE_TTL_MS;
    for (const [topic, stamp] of this.stamps) {
      if (stamp.ts < limit && !this.retained.has(topic)) this.stamps.delete(topic);
    }
  }

  /** Everything this node holds, clears included, for a joining peer. */
  *snapshot(): IterableIterator<RetainedUpdate> {
    const seen = new Set<string>();
    for (const m of this.retained.messages()) {
      seen.add(m.topic);
      const stamp = this.stamps.get(m.topic) ?? { ts: 0, node: this.self };
      yield { topic: m.topic, message: payloadOf(m), timestampMs: stamp.ts, node: stamp.node };
    }
    for (const [topic, stamp] of this.stamps) {
      if (!seen.has(topic)) yield { topic, message: null, timestampMs: stamp.ts, node: stamp.node };
    }
  }
}

function payloadOf(m: AppMessage): RetainedPayload {
  const p: { -readonly [K in keyof RetainedPayload]: RetainedPayload[K] } = { payload: m.payload, qos: m.qos, publisherId: m.publisherId };
  if (m.properties !== undefined) p.properties = m.properties;
  if (m.expiresAt !== undefined) p.expiresAt = m.expiresAt;
  return p;
}
