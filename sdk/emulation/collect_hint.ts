/** Bytes of a large value moved between two hints to the collector. */
const HINT_EVERY_BYTES = 32 * 1024 * 1024;

let moved = 0;

/**
 * Counts bytes of a chunked value passing through this process and, every HINT_EVERY_BYTES, runs a full
 * collection. A value moves as one short-lived buffer per message and per chunk; left to its heuristics the heap
 * let ~200 MiB of them pile up before collecting (a 256 MiB StoreStream: pattern peak 262 MiB, live heap under
 * 20 MiB after a full collection). Bun.gc(false) left the peak as it was. Only values past one chunk get here.
 */
export function movedChunk(bytes: number): void {
  moved += bytes;
  if (moved < HINT_EVERY_BYTES) return;
  moved = 0;
  (globalThis as { Bun?: { gc(force: boolean): void } }).Bun?.gc(true);
}
