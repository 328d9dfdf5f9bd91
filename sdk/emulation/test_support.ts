/**
 * Drivers with fewer methods than memstore, for the emulation tests: a Map behind the basic key-value methods,
 * optionally key listing, answering asynchronously like a network backend. Test doubles of a *driver*, not of
 * any backend's protocol.
 */
import { IdempotencyWindow, type WriteOptions } from "../drivers/idempotency";
import type { HealthReport } from "../drivers/interfaces";
import { versionMatches, versionMismatch, type VersionedValue } from "../drivers/versions";

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

/** DedupingDriver with conditional writes: a counter per write, as a backend's revision. */
export class VersionedDriver extends DedupingDriver {
  override readonly name: string = "versioned";
  private readonly versions = new Map<string, number>();
  private last = 0;

  async getVersioned(key: string): Promise<VersionedValue | undefined> {
    const value = await this.get(key);
    return value && { value, version: String(this.versions.get(key)) };
  }
  async setVersioned(key: string, value: Uint8Array, _ttl: number, expected: string | undefined): Promise<string> {
    const current = this.data.has(key) ? String(this.versions.get(key)) : undefined;
    if (!versionMatches(expected, current)) throw versionMismatch(key, expected!, current);
    await this.set(key, value, 0);
    this.versions.set(key, ++this.last);
    return String(this.last);
  }
  async deleteVersioned(key: string, expected: string | undefined): Promise<boolean> {
    const current = this.data.has(key) ? String(this.versions.get(key)) : undefined;
    if (!versionMatches(expected, current)) throw versionMismatch(key, expected!, current);
    return this.delete(key);
  }
}
