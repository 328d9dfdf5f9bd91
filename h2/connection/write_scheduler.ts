import type net from "node:net";
import { ERROR, FRAME_HEADER_BYTES, writeFrameHeader } from "../codec/frames";
import { MAX_QUEUED_CONTROL_FRAMES } from "./limits";
import type { ClientStream } from "./stream";

/**
 * The write side of one connection: frames are queued, and what one turn of the event loop queued leaves in one
 * socket write (flushed from setImmediate). Control replies the server asks for are bounded while it does not read.
 * The layers above: streams.ts (streams and the send side of flow control), frame_dispatch.ts (what the server
 * sends), connection.ts (the socket's life).
 */
export abstract class WriteScheduler {
  protected socket: net.Socket | undefined;
  protected readonly out: Uint8Array[] = [];
  protected outBytes = 0;
  protected flushes = 0;
  private flushQueued = false;
  private readonly flushOut = () => this.flush();
  protected queuedControl = 0;
  /** A body stopped at SOCKET_HIGH_WATER: it goes on once the socket takes what was written. */
  protected socketFull = false;
  /** The connection ended: nothing more is queued or written. */
  closed = false;

  /** Whether any bytes of this stream's request (its HEADERS at least) were handed to the socket. */
  requestWritten(s: ClientStream): boolean {
    return s.flushAt !== 0 && s.flushAt <= this.flushes;
  }

  /** Sends again what waits for flow-control window or for the socket (streams.ts). */
  protected abstract resumeBlocked(): void;

  /** A connection error by the server: GOAWAY with the code, then the connection fails (connection.ts). */
  protected abstract protocolError(code: number, why: string): void;

  /** Bytes written but not yet taken by the socket, and queued for the next write. */
  protected backlog(): number {
    return (this.socket?.writableLength ?? 0) + this.outBytes;
  }

  /** Queues a frame: its 9-byte header, then the payload as it is (no copy; the flush writes both). */
  protected pushFrame(type: number, flags: number, id: number, payload: Uint8Array): void {
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    writeFrameHeader(header, 0, payload.length, type, flags, id);
    this.push(header);
    if (payload.length > 0) this.push(payload);
  }

  protected push(buf: Uint8Array): void {
    if (this.closed) return;
    this.out.push(buf);
    this.outBytes += buf.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flushOut);
    }
  }

  /** A reply the server's frame asks for (PING or SETTINGS ACK): bounded while the socket does not drain. */
  protected controlReply(buf: Uint8Array): void {
    if (this.socket?.writableNeedDrain && ++this.queuedControl > MAX_QUEUED_CONTROL_FRAMES)
      return this.protocolError(ERROR.ENHANCE_YOUR_CALM, `more than ${MAX_QUEUED_CONTROL_FRAMES} control replies wait while the server does not read`);
    this.push(buf);
  }

  protected flush(): void {
    this.flushQueued = false;
    const out = this.out;
    if (out.length === 0 || this.closed || this.socket === undefined) return;
    const taken = this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out, this.outBytes));
    out.length = 0;
    this.outBytes = 0;
    this.flushes++;
    // Bodies stopped at the water mark go on at once if the socket took everything, else at its 'drain'.
    if (this.socketFull && taken) {
      this.socketFull = false;
      this.resumeBlocked();
    }
  }
}
