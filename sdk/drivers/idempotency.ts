/** The metadata key a client sets on Publish, Append and Set to have a retried write applied once (contract §5). */
export const IDEMPOTENCY_HEADER = "x-prism-idempotency-key";

/** Longest idempotency key accepted (INVALID_ARGUMENT beyond). */
export const MAX_IDEMPOTENCY_KEY_BYTES = 256;

/** Default window within which a retry with the same key is recognised. */
export const DEFAULT_IDEMPOTENCY_WINDOW_MS = 120_000;

/** What a write carries besides its data: the client's idempotency key and how long to remember it. */
export interface WriteOptions {
  /** From x-prism-idempotency-key; absent = an ordinary write. */
  idempotencyKey?: string;
  /** How long a key is remembered (the `idempotency_window` setting). */
  windowMs: number;
}

interface Entry<T> {
  result: T;
  expiresAt: number;
}

/**
 * In-process deduplication of writes by idempotency key: within its window, a write whose key was seen gets the
 * first write's result (joining it while it is still in flight) instead of being applied again; a write that
 * failed is forgotten, so its retry runs. Holds at most `maxEntries` keys (the oldest are forgotten first).
 * T is the result of a write, a promise of it for asynchronous writes (a rejected promise, or a synchronous
 * throw, records nothing).
 * Used where a backend has no means of its own, or on top of one to join a retry to an attempt still in flight.
 * It protects retries that reach the same pattern process; the backends' own means (Redis markers, JetStream
 * message ids) also survive a restart of the pattern.
 */
export class IdempotencyWindow<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs fn once per key within windowMs; without a key it just runs fn. */
  run(key: string | undefined, windowMs: number, fn: () => T): T {
    if (key === undefined || key === "") return fn();
    const now = this.now();
    this.sweep(now);
    const seen = this.entries.get(key);
    if (seen && seen.expiresAt > now) return seen.result;
    const result = fn();
    const entry = { result, expiresAt: now + windowMs };
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    if (result instanceof Promise) {
      result.catch(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
    }
    return result;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Drops expired keys from the front (insertion order is time order for a constant window). */
  private sweep(now: number): void {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.expiresAt > now || ++n > 64) break;
      this.entries.delete(k);
    }
  }
}
