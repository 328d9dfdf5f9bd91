import type { CallContext } from "../grpc/context";
import { DEFAULT_IDEMPOTENCY_WINDOW_MS, IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY_BYTES, type WriteOptions } from "../drivers/idempotency";
import { invalidArgument } from "../errors";
import { CHUNK_PREFIX, isChunkKey } from "../emulation/chunked";

/** Request size limits enforced before any driver is called (INVALID_ARGUMENT beyond them). */
export interface Limits {
  maxKeyBytes: number;
  maxValueBytes: number;
  /** Largest value StoreStream takes (stored chunked past maxValueBytes). */
  maxStreamValueBytes: number;
  /** Most entries in one batch request. */
  maxBatchSize: number;
  /** How long an idempotency key is remembered (idempotency_window). */
  idempotencyWindowMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxKeyBytes: 4096,
  maxValueBytes: 8 * 1024 * 1024,
  maxStreamValueBytes: 4 * 1024 * 1024 * 1024,
  maxBatchSize: 10_000,
  idempotencyWindowMs: DEFAULT_IDEMPOTENCY_WINDOW_MS,
};

/** The write options of a call: its x-prism-idempotency-key (bounded, else INVALID_ARGUMENT), or undefined. */
export function writeOptions(ctx: CallContext | undefined, limits: Limits): WriteOptions | undefined {
  const v = ctx?.metadata.get(IDEMPOTENCY_HEADER)[0];
  if (typeof v !== "string" || v === "") return undefined;
  if (Buffer.byteLength(v) > MAX_IDEMPOTENCY_KEY_BYTES) throw invalidArgument(`${IDEMPOTENCY_HEADER} is over ${MAX_IDEMPOTENCY_KEY_BYTES} bytes`);
  return { idempotencyKey: v, windowMs: limits.idempotencyWindowMs };
}

/** Rejects an empty or oversized key. */
export function checkKey(key: string, limits: Limits, what = "key"): void {
  if (key.length === 0) throw invalidArgument(`${what} must not be empty`);
  if (isChunkKey(key)) throw invalidArgument(`${what} must not start with ${JSON.stringify(CHUNK_PREFIX)}: the SDK keeps large values' chunks there`);
  // A UTF-16 unit is at most 3 UTF-8 bytes: only long keys need an exact count.
  if (key.length * 3 > limits.maxKeyBytes) {
    const bytes = Buffer.byteLength(key, "utf8");
    if (bytes > limits.maxKeyBytes) throw invalidArgument(`${what} is ${bytes} bytes, over the limit of ${limits.maxKeyBytes}`);
  }
}

/** Rejects an oversized value. */
export function checkValue(value: Uint8Array, limits: Limits): void {
  if (value.byteLength > limits.maxValueBytes) throw invalidArgument(`value is ${value.byteLength} bytes, over the limit of ${limits.maxValueBytes}`);
}

export function checkBatch(n: number, limits: Limits): void {
  if (n > limits.maxBatchSize) throw invalidArgument(`batch of ${n} entries is over the limit of ${limits.maxBatchSize}`);
}

/** Converts a protobuf int64 (bigint) to a safe number, rejecting what does not fit. */
export function toSafeNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw invalidArgument(`${what} is out of range`);
  return Number(v);
}
