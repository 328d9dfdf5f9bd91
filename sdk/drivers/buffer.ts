/** A Buffer view of bytes without copying (client libraries send Buffers as they are; other views some stringify). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
