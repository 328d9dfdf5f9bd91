import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { invalidArgument } from "@prism/sdk";

/**
 * Where a paged scan resumes. Redis SCAN hands out batches, and a page cut by its limit usually ends inside one.
 * Re-issuing a SCAN from the batch's start does not reproduce the batch once keys were added (the batch ends
 * where COUNT keys were collected), so the position carries the keys of the batch not yet returned, plus the
 * SCAN cursor after that batch: resuming returns those keys (those still there) and continues SCAN, never
 * visiting a bucket twice. A cursor is therefore at most about one batch of keys long.
 */
export interface ScanPosition {
  /** host:port of the cluster master being scanned; "" on a single server. */
  node: string;
  /** SCAN cursor after the batch `pending` came from; "0" when that was the node's last batch. */
  redisCursor: string;
  /** COUNT of the scan, kept for its remaining batches. */
  count: number;
  /** Keys of that batch not returned yet, in order; never empty. */
  pending: string[];
}

const VERSION = 3;
/** Bytes of HMAC-SHA256 kept in a cursor: 128 bits, beyond guessing. */
const MAC_BYTES = 16;
/** Redis SCAN cursors are unsigned 64-bit integers. */
const MAX_REDIS_CURSOR = 18446744073709551615n;

/**
 * Encodes scan positions as opaque, URL-safe, tamper-evident strings: `<payload>.<mac>`, the MAC an HMAC-SHA256
 * over the key prefix and the payload. A cursor is client-held text that makes the pattern run one Redis
 * command per pending key; unsigned, a forged 2.7 MB cursor cost 200,000 commands. Signed, anything not made
 * here (or made for another key prefix, or under another secret) is refused before any command is sent.
 * The secret is `cursor_secret` from the configuration, or random per process (cursors then do not survive a
 * restart of the pattern: a client scans again from the start, as on any INVALID_ARGUMENT cursor).
 */
export class CursorCodec {
  private readonly secret: Buffer;

  constructor(
    private readonly context: string,
    secret?: string | Uint8Array,
    /** Largest COUNT a genuine cursor carries (scan_count); anything above is refused too. */
    private readonly maxCount = 100_000,
  ) {
    this.secret = secret === undefined || secret.length === 0 ? randomBytes(32) : Buffer.from(secret);
  }

  encode(p: ScanPosition): string {
    const payload = Buffer.from(JSON.stringify([VERSION, p.node, p.redisCursor, p.count, p.pending]), "utf8").toString("base64url");
    return `${payload}.${this.mac(payload).toString("base64url")}`;
  }

  /** Decodes a cursor made by encode; anything else is INVALID_ARGUMENT, found without touching Redis. */
  decode(s: string): ScanPosition {
    const dot = s.lastIndexOf(".");
    if (dot <= 0) throw invalidCursor();
    const payload = s.slice(0, dot);
    const given = Buffer.from(s.slice(dot + 1), "base64url");
    if (given.length !== MAC_BYTES || !timingSafeEqual(given, this.mac(payload))) throw invalidCursor();
    let fields: unknown;
    try {
      fields = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch {
      throw invalidCursor();
    }
    if (!Array.isArray(fields) || fields.length !== 5 || fields[0] !== VERSION) throw invalidCursor();
    const [, node, redisCursor, count, pending] = fields as unknown[];
    if (
      typeof node !== "string" ||
      typeof redisCursor !== "string" ||
      !/^\d{1,20}$/.test(redisCursor) ||
      BigInt(redisCursor) > MAX_REDIS_CURSOR ||
      typeof count !== "number" ||
      !Number.isInteger(count) ||
      count < 1 ||
      count > this.maxCount ||
      !Array.isArray(pending) ||
      pending.length === 0 ||
      !pending.every((k) => typeof k === "string")
    ) {
      throw invalidCursor();
    }
    return { node, redisCursor, count, pending: pending as string[] };
  }

  private mac(payload: string): Buffer {
    return createHmac("sha256", this.secret).update(this.context).update("\0").update(payload).digest().subarray(0, MAC_BYTES);
  }
}

function invalidCursor() {
  return invalidArgument("cursor is not one this pattern returned (or it was returned before the pattern restarted): scan again from the start");
}
