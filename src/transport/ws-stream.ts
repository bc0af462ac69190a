// A WebSocket as the byte stream a Connection reads and writes (MQTT 5.0 §6, 3.1.1 §6): binary
// messages carry the MQTT stream, and a message may hold part of a packet or several, so the
// Connection's decoder frames packets exactly as on TCP. Written bytes leave as one binary message
// per flush: the Connection corks a turn's packets, and _writev sends them as one frame.
//
// Backpressure: a WebSocket buffers what it sends in its own socket, not in this stream, so
// writableLength reports that (ws's bufferedAmount) and the Connection's slow-consumer bound
// (--max-write-buffer) applies to WebSocket clients as it does to TCP ones. Reading stops at the
// readable high-water mark by pausing the WebSocket's socket.
import { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { WebSocketFrameError } from './errors.js';

export class WebSocketStream extends Duplex {
  constructor(readonly socket: WebSocket) {
    // Not half-open: a WebSocket closes both ways at once.
    super({ allowHalfOpen: false });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        // [MQTT-6.0.0-1] any other type of data frame closes the network connection.
        socket.close(1003, 'MQTT uses binary frames');
        this.destroy(new WebSocketFrameError('text frame received; MQTT over WebSocket uses binary frames only [MQTT-6.0.0-1]'));
        return;
      }
      if (!this.push(data)) socket.pause();
    });
    socket.on('error', (err: Error & { code?: string }) => {
      // ws reports frames that break RFC 6455 (bad opcode, unmasked, oversized) here; it has
      // already sent its close frame.
      this.destroy(new WebSocketFrameError(`${err.code ?? 'WS_ERR'}: ${err.message}`));
    });
    socket.on('close', () => {
      this.push(null);
      this.destroy();
    });
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.send(chunk);
    // At once: the bytes now wait in the WebSocket's socket, where writableLength counts them.
    callback();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.send(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)));
    callback();
  }

  private send(data: Buffer): void {
    // A closing socket drops the bytes; its 'close' ends this stream.
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(data, { binary: true, compress: false });
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.close(1000);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.socket.readyState !== this.socket.CLOSED) this.socket.terminate();
    callback(error);
  }
}

// The writable side's own buffer (corked bytes) plus what the WebSocket has not yet handed to the
// kernel. Defined on the prototype, once: TypeScript declares writableLength a property of Duplex.
const ownLength = Object.getOwnPropertyDescriptor(Duplex.prototype, 'writableLength')!.get!;
Object.defineProperty(WebSocketStream.prototype, 'writableLength', {
  get(this: WebSocketStream): number {
    return (ownLength.call(this) as number) + this.socket.bufferedAmount;
  },
});
