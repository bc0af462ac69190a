// Counts MQTT frames in a byte stream by walking fixed headers only, so the load generator can
// measure throughput without decoding every packet. Bodies are handed out only for the packet
// types a caller asks for (acks need packet ids, latency needs payload timestamps); a frame split
// over several chunks is reassembled, a whole one is passed as a zero-copy subarray.

/** MQTT control packet types (MQTT 3.1.1 §2.2.1, 5.0 §2.1.2). */
export const PacketType = {
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBACK: 9,
  UNSUBACK: 11,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

/** Called for each complete frame whose type is in the body mask; `body` is valid only during the call. */
export type FrameHandler = (type: number, flags: number, body: Buffer) => void;

export class FrameDecodeError extends Error {
  constructor(readonly offset: number, detail: string) {
    super(`malformed MQTT frame at stream offset ${offset}: ${detail}`);
    this.name = 'FrameDecodeError';
  }
}

const enum State {
  Header,
  Length,
  Body,
}

export class FrameScanner {
  /** Complete frames seen, by packet type (index 0..15). */
  readonly counts = new Float64Array(16);
  /** Bit n set → frames of type n are delivered to the handler with their body. */
  bodyMask: number;
  private state = State.Header;
  private type = 0;
  private flags = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;
  /** Reassembly buffer of a split frame that the handler wants. */
  private partial: Buffer | null = null;
  private partialFill = 0;
  private streamOffset = 0;

  constructor(bodyMask: number, private readonly onFrame: FrameHandler | null = null) {
    this.bodyMask = bodyMask;
  }

  static mask(...types: number[]): number {
    let m = 0;
    for (const t of types) m |= 1 << t;
    return m;
  }

  push(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case State.Header: {
          const b = chunk[i++]!;
          this.type = b >> 4;
          this.flags = b & 0x0f;
          this.length = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          this.state = State.Length;
          break;
        }
        case State.Length: {
          const b = chunk[i++]!;
          this.length += (b & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          // [MQTT-2.2.3] Remaining Length is at most four bytes.
          if (++this.lengthBytes > 4) throw new FrameDecodeError(this.streamOffset + i, 'remaining length longer than 4 bytes');
          if ((b & 0x80) !== 0) break;
          this.remaining = this.length;
          if (this.remaining === 0) {
            this.complete(EMPTY);
            break;
          }
          this.state = State.Body;
          if ((this.bodyMask & (1 << this.type)) !== 0) {
            // Whole body in this chunk: hand out a view, no copy.
            if (n - i >= this.length) {
              const body = chunk.subarray(i, i + this.length);
              i += this.length;
              this.complete(body);
            } else {
              this.partial = Buffer.allocUnsafe(this.length);
              this.partialFill = 0;
            }
          }
          break;
        }
        case State.Body: {
          const take = Math.min(this.remaining, n - i);
          if (this.partial !== null) {
            chunk.copy(this.partial, this.partialFill, i, i + take);
            this.partialFill += take;
          }
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            const body = this.partial ?? EMPTY;
            this.partial = null;
            this.complete(body);
          }
          break;
        }
      }
    }
    this.streamOffset += n;
  }

  private complete(body: Buffer): void {
    this.state = State.Header;
    this.counts[this.type]!++;
    if (this.onFrame !== null && (this.bodyMask & (1 << this.type)) !== 0) this.onFrame(this.type, this.flags, body);
  }
}

const EMPTY = Buffer.alloc(0);

/** Where the packet id and payload sit in a PUBLISH body (MQTT 3.1.1 §3.3.2, 5.0 §3.3.2). */
export function publishLayout(flags: number, body: Buffer, v5: boolean): { packetId: number; payloadOffset: number } {
  const topicLength = body.readUInt16BE(0);
  let o = 2 + topicLength;
  let packetId = 0;
  if ((flags & 0x06) !== 0) {
    packetId = body.readUInt16BE(o);
    o += 2;
  }
  if (v5) {
    // Property Length is a variable byte integer; skip it and the properties.
    let len = 0;
    let mul = 1;
    let b: number;
    do {
      b = body[o++]!;
      len += (b & 0x7f) * mul;
      mul *= 128;
    } while ((b & 0x80) !== 0);
    o += len;
  }
  return { packetId, payloadOffset: o };
}
