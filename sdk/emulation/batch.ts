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
 * written (the call fails, so the client retries the whole batch: every operation is idempotent).
 */
export class PipelinedBatch implements KeyValueBatchDriver {
  constructor(
    private readonly kv: KeyValueBasicDriver,
    private readonly concurrency: number,
    private readonly count: CountOp,
  ) {}

  async batchSet(entries: BatchSetEntry[]): Promise<void> {
    this.count("batchSet");
    await inOrder(entries, this.concurrency, (e) => this.kv.set(e.key, e.value, e.ttlSeconds));
  }

  batchGet(keys: string[]): Promise<(Uint8Array | undefined)[]> {
    this.count("batchGet");
    return inOrder(keys, this.concurrency, (k) => this.kv.get(k));
  }

  batchDelete(keys: string[]): Promise<boolean[]> {
    this.count("batchDelete");
    return inOrder(keys, this.concurrency, (k) => this.kv.delete(k));
  }
}
