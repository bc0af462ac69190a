// Retained messages of the node: an in-memory index over the durable RetainedStore. Writes are
// group-committed once per event-loop turn; `set` returns when its change is durable, so a QoS 1/2
// retained PUBLISH is acknowledged only after that.
import { compactMessage, type AppMessage } from '../protocol/message.js';
import type { RetainedStore } from '../storage/types.js';

/** MQTT 4.7 matching of one concrete topic against one filter (no `$share/` prefix). */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  // [MQTT-4.7.2-1] `$` topics are not matched by filters starting with a wildcard
  if (topic.charCodeAt(0) === 36 /* $ */ && (filter[0] === '+' || filter[0] === '#')) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return true; // matches the parent level too: `a/#` matches `a`
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

export class RetainedMessages {
  private readonly byTopic = new Map<string, AppMessage>();
  private changes: { topic: string; message: AppMessage | null }[] = [];
  private waiters: (() => void)[] = [];
  private failures: ((e: Error) => void)[] = [];
  private scheduled = false;
  /** A commit in flight; changes arriving meanwhile wait and go together in the next one. */
  private committing: Promise<void> | null = null;

  constructor(private readonly store: RetainedStore) {}

  async load(now: number): Promise<number> {
    for (const m of await this.store.loadAll()) {
      if (m.expiresAt !== undefined && m.expiresAt <= now) continue;
      this.byTopic.set(m.topic, m);
    }
    return this.byTopic.size;
  }

  get size(): number {
    return this.byTopic.size;
  }

  /**
   * Stores (or, for an empty payload, deletes [MQTT-3.3.1-6]) the retained message of its topic.
   * Resolves once durable.
   */
  set(message: AppMessage): Promise<void> {
    const remove = message.payload.byteLength === 0;
    if (!remove) message = compactMessage(message); // kept for long: not a view into a socket buffer
    if (remove) this.byTopic.delete(message.topic);
    else this.byTopic.set(message.topic, message);
    this.changes.push({ topic: message.topic, message: remove ? null : message });
    return new Promise<void>((resolve, reject) => {
      this.waiters.push(resolve);
      this.failures.push(reject);
      if (!this.scheduled && this.committing === null) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Group commit: one transaction per event-loop turn, or per commit time under load. */
  private flush(): void {
    this.scheduled = false;
    if (this.committing !== null || this.changes.length === 0) return;
    const changes = this.changes;
    const waiters = this.waiters;
    const failures = this.failures;
    this.changes = [];
    this.waiters = [];
    this.failures = [];
    this.committing = this.store.apply(changes).then(
      () => waiters.forEach((w) => w()),
      (err: unknown) => failures.forEach((f) => f(err instanceof Error ? err : new Error(String(err)))),
    ).finally(() => {
      this.committing = null;
      this.flush(); // what arrived during this commit
    });
  }

  has(topic: string): boolean {
    return this.byTopic.has(topic);
  }

  /** Every retained message held (expired ones included until a match drops them). */
  messages(): IterableIterator<AppMessage> {
    return this.byTopic.values();
  }

  /** Retained messages matching a subscription filter, skipping (and dropping) expired ones. */
  match(filter: string, now: number, out: AppMessage[]): void {
    for (const [topic, m] of this.byTopic) {
      if (m.expiresAt !== undefined && m.expiresAt <= now) {
        this.byTopic.delete(topic); // [MQTT-3.3.2-5] an expired retained message is not delivered
        continue;
      }
      if (topicMatchesFilter(filter, topic)) out.push(m);
    }
  }

  async close(): Promise<void> {
    this.flush();
    while (this.committing !== null) await this.committing;
    await this.store.close();
  }
}
