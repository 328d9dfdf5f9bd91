import { invalidArgument } from "@prism/sdk";

/**
 * Keys are stored as bytea, the UTF-8 bytes of the Prism key: any key (NUL included, which text refuses) is
 * stored as given, and bytea compares byte by byte, which for UTF-8 is code-point order: scans come out sorted
 * and a prefix is one contiguous index range, [prefix, prefixEnd(prefix)).
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function keyBytes(key: string): Buffer {
  const b = encoder.encode(key);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function keyText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * The smallest byte string greater than every string starting with `prefix`, or undefined when there is none
 * (an empty prefix, or one of only 0xff bytes): the exclusive upper bound of the prefix's key range.
 */
export function prefixEnd(prefix: Uint8Array): Buffer | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const out = Buffer.from(prefix.subarray(0, end));
  out[end - 1]! += 1;
  return out;
}

/**
 * Scan cursors are keyset positions: the last key returned, so the next page starts strictly after it. Keys added
 * or removed meanwhile never shift a page (no duplicates, no gaps for keys present throughout). The prefix is
 * bound into the cursor so that a cursor is not replayed under another prefix.
 */
const CURSOR_VERSION = "pg1";

export function encodeCursor(prefix: string, lastKey: Uint8Array): string {
  return `${CURSOR_VERSION}.${Buffer.from(keyBytes(prefix)).toString("base64url")}.${Buffer.from(lastKey).toString("base64url")}`;
}

/** The key after which the next page starts; INVALID_ARGUMENT for anything encodeCursor did not make for this prefix. */
export function decodeCursor(cursor: string, prefix: string): Buffer {
  const parts = cursor.split(".");
  const b64 = /^[A-Za-z0-9_-]*$/;
  if (parts.length !== 3 || parts[0] !== CURSOR_VERSION || !b64.test(parts[1]!) || !b64.test(parts[2]!) || parts[2] === "") {
    throw invalidArgument("cursor is not one this pattern returned");
  }
  if (Buffer.from(parts[1]!, "base64url").toString("base64url") !== keyBytes(prefix).toString("base64url")) {
    throw invalidArgument("cursor belongs to a scan of another prefix");
  }
  return Buffer.from(parts[2]!, "base64url");
}
