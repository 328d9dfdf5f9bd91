import { Code, PrismError } from "../errors";
import { abortReason } from "./abort";
import { type Release, Semaphore } from "./semaphore";

/** Capacity of a Bulkhead. */
export interface BulkheadOptions {
  /** Names the isolated resource in errors, e.g. "redis". */
  name: string;
  /** Executions allowed at the same time. */
  maxConcurrent: number;
  /** Callers allowed to wait for a slot; beyond that calls are refused at once (default 0). */
  maxQueue?: number;
  /** Longest a caller waits for a slot before being refused, in ms (default: no limit). */
  queueTimeoutMs?: number;
}

/**
 * Caps concurrent calls into one resource so a slow backend cannot absorb every request of the process; excess
 * callers wait in a bounded queue, and beyond it (or after the queue timeout) get PrismError(RESOURCE_EXHAUSTED).
 */
export class Bulkhead {
  readonly name: string;
  private readonly slots: Semaphore;
  private readonly maxQueue: number;
  private readonly queueTimeoutMs: number | undefined;

  constructor(opts: BulkheadOptions) {
    this.name = opts.name;
    this.slots = new Semaphore(opts.maxConcurrent);
    this.maxQueue = Math.max(0, opts.maxQueue ?? 0);
    this.queueTimeoutMs = opts.queueTimeoutMs;
  }

  /** Executions currently running. */
  get active(): number {
    return this.slots.permits - this.slots.available;
  }

  /** Callers currently waiting for a slot. */
  get queued(): number {
    return this.slots.waiting;
  }

  /**
   * Runs `fn` once a slot is free. Rejects with RESOURCE_EXHAUSTED when full or when the queue wait times out,
   * and with the abort reason if `signal` aborts while waiting (pass the same signal into `fn` to stop the work).
   */
  async execute<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const now = this.slots.tryAcquire();
    if (now) return Promise.resolve(now);
    if (this.slots.waiting >= this.maxQueue) {
      return Promise.reject(new PrismError(Code.RESOURCE_EXHAUSTED, `bulkhead ${this.name} full (${this.slots.permits} running, ${this.maxQueue} queued)`));
    }
    if (this.queueTimeoutMs === undefined) return this.slots.acquire(signal);
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new PrismError(Code.RESOURCE_EXHAUSTED, `bulkhead ${this.name}: no slot within ${this.queueTimeoutMs} ms`)),
      this.queueTimeoutMs,
    );
    const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
    return this.slots.acquire(combined).finally(() => clearTimeout(timer));
  }
}
