// Maps an AppMessage to SQL column values and back, for every table that stores one (queued
// messages, wills, retained messages). Bytes go to BLOB columns rather than into JSON, and
// optional fields that were absent come back absent (not undefined), so a round trip is
// deep-equal to the input.
import type { AppMessage, ForwardedProperties, QoS } from '../protocol/message.js';
import type { SqlRow, SqlValue } from './sqlite-db.js';

/** A value of a JSON row: bytes must already be hex strings (see hex()). */
export type JsonValue = string | number | null | readonly JsonValue[];

/** Bytes as the hex text that unhex() (or Buffer.from(text, 'hex')) turns back into the same bytes. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Column names, in bind order, for a message stored under `prefix` (e.g. 'will_'). */
export function messageColumns(prefix: string): string[] {
  return ['topic', 'payload', 'qos', 'retain', 'properties', 'correlation_data', 'expires_at', 'publisher_id'].map((c) => prefix + c);
}

/** Values matching messageColumns(), in the same order; the bytes are copied unless `copy` is false. */
export function encodeMessage(m: AppMessage, copy = true): SqlValue[] {
  let properties: string | null = null;
  let correlationData: Uint8Array | null = null;
  if (m.properties !== undefined) {
    const { correlationData: cd, ...rest } = m.properties;
    properties = JSON.stringify(rest);
    correlationData = cd === undefined ? null : copy ? new Uint8Array(cd) : cd;
  }
  // Copies of the bytes: the values are bound later, and the caller keeps its arrays.
  return [m.topic, copy ? new Uint8Array(m.payload) : m.payload, m.qos, m.retain ? 1 : 0, properties, correlationData, m.expiresAt ?? null, m.publisherId];
}

/**
 * encodeMessage() for a JSON row: the same values in the same order, bytes as hex. Read back
 * by decodeMessageJson().
 */
export function encodeMessageJson(m: AppMessage): JsonValue[] {
  const v = encodeMessage(m, false);
  return [v[0] as string, hex(v[1] as Uint8Array), v[2] as number, v[3] as number, v[4] as string | null, v[5] === null ? null : hex(v[5] as Uint8Array), v[6] as number | null, v[7] as string];
}

/** Reads a JSON row written by encodeMessageJson() (as JSON.parse returns it). */
export function decodeMessageJson(row: readonly unknown[]): AppMessage {
  const bytes = (v: unknown): Uint8Array | null => (v === null ? null : Buffer.from(String(v), 'hex'));
  const columns = messageColumns('');
  const sqlRow: SqlRow = {};
  row.forEach((v, i) => {
    sqlRow[columns[i]!] = i === 1 || i === 5 ? bytes(v) : (v as SqlValue);
  });
  return decodeMessage(sqlRow, '');
}

/** The values of messageColumns(prefix) for no message (e.g. a session without a will). */
export function nullMessage(): SqlValue[] {
  return messageColumns('').map(() => null);
}

/** Reads the columns written by encodeMessage() from `row`, named with `prefix`. */
export function decodeMessage(row: SqlRow, prefix: string): AppMessage {
  const message: AppMessage = {
    topic: asString(row[prefix + 'topic']),
    payload: asBytes(row[prefix + 'payload']),
    qos: asQoS(row[prefix + 'qos']),
    retain: row[prefix + 'retain'] === 1,
    publisherId: asString(row[prefix + 'publisher_id']),
  };
  const props = row[prefix + 'properties'];
  if (typeof props === 'string') {
    const properties = JSON.parse(props) as ForwardedProperties;
    const cd = row[prefix + 'correlation_data'];
    if (cd !== null && cd !== undefined) properties.correlationData = asBytes(cd);
    message.properties = properties;
  }
  const expiresAt = row[prefix + 'expires_at'];
  if (typeof expiresAt === 'number') message.expiresAt = expiresAt;
  return message;
}

export function asString(v: SqlValue | undefined): string {
  if (typeof v !== 'string') throw new TypeError(`expected TEXT, got ${typeof v}`);
  return v;
}

export function asNumber(v: SqlValue | undefined): number {
  if (typeof v !== 'number') throw new TypeError(`expected INTEGER, got ${typeof v}`);
  return v;
}

export function asQoS(v: SqlValue | undefined): QoS {
  if (v !== 0 && v !== 1 && v !== 2) throw new TypeError(`expected QoS 0..2, got ${String(v)}`);
  return v;
}

/** sqlite3 returns BLOBs as Buffers; hand out plain Uint8Arrays so both stores return the same type. */
export function asBytes(v: SqlValue | undefined): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError(`expected BLOB, got ${typeof v}`);
  return new Uint8Array(v);
}
