import type { WriteOptions } from "../drivers/idempotency";
import type { KeyValueBasicDriver, KeyValueTTLDriver } from "../drivers/interfaces";
import { versionMismatch, type KeyValueVersionedDriver, type VersionedValue } from "../drivers/versions";
import { ExpiryHeap } from "./expiry_heap";
import { unwrap, wrap } from "./envelope";

/** Counts one emulated operation (prism_emulated_operations_total). */
export type CountOp = (operation: string) => void;

export interface ExpiryOptions {
  sweepIntervalMs: number;
  sweepLimit: number;
  sweepTracked: number;
  count: CountOp;
  /** Called when a sweep fails (backend down): logged by the caller, the sweeper keeps running. */
  onSweepError?: (err: unknown) => void;
  now?: () => number;
}

/**
 * Per-key expiry over a backend that has none: the expiry is stored next to the value (envelope.ts), a read
 * treats an expired record as absent at once, and a bounded sweeper deletes expired records this process has
 * seen (written with an expiry, or read after expiry). Records nobody touches after a restart stay stored,
 * invisible, until read. Not atomic: Expire and Persist read then rewrite the record, so a Set racing them may be
 * overwritten with the old value, and the sweeper may delete a value set between its check and its delete
 * (both windows are one backend round trip). A keyed write (WriteOptions) passes its key on to the backend write
 * it makes, so a retry is recognised by the driver even when it reads the record differently the second time.
 */
export class ExpiryEmulation implements KeyValueBasicDriver, KeyValueTTLDriver {
  private readonly heap: ExpiryHeap;
  private readonly timer: ReturnType<typeof setInterval>;
  private sweeping = false;
  private readonly now: () => number;

  constructor(
    private readonly inner: KeyValueBasicDriver,
    private readonly opts: ExpiryOptions,
  ) {
    this.heap = new ExpiryHeap(opts.sweepTracked);
    this.now = opts.now ?? Date.now;
    this.timer = setInterval(() => void this.sweep(), opts.sweepIntervalMs);
    this.timer.unref();
  }

  /** Remembers a key to delete once due. */
  private track(key: string, expiresAt: number): void {
    if (expiresAt !== 0) this.heap.push(key, expiresAt);
  }

  /** The live record of a key, or undefined (absent or expired; an expired one is queued for the sweeper). */
  private async live(key: string): Promise<{ value: Uint8Array; expiresAt: number } | undefined> {
    const stored = await this.inner.get(key);
    if (stored === undefined) return undefined;
    const r = unwrap(stored);
    if (r.expiresAt !== 0 && r.expiresAt <= this.now()) {
      this.track(key, r.expiresAt);
      return undefined;
    }
    return r;
  }

  async set(key: string, value: Uint8Array, ttlSeconds: number, write?: WriteOptions): Promise<void> {
    this.opts.count("set");
    const expiresAt = ttlSeconds > 0 ? this.now() + ttlSeconds * 1000 : 0;
    await this.inner.set(key, wrap(value, expiresAt), 0, write);
    this.track(key, expiresAt);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.opts.count("get");
    return (await this.live(key))?.value;
  }

  /** get without counting an operation: the value reads of an emulated scan, counted as the scan. */
  async peek(key: string): Promise<Uint8Array | undefined> {
    return (await this.live(key))?.value;
  }

  async exists(key: string): Promise<boolean> {
    this.opts.count("exists");
    return (await this.live(key)) !== undefined;
  }

  /** True only when a live key was deleted (an expired one is deleted too, and reported absent). */
  async delete(key: string, write?: WriteOptions): Promise<boolean> {
    this.opts.count("delete");
    const was = await this.live(key);
    const existed = await this.inner.delete(key, write);
    return existed && was !== undefined;
  }

  async expire(key: string, ttlSeconds: number, write?: WriteOptions): Promise<boolean> {
    this.opts.count("expire");
    const r = await this.live(key);
    if (r === undefined) return false;
    if (ttlSeconds <= 0) {
      await this.inner.delete(key, scoped(write, "expire"));
      return true;
    }
    const expiresAt = this.now() + ttlSeconds * 1000;
    await this.inner.set(key, wrap(r.value, expiresAt), 0, scoped(write, "expire"));
    this.track(key, expiresAt);
    return true;
  }

  async getTTL(key: string): Promise<number> {
    this.opts.count("getTTL");
    const r = await this.live(key);
    if (r === undefined) return -2;
    if (r.expiresAt === 0) return -1;
    return Math.ceil((r.expiresAt - this.now()) / 1000);
  }

  async persist(key: string, write?: WriteOptions): Promise<boolean> {
    this.opts.count("persist");
    const r = await this.live(key);
    if (r === undefined) return false;
    // Keyed: rewritten even without an expiry, so the driver records the key and a retry after someone else's
    // Expire is recognised instead of removing that expiry.
    if (r.expiresAt === 0 && !write) return false;
    await this.inner.set(key, wrap(r.value, 0), 0, scoped(write, "persist"));
    return r.expiresAt !== 0;
  }

  /** The inner driver's conditional writes, over the envelope (call only when the inner driver has them). */
  private get versioned(): KeyValueVersionedDriver {
    return this.inner as unknown as KeyValueVersionedDriver;
  }

  /** The stored record with the inner version, and whether it is live. */
  private async record(key: string): Promise<{ value: Uint8Array; expiresAt: number; version: string; live: boolean } | undefined> {
    const stored = await this.versioned.getVersioned(key);
    if (stored === undefined) return undefined;
    const r = unwrap(stored.value);
    const live = r.expiresAt === 0 || r.expiresAt > this.now();
    if (!live) this.track(key, r.expiresAt);
    return { ...r, version: stored.version, live };
  }

  async getVersioned(key: string): Promise<VersionedValue | undefined> {
    this.opts.count("get");
    const r = await this.record(key);
    return r?.live ? { value: r.value, version: r.version } : undefined;
  }

  /** "Must not exist" holds for an expired record too: the write is then conditioned on that record's version. */
  private async expectedOf(key: string, expected: string | undefined): Promise<string | undefined> {
    if (expected !== "") return expected;
    const r = await this.record(key);
    if (r === undefined) return "";
    if (r.live) throw versionMismatch(key, "", r.version);
    return r.version;
  }

  async setVersioned(key: string, value: Uint8Array, ttlSeconds: number, expected: string | undefined, write?: WriteOptions): Promise<string> {
    this.opts.count("set");
    const expiresAt = ttlSeconds > 0 ? this.now() + ttlSeconds * 1000 : 0;
    const version = await this.versioned.setVersioned(key, wrap(value, expiresAt), 0, await this.expectedOf(key, expected), write);
    this.track(key, expiresAt);
    return version;
  }

  async deleteVersioned(key: string, expected: string | undefined, write?: WriteOptions): Promise<boolean> {
    this.opts.count("delete");
    if (expected === "") {
      const r = await this.record(key);
      if (r?.live) throw versionMismatch(key, "", r.version);
      return false;
    }
    const r = await this.record(key);
    const existed = await this.versioned.deleteVersioned(key, expected, write);
    return existed && r?.live === true;
  }

  /** Keys waiting for the sweeper (for tests and health). */
  get tracked(): number {
    return this.heap.size;
  }

  /**
   * Deletes at most sweepLimit due keys whose stored record is still expired (a key rewritten since keeps its
   * new value). Returns how many were deleted. One sweep at a time.
   */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let deleted = 0;
    try {
      const now = this.now();
      for (let n = 0; n < this.opts.sweepLimit; n++) {
        const due = this.heap.popDue(now);
        if (due === undefined) break;
        const stored = await this.inner.get(due.key);
        if (stored === undefined) continue;
        const r = unwrap(stored);
        if (r.expiresAt === 0 || r.expiresAt > now) continue;
        if (await this.inner.delete(due.key)) deleted++;
      }
    } catch (err) {
      this.opts.onSweepError?.(err);
    } finally {
      this.sweeping = false;
    }
    if (deleted > 0) this.opts.count("sweep");
    return deleted;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** The write options of a backend write made on behalf of another operation: the idempotency key scoped by it. */
export function scoped(write: WriteOptions | undefined, operation: string): WriteOptions | undefined {
  return write?.idempotencyKey ? { ...write, idempotencyKey: `${operation}\u0000${write.idempotencyKey}` } : write;
}
