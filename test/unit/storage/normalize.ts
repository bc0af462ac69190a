// Puts store output in a canonical form for deep equality: every byte array as a plain
// Uint8Array (sqlite3 hands out Buffers; the contract only promises Uint8Array), and sessions /
// retained messages in a fixed order (the stores do not promise one).
import type { AppMessage } from '../../../src/protocol/message.js';
import type { StoredSession } from '../../../src/storage/types.js';

export function toPlain<T>(value: T): T {
  if (value instanceof Uint8Array) return new Uint8Array(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => toPlain(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, { value: toPlain(v), enumerable: true, writable: true, configurable: true });
    }
    return out as T;
  }
  return value;
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function normalizeSessions(sessions: readonly StoredSession[]): StoredSession[] {
  return toPlain([...sessions]).sort((a, b) => byString(a.meta.clientId, b.meta.clientId));
}

export function normalizeRetained(messages: readonly AppMessage[]): AppMessage[] {
  return toPlain([...messages]).sort((a, b) => byString(a.topic, b.topic));
}
