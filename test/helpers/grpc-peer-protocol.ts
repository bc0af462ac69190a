// The JSON-line protocol between test/integration/cluster-grpc.test.ts and its child processes
// (test/helpers/grpc-peer-child.ts). Binary fields cross the pipe as {"$b64": "..."}.
import type { PeerMessage, RetainedUpdate } from '../../src/cluster/peer-messages.js';
import type { MemberInfo } from '../../src/cluster/types.js';
import type { SessionTakeoverMessage } from '../../src/cluster/takeover-codec.js';

export interface ChildConfig {
  name: string;
  incarnation: number;
  secret?: string;
  lanes?: number;
  retained?: RetainedUpdate[];
  tls?: { certPath: string; keyPath: string; caPath: string };
}

export type Command =
  | { cmd: 'connect'; peer: MemberInfo }
  | { cmd: 'disconnect'; name: string }
  | { cmd: 'send'; to: string; lane: number; messages: PeerMessage[] }
  /** `count` forwards on `topic` with payloads of `bytes` bytes, queued in one turn. */
  | { cmd: 'sendBulk'; to: string; lane: number; topic: string; count: number; bytes: number }
  | { cmd: 'fetchSlice'; id: number; peer: string; origin: string }
  | { cmd: 'fetchRetained'; id: number; peer: string }
  | { cmd: 'status'; id: number; peer: string }
  | { cmd: 'takeover'; id: number; peer: string; message: SessionTakeoverMessage };

/** The load every child reports in Status: distinct values, one past 2^32 (a uint64 on the wire). */
export const STATUS_LOAD = Object.freeze({ connections: 3, messagesReceived: 2 ** 40 + 1, messagesSent: 5, bytesReceived: 6, bytesSent: 7, subscriptions: 8, retained: 9 });

export function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return { $b64: Buffer.from(v).toString('base64') };
    if (typeof v === 'object' && v !== null && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return { $b64: Buffer.from((v as { data: number[] }).data).toString('base64') };
    }
    return v;
  });
}

export function revive(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) =>
    typeof v === 'object' && v !== null && typeof (v as { $b64?: unknown }).$b64 === 'string'
      ? new Uint8Array(Buffer.from((v as { $b64: string }).$b64, 'base64'))
      : v,
  );
}
