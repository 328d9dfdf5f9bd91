import { invalidArgument } from "../sdk/grpc/errors";

/**
 * Where a paged scan resumes. Redis SCAN hands out batches, and a page cut by its limit usually ends inside one,
 * so the position is the batch's start (server, SCAN cursor, COUNT) plus the last key already returned from it:
 * re-issuing the same SCAN and skipping keys up to that one (in code-unit order) continues without duplicates or
 * gaps, even when keys of that batch were added or removed in between.
 */
export interface ScanPosition {
  /** host:port of the cluster master being scanned; "" on a single server. */
  node: string;
  /** Redis SCAN cursor of the batch that holds the next key. */
  redisCursor: string;
  /** COUNT of that batch, so that re-issuing it visits the same buckets. */
  count: number;
  /** Keys of that batch up to and including this one were returned already. */
  after?: string;
}

const VERSION = 1;

/** Encodes a position as an opaque, URL-safe string. */
export function encodeCursor(p: ScanPosition): string {
  const fields: unknown[] = [VERSION, p.node, p.redisCursor, p.count];
  if (p.after !== undefined) fields.push(p.after);
  return Buffer.from(JSON.stringify(fields), "utf8").toString("base64url");
}

/** Decodes a cursor made by encodeCursor; anything else is INVALID_ARGUMENT. */
export function decodeCursor(s: string): ScanPosition {
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
  } catch {
    throw invalidArgument("cursor is not one this pattern returned");
  }
  if (!Array.isArray(fields) || fields.length < 4 || fields.length > 5 || fields[0] !== VERSION) {
    throw invalidArgument("cursor is not one this pattern returned");
  }
  const [, node, redisCursor, count, after] = fields as unknown[];
  if (
    typeof node !== "string" ||
    typeof redisCursor !== "string" ||
    !/^\d+$/.test(redisCursor) ||
    typeof count !== "number" ||
    !Number.isInteger(count) ||
    count < 1 ||
    (after !== undefined && typeof after !== "string")
  ) {
    throw invalidArgument("cursor is not one this pattern returned");
  }
  return after === undefined ? { node, redisCursor, count } : { node, redisCursor, count, after };
}
