// Named errors of the connection layer. A ProtocolViolation is caught inside the Connection and
// turned into a close with its reason code; the others reach the caller.

import { reasonName } from '../protocol/reason-codes.js';

/** A client broke the protocol; the connection is closed with `reasonCode` (v5 DISCONNECT). */
export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';
  constructor(
    readonly reasonCode: number,
    readonly detail: string,
  ) {
    super(`${reasonName(reasonCode)}: ${detail}`);
  }
}

/** A Connection method was called in a state where it makes no sense (a bug in the caller). */
export class ConnectionStateError extends Error {
  override readonly name = 'ConnectionStateError';
  constructor(
    readonly connectionId: number,
    readonly operation: string,
    readonly state: string,
  ) {
    super(`connection ${connectionId}: ${operation} is not allowed in state '${state}'`);
  }
}

/** mqtt-packet refused to encode a packet the broker built (a bug in the caller). */
export class PacketEncodeError extends Error {
  override readonly name = 'PacketEncodeError';
  constructor(
    readonly cmd: string,
    readonly protocolVersion: number,
    cause: unknown,
  ) {
    super(
      `cannot encode ${cmd} for MQTT protocol level ${protocolVersion}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** A listener could not bind. The message says what to do about it, naming its flag. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
  constructor(
    readonly host: string,
    readonly port: number,
    readonly code: string | undefined,
    cause: unknown,
    /** The flag that sets this listener's address: --listen, --tls, --ws or --wss. */
    readonly flag = '--listen',
  ) {
    super(`cannot listen on ${host}:${port}: ${listenAdvice(code, cause, flag)}`, { cause });
  }
}

function listenAdvice(code: string | undefined, cause: unknown, flag: string): string {
  switch (code) {
    case 'EADDRINUSE':
      return `the port is already in use (another broker running?); pick another with ${flag} host:port`;
    case 'EACCES':
      return `permission denied (ports below 1024 need privileges); pick another port with ${flag} host:port`;
    case 'EADDRNOTAVAIL':
      return `the address does not belong to this machine; use one of its addresses or 0.0.0.0 with ${flag}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name does not resolve; use an IP address with ${flag}`;
    default:
      return cause instanceof Error ? cause.message : String(cause);
  }
}

/** --tls-cert, --tls-key or --tls-ca cannot be read or used. */
export class TlsCredentialsError extends Error {
  override readonly name = 'TlsCredentialsError';
  constructor(
    message: string,
    /** The flag of the file at fault. */
    readonly flag: string,
    readonly path: string,
    cause: unknown,
  ) {
    super(message, { cause });
  }
}

/** A WebSocket client broke RFC 6455 or MQTT's use of it (§6); that client alone is closed. */
export class WebSocketFrameError extends Error {
  override readonly name = 'WebSocketFrameError';
}
