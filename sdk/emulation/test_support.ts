/**
 * Drivers with fewer methods than memstore, for the emulation tests: a Map behind the basic key-value methods,
 * optionally key listing, answering asynchronously like a network backend. Test doubles of a *driver*, not of
 * any backend's protocol.
 */
import { IdempotencyWindow, type WriteOptions } from "../drivers/idempotency";
import type { HealthReport } from "../drivers/interfaces";

/** get/set/delete/exists over a Map, async, counting calls and the most calls in flight. */
export class BasicOnlyDriver {
  readonly name: string = "basic-only";
  readonly version = "test";
  readonly data = new Map<string, Uint8Array>();
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;
  closed = false;

  private async op<T>(fn: () => T): Promise<T> {
    this.calls++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await Bun.sleep(0);
      return fn();
    } finally {
      this.inFlight--;
    }
  }

  set(key: string, value: Uint8Array, _ttlSeconds: number): Promise<void> {
    return this.op(() => void this.data.set(key, value));
  }
  get(key: string): Promise<Uint8Array | undefined> {
    return this.op(() => this.data.get(key));
  }
  delete(key: string): Promise<boolean> {
    return this.op(() => this.data.delete(key));
  }
  exists(key: string): Promise<boolean> {
    return this.op(() => this.data.has(key));
  }
  health(): HealthReport {
    return { status: "healthy" };
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** BasicOnlyDriver plus listKeys (in Map insertion order, i.e. not sorted), like NATS KV. */
export class ListingDriver extends BasicOnlyDriver {
  override readonly name: string = "listing";
  async *listKeys(prefix: string, signal: AbortSignal): AsyncIterable<string> {
    for (const k of [...this.data.keys()]) {
      if (signal.aborted) return;
      if (k.startsWith(prefix)) yield k;
    }
  }
}

/** BasicOnlyDriver that applies keyed writes once (in-process), recording the idempotency keys it was given. */
export class DedupingDriver extends ListingDriver {
  override readonly name: string = "deduping";
  readonly idempotentKeyValue = "in-process";
  readonly keys: string[] = [];
  private readonly applied = new IdempotencyWindow<Promise<unknown>>();

  override set(key: string, value: Uint8Array, ttlSeconds: number, write?: WriteOptions): Promise<void> {
    if (write?.idempotencyKey) this.keys.push(write.idempotencyKey);
    return this.applied.run(write?.idempotencyKey && `set\0${key}\0${write.idempotencyKey}`, 60_000, () => super.set(key, value, ttlSeconds)) as Promise<void>;
  }
  override delete(key: string, write?: WriteOptions): Promise<boolean> {
    if (write?.idempotencyKey) this.keys.push(write.idempotencyKey);
    return this.applied.run(write?.idempotencyKey && `delete\0${key}\0${write.idempotencyKey}`, 60_000, () => super.delete(key)) as Promise<boolean>;
  }
}
