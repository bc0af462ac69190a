// A retained message as the admin API shows it: small UTF-8 payloads as text, anything else as
// the base64 of its first KiB, so one large binary message cannot bloat a listing.
import type { AppMessage } from '../protocol/message.js';
import type { RetainedInfo } from './admin-source.js';

/** Payload bytes shown per retained message at most. */
export const RETAINED_PAYLOAD_PREVIEW_BYTES = 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function retainedInfo(m: AppMessage): RetainedInfo {
  const bytes = m.payload;
  let text: string | null = null;
  if (bytes.byteLength <= RETAINED_PAYLOAD_PREVIEW_BYTES) {
    try {
      text = utf8.decode(bytes);
    } catch {
      text = null; // not UTF-8: shown as base64
    }
  }
  const preview = text === null ? Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, RETAINED_PAYLOAD_PREVIEW_BYTES)).toString('base64') : null;
  return { topic: m.topic, qos: m.qos, payloadBytes: bytes.byteLength, payload: text, payloadBase64: preview };
}
