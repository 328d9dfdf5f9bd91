import type { WriteOptions } from "../drivers/idempotency";
import type { BatchSetEntry, KeyValueBasicDriver, KeyValueBatchDriver } from "../drivers/interfaces";
import { pipeline } from "../concurrency/pipeline";
import type { CountOp } from "./expiry";

/** Runs fn over items with at most `concurrency` in flight, results in input order; the first failure stops it. */
async function inOrder<I, O>(items: readonly I[], concurrency: number, fn: (item: I) => O | Promise<O>): Promise<O[]> {
  const out: O[] = [];
  for await (const o of pipeline(items, [{ concurrency, transform: (i: I) => fn(i) }], { bufferSize: concurrency })) out.push(o as O);
  return out;
}

/**
 * Batches as a bounded-concurrency pipeline of single operations. Results are in request order and equal
 * what the native batches return; unlike memstore's batch, a failure part-way leaves the entries before it
 * written (the call fails, so the client retries the whole batch: every operation is idempotent). A keyed batch
 * gives each entry a key of its own (batch key, operation, position), so each entry is applied once.
 */
export class PipelinedBatch implements KeyValueBatchDriver {
  constructor(
    private readonly kv: KeyValueBasicDriver,
    private readonly concurrency: number,
    private readonly count: CountOp,
  ) {}

  async batchSet(entries: BatchSetEntry[], write?: WriteOptions): Promise<void> {
    this.count("batchSet");
    const indexed = entries.map((e, i) => ({ e, i }));
    await inOrder(indexed, this.concurrency, ({ e, i }) => this.kv.set(e.key, e.value, e.ttlSeconds, entryWrite(write, "batchSet", i)));
  }

  batchGet(keys: string[]): Promise<(Uint8Array | undefined)[]> {
    this.count("batchGet");
    return inOrder(keys, this.concurrency, (k) => this.kv.get(k));
  }

  batchDelete(keys: string[], write?: WriteOptions): Promise<boolean[]> {
    this.count("batchDelete");
    const indexed = keys.map((k, i) => ({ k, i }));
    return inOrder(indexed, this.concurrency, ({ k, i }) => this.kv.delete(k, entryWrite(write, "batchDelete", i)));
  }
}

/** The write options of entry i of a keyed batch (a key given twice in one batch is still written twice). */
function entryWrite(write: WriteOptions | undefined, operation: string, i: number): WriteOptions | undefined {
  return write?.idempotencyKey ? { ...write, idempotencyKey: `${operation}\u0000${i}\u0000${write.idempotencyKey}` } : undefined;
}
