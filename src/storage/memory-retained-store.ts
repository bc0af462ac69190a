// RetainedStore in process memory; deep copies in and out, like MemorySessionStore.
import type { AppMessage } from '../protocol/message.js';
import { StorageError } from './errors.js';
import type { BeforeChangeHook } from './store-hooks.js';
import type { RetainedStore } from './types.js';

export interface MemoryRetainedStoreOptions {
  beforeChange?: BeforeChangeHook;
}

export type RetainedChange = { topic: string; message: AppMessage | null };

export class MemoryRetainedStore implements RetainedStore {
  private messages = new Map<string, AppMessage>();
  private closed = false;
  private readonly beforeChange: BeforeChangeHook | undefined;

  constructor(options: MemoryRetainedStoreOptions = {}) {
    this.beforeChange = options.beforeChange;
  }

  async loadAll(): Promise<AppMessage[]> {
    this.assertOpen('loadAll');
    return [...this.messages.values()].map((m) => structuredClone(m));
  }

  async apply(changes: readonly RetainedChange[]): Promise<void> {
    this.assertOpen('apply');
    const next = new Map(this.messages);
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i]!;
      const operation = retainedOperation(change);
      try {
        checkRetainedChange(change);
        this.beforeChange?.(change, i);
        if (change.message === null) next.delete(change.topic);
        else next.set(change.topic, structuredClone(change.message));
      } catch (cause) {
        throw new StorageError('batch rolled back', { file: null, operation, cause });
      }
    }
    this.messages = next;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new StorageError('store is closed', { file: null, operation });
  }
}

export function retainedOperation(change: RetainedChange): 'put' | 'delete' {
  return change.message === null ? 'delete' : 'put';
}

/** The key and the message must agree, or loadAll() would hand back a message under another topic. */
export function checkRetainedChange(change: RetainedChange): void {
  if (change.message !== null && change.message.topic !== change.topic) {
    throw new TypeError(`retained message for topic ${JSON.stringify(change.topic)} carries topic ${JSON.stringify(change.message.topic)}`);
  }
}
