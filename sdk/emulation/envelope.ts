/**
 * The record the expiry emulation stores in place of a value: a 4-byte marker, the expiry time (Unix ms as a
 * float64, 0 = never) and the value. A stored value without the marker (written before emulation was turned on,
 * or by another program) reads as a value that never expires.
 */
const MARKER = [0x00, 0x50, 0x58, 0x01] as const; // \0 "PX" version 1
const HEADER = MARKER.length + 8;

export interface Unwrapped {
  value: Uint8Array;
  /** Unix ms; 0 = never. */
  expiresAt: number;
}

export function wrap(value: Uint8Array, expiresAt: number): Uint8Array {
  const out = new Uint8Array(HEADER + value.byteLength);
  out.set(MARKER, 0);
  new DataView(out.buffer).setFloat64(MARKER.length, expiresAt);
  out.set(value, HEADER);
  return out;
}

export function unwrap(stored: Uint8Array): Unwrapped {
  if (stored.byteLength < HEADER || MARKER.some((b, i) => stored[i] !== b)) return { value: stored, expiresAt: 0 };
  const expiresAt = new DataView(stored.buffer, stored.byteOffset, stored.byteLength).getFloat64(MARKER.length);
  return { value: stored.subarray(HEADER), expiresAt };
}

/** Bytes the record adds to a value (so value limits can leave room for it). */
export const ENVELOPE_BYTES = HEADER;
