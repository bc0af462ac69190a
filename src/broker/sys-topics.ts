// $SYS/broker/... topics in Mosquitto's naming, published as retained messages every
// sysIntervalSec. Pure: turns a stats snapshot into messages.
import type { AppMessage } from '../protocol/message.js';

export interface BrokerStats {
  version: string;
  startedAt: number;
  clientsConnected: number;
  clientsMaximum: number;
  /** Connected plus offline persistent sessions. */
  clientsTotal: number;
  messagesReceived: number;
  messagesSent: number;
  messagesDropped: number;
  bytesReceived: number;
  bytesSent: number;
  subscriptions: number;
  retained: number;
}

export const SYS_PUBLISHER = '$SYS';

export function sysMessages(s: BrokerStats, now: number): AppMessage[] {
  const uptimeSec = Math.floor((now - s.startedAt) / 1000);
  const entries: [string, string][] = [
    ['$SYS/broker/version', `shoal version ${s.version}`],
    ['$SYS/broker/uptime', `${uptimeSec} seconds`],
    ['$SYS/broker/clients/connected', String(s.clientsConnected)],
    ['$SYS/broker/clients/maximum', String(s.clientsMaximum)],
    ['$SYS/broker/clients/total', String(s.clientsTotal)],
    ['$SYS/broker/clients/disconnected', String(Math.max(0, s.clientsTotal - s.clientsConnected))],
    ['$SYS/broker/messages/received', String(s.messagesReceived)],
    ['$SYS/broker/messages/sent', String(s.messagesSent)],
    ['$SYS/broker/publish/messages/dropped', String(s.messagesDropped)],
    ['$SYS/broker/bytes/received', String(s.bytesReceived)],
    ['$SYS/broker/bytes/sent', String(s.bytesSent)],
    ['$SYS/broker/subscriptions/count', String(s.subscriptions)],
    ['$SYS/broker/retained messages/count', String(s.retained)],
  ];
  return entries.map(([topic, value]) => ({
    topic,
    payload: Buffer.from(value),
    qos: 0,
    retain: true,
    publisherId: SYS_PUBLISHER,
  }));
}
