// CONNECT validation (MQTT 3.1.1 §3.1, MQTT 5.0 §3.1): pure, no I/O. The Connection runs it on
// every CONNECT before the node sees the packet.
//
// Keep Alive policy (the parts the spec leaves to the server):
// - maxKeepaliveSec = 0 means no limit: the client's value is used, 0 meaning no keepalive.
// - v5: a Keep Alive above the limit, or 0 (no keepalive, i.e. unbounded), is replaced by the
//   limit and announced as Server Keep Alive, which the client must then use [MQTT-3.2.2-21].
//   This is what EMQX does with `server_keepalive`.
// - 3.1.1/3.1: there is no way to tell the client, so a value above the limit is simply enforced
//   (a client pinging less often than the limit is disconnected after 1.5 × the limit), while 0
//   stays 0: such a client never pings, and enforcing a limit would drop idle but healthy ones.

import { isUtf8 } from 'node:buffer';
import type { IConnectPacket } from 'mqtt-packet';
import { validateTopicName, type TopicLimits } from '../routing/topic.js';
import { ReasonCode } from './reason-codes.js';

export interface ConnectLimits {
  /** Largest Keep Alive granted, in seconds; 0 = no limit. */
  maxKeepaliveSec: number;
  /** Bounds on the will topic, the same as on PUBLISH (a will is published later); absent = none. */
  topicLimits?: TopicLimits;
}

export interface ConnectAccepted {
  ok: true;
  clientId: string;
  /** True when the server chose the client id (v5: sent as Assigned Client Identifier). */
  assigned: boolean;
  /** Keep Alive to enforce, after the max-keepalive clamp; 0 = none. */
  keepaliveSec: number;
  /** v5 only: set when keepaliveSec differs from what the client asked for. */
  serverKeepAlive?: number;
  /** v5 enhanced authentication that succeeded: CONNACK repeats the method [MQTT-4.12.0-5]. */
  authenticationMethod?: string;
  /** The method's last data for the client (SCRAM: server-final-message), sent in CONNACK. */
  authenticationData?: Buffer;
  /**
   * Set by the Connection when a TLS listener verified a client certificate and
   * --tls-cn-as-username is on: the certificate's CN, which has also replaced the CONNECT's
   * username (its password removed). The certificate authenticated this client: an auth layer
   * must take the username as proven and not ask for a password.
   */
  certificateUsername?: string;
  /** The user that method authenticated: the connection's user, whatever User Name says. */
  authenticatedUser?: string;
}

export interface ConnectRejected {
  ok: false;
  reasonCode: number;
  detail: string;
}

export type ConnectDecision = ConnectAccepted | ConnectRejected;

/** A client id is a UTF-8 string: at most 65535 bytes on the wire (§1.5.4). */
export const MAX_CLIENT_ID_BYTES = 65535;

/**
 * Rejections that are protocol violations rather than answers: a 3.1.1 client gets no CONNACK
 * for them (there is no 3.1.1 return code for them), only a closed connection [MQTT-4.8.0-1].
 */
export function isProtocolViolationCode(code: number): boolean {
  return (
    code === ReasonCode.MalformedPacket ||
    code === ReasonCode.ProtocolError ||
    code === ReasonCode.TopicNameInvalid ||
    code === ReasonCode.PayloadFormatInvalid
  );
}

export function validateConnect(packet: IConnectPacket, limits: ConnectLimits, assignId: () => string): ConnectDecision {
  const level = packet.protocolVersion ?? 4;
  const name = packet.protocolId ?? 'MQTT';
  if (!((name === 'MQIsdp' && level === 3) || (name === 'MQTT' && (level === 4 || level === 5)))) {
    // mqtt-packet itself refuses other names and levels; this catches mismatched pairs.
    return reject(ReasonCode.UnsupportedProtocolVersion, `protocol ${name} with level ${level} is not supported`); // [MQTT-3.1.2-1], [MQTT-3.1.2-2]
  }
  const v5 = level === 5;
  const clean = packet.clean ?? true;

  const props = packet.properties;
  if (v5 && props !== undefined) {
    const dup = repeatedProperty(props);
    if (dup !== null) return reject(ReasonCode.ProtocolError, `CONNECT property ${dup} appears more than once`);
    if (props.receiveMaximum === 0) return reject(ReasonCode.ProtocolError, 'Receive Maximum is 0'); // §3.1.2.11.3
    if (props.maximumPacketSize === 0) return reject(ReasonCode.ProtocolError, 'Maximum Packet Size is 0'); // §3.1.2.11.4
    if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
      return reject(ReasonCode.ProtocolError, 'Authentication Data without Authentication Method'); // §3.1.2.11.10
    }
  }

  let clientId = packet.clientId ?? '';
  let assigned = false;
  if (clientId === '') {
    if (level === 3) {
      return reject(ReasonCode.ClientIdentifierNotValid, 'MQTT 3.1 requires a client identifier of 1 to 23 characters');
    }
    if (level === 4 && !clean) {
      return reject(ReasonCode.ClientIdentifierNotValid, 'empty client identifier with clean session 0'); // [MQTT-3.1.3-8]
    }
    clientId = assignId(); // [MQTT-3.1.3-6], v5 §3.1.3.1 (Assigned Client Identifier)
    assigned = true;
  } else {
    if (Buffer.byteLength(clientId) > MAX_CLIENT_ID_BYTES) {
      return reject(ReasonCode.ClientIdentifierNotValid, `client identifier is longer than ${MAX_CLIENT_ID_BYTES} bytes`);
    }
    if (clientId.includes('\u0000')) {
      return reject(ReasonCode.ClientIdentifierNotValid, 'client identifier contains U+0000'); // [MQTT-1.5.4-2]
    }
  }

  const will = packet.will;
  if (will !== undefined) {
    const qos = will.qos ?? 0;
    if (qos > 2 || qos < 0) return reject(ReasonCode.ProtocolError, `will QoS ${qos}`); // [MQTT-3.1.2-14]
    if (typeof will.topic !== 'string') return reject(ReasonCode.ProtocolError, 'will flag set without a will topic'); // [MQTT-3.1.2-9]
    const topicError = validateTopicName(will.topic, limits.topicLimits);
    if (topicError !== null) return reject(ReasonCode.TopicNameInvalid, `will topic: ${topicError}`);
    const wp = will.properties;
    if (v5 && wp !== undefined) {
      const dup = repeatedProperty(wp);
      if (dup !== null) return reject(ReasonCode.ProtocolError, `will property ${dup} appears more than once`);
      if (wp.payloadFormatIndicator === true) {
        const payload = typeof will.payload === 'string' ? Buffer.from(will.payload) : will.payload;
        if (!isUtf8(payload)) return reject(ReasonCode.PayloadFormatInvalid, 'will payload is not UTF-8 but its Payload Format Indicator says so'); // §3.1.3.2.3
      }
    }
  }

  const requested = packet.keepalive ?? 0;
  const max = limits.maxKeepaliveSec;
  if (max > 0 && v5 && (requested === 0 || requested > max)) {
    return { ok: true, clientId, assigned, keepaliveSec: max, serverKeepAlive: max };
  }
  const keepaliveSec = max > 0 && requested > max ? max : requested;
  return { ok: true, clientId, assigned, keepaliveSec };
}

function reject(reasonCode: number, detail: string): ConnectRejected {
  return { ok: false, reasonCode, detail };
}

/**
 * mqtt-packet turns a property that occurs more than once into an array. Only User Property may
 * repeat in CONNECT (it is parsed into an object, not an array) (§3.1.2.11, §3.1.3.2).
 */
export function repeatedProperty(props: object): string | null {
  for (const [key, value] of Object.entries(props)) if (Array.isArray(value)) return key;
  return null;
}
