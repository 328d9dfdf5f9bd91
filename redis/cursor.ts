import { invalidArgument } from "../sdk/grpc/errors";

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

const VERSION = 2;

/** Encodes a position as an opaque, URL-safe string. */
export function encodeCursor(p: ScanPosition): string {
  return Buffer.from(JSON.stringify([VERSION, p.node, p.redisCursor, p.count, p.pending]), "utf8").toString("base64url");
}

/** Decodes a cursor made by encodeCursor; anything else is INVALID_ARGUMENT. */
export function decodeCursor(s: string): ScanPosition {
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(fields) || fields.length !== 5 || fields[0] !== VERSION) throw invalidCursor();
  const [, node, redisCursor, count, pending] = fields as unknown[];
  if (
    typeof node !== "string" ||
    typeof redisCursor !== "string" ||
    !/^\d+$/.test(redisCursor) ||
    typeof count !== "number" ||
    !Number.isInteger(count) ||
    count < 1 ||
    !Array.isArray(pending) ||
    pending.length === 0 ||
    !pending.every((k) => typeof k === "string")
  ) {
    throw invalidCursor();
  }
  return { node, redisCursor, count, pending: pending as string[] };
}

function invalidCursor() {
  return invalidArgument("cursor is not one this pattern returned");
}
