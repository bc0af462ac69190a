// Builders and a tiny driver for tests of the pure session actor (src/actors/session.ts): events
// as the node would send them, and helpers to pick effects out of a transition's output.
import type { AppMessage, ProtocolVersion, QoS, SubscriptionOptions, WillMessage } from '../../src/protocol/message.js';
import { handleSession } from '../../src/actors/session.js';
import {
  newOutput,
  SESSION_NEVER_EXPIRES,
  type SessionEffect,
  type SessionEvent,
  type SessionLimits,
  type SessionOutput,
  type SessionState,
} from '../../src/actors/session-types.js';

export const T0 = 1_700_000_000_000;

export const LIMITS: SessionLimits = { maxInflight: 10, maxQueuedMessages: 0, maxQueuedBytes: 0, maxSubscriptions: 0 };

export function message(topic: string, payload = 'x', extra: Partial<AppMessage> = {}): AppMessage {
  return { topic, payload: new TextEncoder().encode(payload), qos: 2, retain: false, publisherId: 'publisher', ...extra };
}

export function subOptions(qos: QoS, extra: Partial<SubscriptionOptions> = {}): SubscriptionOptions {
  return { qos, noLocal: false, retainAsPublished: false, retainHandling: 0, ...extra };
}

export function will(topic: string, delaySec = 0, extra: Partial<WillMessage> = {}): WillMessage {
  return { message: message(topic, 'gone', { publisherId: 'c1', qos: 1 }), delaySec, ...extra };
}

export interface ConnectOptions {
  connId?: number;
  clientId?: string;
  version?: ProtocolVersion;
  cleanStart?: boolean;
  /** Defaults from the version: 3.1.1 → 0 if clean else never; v5 → 0. */
  expiry?: number;
  receiveMaximum?: number;
  will?: WillMessage | null;
  username?: string | null;
  ownerCheck?: boolean;
}

export function connect(o: ConnectOptions = {}): Extract<SessionEvent, { type: 'connect' }> {
  const version = o.version ?? 5;
  const cleanStart = o.cleanStart ?? false;
  const expiry = o.expiry ?? (version === 5 ? 0 : cleanStart ? 0 : SESSION_NEVER_EXPIRES);
  return {
    type: 'connect',
    connId: o.connId ?? 1,
    clientId: o.clientId ?? 'c1',
    protocolVersion: version,
    cleanStart,
    expiryIntervalSec: expiry,
    receiveMaximum: o.receiveMaximum ?? 65535,
    will: o.will ?? null,
    username: o.username ?? null,
    ownerCheck: o.ownerCheck ?? true,
  };
}

export function deliverEvent(m: AppMessage, qos: QoS, subscriptionIds: number[] = []): SessionEvent {
  return { type: 'deliver', message: m, qos, retain: false, subscriptionIds };
}

/** Drives one session through events at a settable time, keeping the last output. */
export class SessionDriver {
  state: SessionState | null = null;
  now = T0;

  constructor(readonly limits: SessionLimits = LIMITS) {}

  send(event: SessionEvent): SessionOutput {
    const out = newOutput();
    this.state = handleSession(this.state, event, this.now, this.limits, out);
    return out;
  }

  get live(): SessionState {
    if (this.state === null) throw new Error('the session has ended');
    return this.state;
  }
}

export function effectsOf<T extends SessionEffect['type']>(out: SessionOutput, type: T): Extract<SessionEffect, { type: T }>[] {
  return out.effects.filter((e): e is Extract<SessionEffect, { type: T }> => e.type === type);
}

/** The outgoing PUBLISHes and PUBRELs in order, as compact strings: `pub:topic#id`, `pub:topic#id+dup`, `rel#id`. */
export function wire(out: SessionOutput): string[] {
  const lines: string[] = [];
  for (const e of out.effects) {
    if (e.type === 'publish') {
      const p = e.publish;
      lines.push(`pub:${p.message.topic}${p.packetId === undefined ? '' : `#${p.packetId}`}${p.dup ? '+dup' : ''}`);
    } else if (e.type === 'packet' && e.packet.cmd === 'pubrel') {
      lines.push(`rel#${e.packet.messageId}`);
    }
  }
  return lines;
}

export function eventNames(out: SessionOutput): string[] {
  return effectsOf(out, 'event').map((e) => e.name);
}
