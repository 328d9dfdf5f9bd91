/**
 * Tags stored with a Redis value (issue 20 item 4): a tagged value is kept as one string, a 6-byte marker, the
 * tags' JSON length (uint32, big-endian), the JSON, then the value, so a write of value and tags stays one SET (or
 * one script) and a plain write drops the tags. A stored string without the marker is an untagged value. The
 * version (SHA-1) is of the stored string, tags included. The JSON-filter scan (native_filter.ts) reads stored
 * strings as JSON, so it skips tagged values.
 */
const MARKER = Buffer.from([0x00, 0x50, 0x54, 0x41, 0x47, 0x01]); // \0 "PTAG" version 1
const HEADER = MARKER.length + 4;

export interface Tagged {
  value: Uint8Array;
  tags?: Record<string, string>;
}

/** The string to store for a value and its tags (the value itself when there are none). */
export function withTags(value: Uint8Array, tags: Record<string, string> | undefined): Uint8Array {
  if (tags === undefined || Object.keys(tags).length === 0) return value;
  const json = Buffer.from(JSON.stringify(tags));
  const out = Buffer.allocUnsafe(HEADER + json.length + value.byteLength);
  MARKER.copy(out, 0);
  out.writeUInt32BE(json.length, MARKER.length);
  json.copy(out, HEADER);
  out.set(value, HEADER + json.length);
  return out;
}

/** A stored string as value and tags. */
export function splitTags(stored: Uint8Array): Tagged {
  if (stored.byteLength < HEADER || MARKER.some((b, i) => stored[i] !== b)) return { value: stored };
  const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
  const n = view.getUint32(MARKER.length);
  if (HEADER + n > stored.byteLength) return { value: stored };
  try {
    const tags = JSON.parse(Buffer.from(stored.buffer, stored.byteOffset + HEADER, n).toString("utf8")) as Record<string, string>;
    return { value: stored.subarray(HEADER + n), tags };
  } catch {
    return { value: stored };
  }
}
