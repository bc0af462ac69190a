// What a node says about itself in gossip: its MemberInfo as swim's per-member `meta`, with one-letter
// keys because every record travels in 512-byte datagrams next to pings and other records.
import type { MemberInfo } from './types.js';

/** The JSON shape of `meta` on the wire. Never rename a key: older nodes must still read it. */
export interface MemberMeta {
  /** --node-name */
  readonly n: string;
  /** incarnation: start epoch ms */
  readonly i: number;
  /** gRPC address, "host:port" */
  readonly g: string;
  /** cluster protocol version */
  readonly v: number;
  /** MQTT address clients should use, "host:port"; optional: older nodes send none and ignore it. */
  readonly m?: string;
}

/** Datagram limit of swim (lib/net.js default), kept: 512 bytes pass every path without fragmenting. */
export const GOSSIP_DATAGRAM_BYTES = 512;

/**
 * Largest record about one member we accept to send (length prefix included). A ping then still
 * carries two records of this size piggybacked in a sealed 512-byte datagram, so news about several
 * members spreads in one round, and a record is never silently dropped as oversized (swim drops any
 * message larger than a datagram with a debug line only). A typical record (IPv4 addresses, a
 * 22-character name, an MQTT address) measures 176 bytes; names up to about 65 characters fit.
 */
export const MAX_MEMBER_RECORD_BYTES = 220;

export function toMeta(info: MemberInfo): MemberMeta {
  const meta = { n: info.name, i: info.incarnation, g: info.grpcAddress, v: info.protocolVersion };
  return info.mqttAddress === undefined ? meta : { ...meta, m: info.mqttAddress };
}

/** The MemberInfo in a received `meta`, or why it is unusable (an older or foreign peer, corruption). */
export function fromMeta(meta: unknown): MemberInfo | string {
  if (typeof meta !== 'object' || meta === null) return 'no member metadata';
  const { n, i, g, v, m } = meta as Record<string, unknown>;
  if (typeof n !== 'string' || n.length === 0) return 'metadata without a node name';
  if (typeof i !== 'number' || !Number.isSafeInteger(i) || i <= 0) return 'metadata without a valid incarnation';
  if (typeof g !== 'string' || g.length === 0) return 'metadata without a gRPC address';
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) return 'metadata without a protocol version';
  if (m !== undefined && (typeof m !== 'string' || m.length === 0)) return 'metadata with an unusable MQTT address';
  const info = { name: n, incarnation: i, grpcAddress: g, protocolVersion: v };
  return Object.freeze(m === undefined ? info : { ...info, mqttAddress: m });
}

/**
 * Bytes of the largest form of our record in a datagram: the Update message swim builds from it
 * (1 type byte + JSON of meta, host, state, incarnation), measured with the widest state and an
 * incarnation raised by a few refutations, plus its 2-byte length prefix in a compound message.
 */
export function memberRecordBytes(host: string, meta: MemberMeta, swimIncarnation: number): number {
  const json = JSON.stringify({ meta, host, state: 2, incarnation: swimIncarnation + 1000 });
  return 1 + Buffer.byteLength(json, 'utf8') + 2;
}
