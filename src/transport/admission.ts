// Which new connections the node takes: at most `maxConnections` open in all, at most
// `maxConnectionsPerAddress` from one source address, and new ones from one address at most
// `connectionRatePerSec` a second (a token bucket with a second's worth of burst). Decided when
// the socket is accepted, before a byte of it is read: a refused socket is closed at once, as
// Mosquitto (max_connections) and EMQX (listener max_connections) do. Reading the CONNECT first
// to answer CONNACK 0x97 would spend a parser, a connect timeout and memory on exactly the
// clients the limit is there to keep out. Pure: no sockets or timers; the caller passes the clock.

import { TokenBucket } from './token-bucket.js';

export interface AdmissionLimits {
  /** Open connections in all (the CONNECT not yet read included); 0 = unlimited. */
  readonly maxConnections: number;
  /** Open connections from one source address; 0 = unlimited. */
  readonly maxConnectionsPerAddress: number;
  /** New connections a second from one source address; 0 = unlimited. */
  readonly connectionRatePerSec: number;
}

/** Why a connection was refused: stable names, for logs (`connection.refused`) and metrics. */
export type RefusalCause = 'max-connections' | 'max-connections-per-address' | 'connection-rate';

interface AddressState {
  open: number;
  /** Null while the rate is unlimited. */
  bucket: TokenBucket | null;
}

export class ConnectionAdmission {
  private open = 0;
  /**
   * Per source address, only while it has open connections or its rate bucket is not yet full:
   * bounded by the open connections plus the addresses seen within one burst window (sweep()).
   */
  private readonly byAddress = new Map<string, AddressState>();
  private readonly perAddress: boolean;

  constructor(readonly limits: AdmissionLimits) {
    this.perAddress = limits.maxConnectionsPerAddress > 0 || limits.connectionRatePerSec > 0;
  }

  /** Open connections counted. */
  get connections(): number {
    return this.open;
  }

  /** Addresses tracked (for tests: the map must not grow without bound). */
  get trackedAddresses(): number {
    return this.byAddress.size;
  }

  /**
   * Admits a connection from `address` at `now` (and counts it: release() it on close), or says
   * why not.
   */
  admit(address: string, now: number): RefusalCause | null {
    const { maxConnections, maxConnectionsPerAddress, connectionRatePerSec } = this.limits;
    if (maxConnections > 0 && this.open >= maxConnections) return 'max-connections';
    if (this.perAddress) {
      let state = this.byAddress.get(address);
      if (state === undefined) {
        state = { open: 0, bucket: connectionRatePerSec > 0 ? new TokenBucket(connectionRatePerSec) : null };
        this.byAddress.set(address, state);
      }
      if (maxConnectionsPerAddress > 0 && state.open >= maxConnectionsPerAddress) return 'max-connections-per-address';
      // Refused connections do not take a token: a client hammering the limit is not locked out
      // for longer than the rate says.
      if (state.bucket !== null && !state.bucket.take(now)) return 'connection-rate';
      state.open++;
    }
    this.open++;
    return null;
  }

  /** A connection admitted from `address` closed. */
  release(address: string, now: number): void {
    if (this.open > 0) this.open--;
    if (!this.perAddress) return;
    const state = this.byAddress.get(address);
    if (state === undefined) return;
    if (state.open > 0) state.open--;
    if (state.open === 0 && (state.bucket === null || state.bucket.isFull(now))) this.byAddress.delete(address);
  }

  /** Forgets addresses with no open connection whose rate bucket has refilled. */
  sweep(now: number): void {
    for (const [address, state] of this.byAddress) {
      if (state.open === 0 && (state.bucket === null || state.bucket.isFull(now))) this.byAddress.delete(address);
    }
  }
}

/** The source address of a remote `host:port` or `[v6]:port` as the listener names it. */
export function addressOf(remote: string): string {
  const colon = remote.lastIndexOf(':');
  if (colon <= 0) return remote;
  return remote.charCodeAt(0) === 0x5b /* [ */ ? remote.slice(1, colon - 1) : remote.slice(0, colon);
}
