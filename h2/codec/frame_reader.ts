import { FRAME_HEADER_BYTES } from "./frames";

/** Receives one whole frame; false stops the reader (the connection is gone). */
export type OnFrame = (type: number, flags: number, id: number, payload: Buffer) => boolean;

/**
 * Splits received bytes into HTTP/2 frames in linear time, whatever the read sizes: a frame inside one read is
 * handed over as a view of it; a frame spread over reads is assembled once into a buffer of its exact size
 * (never a concatenation per read). A frame longer than `maxPayload` calls `onOversize` and stops the reader.
 */
export class FrameReader {
  private readonly head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  private headFill = 0;
  private pending: Buffer | undefined;
  private pendingFill = 0;
  private stopped = false;

  constructor(
    private readonly maxPayload: number,
    private readonly onFrame: OnFrame,
    private readonly onOversize: (length: number) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.stopped) return;
    let off = 0;
    if (this.headFill > 0 || this.pending !== undefined) {
      off = this.resume(chunk);
      if (this.stopped) return;
    }
    const end = chunk.length;
    while (end - off >= FRAME_HEADER_BYTES) {
      const len = (chunk[off]! << 16) | (chunk[off + 1]! << 8) | chunk[off + 2]!;
      if (len > this.maxPayload) return this.oversize(len);
      const next = off + FRAME_HEADER_BYTES + len;
      if (next > end) {
        this.pending = Buffer.allocUnsafe(FRAME_HEADER_BYTES + len);
        chunk.copy(this.pending, 0, off, end);
        this.pendingFill = end - off;
        return;
      }
      const id = ((chunk[off + 5]! & 0x7f) << 24) | (chunk[off + 6]! << 16) | (chunk[off + 7]! << 8) | chunk[off + 8]!;
      if (!this.onFrame(chunk[off + 3]!, chunk[off + 4]!, id, chunk.subarray(off + FRAME_HEADER_BYTES, next))) return void (this.stopped = true);
      off = next;
    }
    if (off < end) {
      chunk.copy(this.head, 0, off, end);
      this.headFill = end - off;
    }
  }

  /** Continues the frame that began in an earlier read; returns the bytes of `chunk` it took. */
  private resume(chunk: Buffer): number {
    let off = 0;
    if (this.pending === undefined) {
      off = Math.min(FRAME_HEADER_BYTES - this.headFill, chunk.length);
      chunk.copy(this.head, this.headFill, 0, off);
      this.headFill += off;
      if (this.headFill < FRAME_HEADER_BYTES) return off;
      this.headFill = 0;
      const len = (this.head[0]! << 16) | (this.head[1]! << 8) | this.head[2]!;
      if (len > this.maxPayload) {
        this.oversize(len);
        return off;
      }
      this.pending = Buffer.allocUnsafe(FRAME_HEADER_BYTES + len);
      this.head.copy(this.pending, 0);
      this.pendingFill = FRAME_HEADER_BYTES;
    }
    const p = this.pending;
    const n = Math.min(p.length - this.pendingFill, chunk.length - off);
    chunk.copy(p, this.pendingFill, off, off + n);
    this.pendingFill += n;
    off += n;
    if (this.pendingFill < p.length) return off;
    this.pending = undefined;
    const id = ((p[5]! & 0x7f) << 24) | (p[6]! << 16) | (p[7]! << 8) | p[8]!;
    if (!this.onFrame(p[3]!, p[4]!, id, p.subarray(FRAME_HEADER_BYTES))) this.stopped = true;
    return off;
  }

  private oversize(len: number): void {
    this.stopped = true;
    this.onOversize(len);
  }
}
