import { CircuitBreaker, type CircuitState } from "../concurrency/circuit_breaker";
import { isTransient, retry } from "../concurrency/retry";
import type { PrismError } from "../grpc/errors";

/** How a network driver protects itself and its callers from a failing backend. */
export interface ResilienceOptions {
  /** The backend, named in "circuit open for <name>" errors. */
  name: string;
  /** Turns a backend client's error into a PrismError with the right code (UNAVAILABLE for lost connections). */
  mapError: (err: unknown) => PrismError;
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long the breaker stays open before a probe is let through. */
  openDurationMs: number;
  /** Attempts of an idempotent read, the first included (1 = no retry). */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  onStateChange?: (from: CircuitState, to: CircuitState) => void;
  /** Clock of the breaker, injectable for tests (default Date.now). */
  now?: () => number;
}

/**
 * One circuit breaker per backend plus retry with backoff for idempotent reads: every backend call of a driver
 * goes through `write` or `read`, so errors come out mapped, a dead backend is refused fast once the breaker is
 * open, and a read that hit a transient failure is tried again while the breaker is still closed.
 */
export class Resilience {
  readonly breaker: CircuitBreaker;
  private readonly mapError: (err: unknown) => PrismError;
  private readonly retryOptions;

  constructor(opts: ResilienceOptions) {
    this.mapError = opts.mapError;
    this.breaker = new CircuitBreaker({
      name: opts.name,
      failureThreshold: opts.failureThreshold,
      openDurationMs: opts.openDurationMs,
      onStateChange: opts.onStateChange,
      now: opts.now,
    });
    this.retryOptions = {
      maxAttempts: opts.maxAttempts,
      initialDelayMs: opts.initialDelayMs,
      maxDelayMs: opts.maxDelayMs,
      // A breaker that opened meanwhile answers at once; waiting out backoff against it would only slow the caller.
      retryable: (err: unknown) => isTransient(err) && this.breaker.state === "closed",
    };
  }

  /** A call that must not be repeated (a write): breaker and error mapping only. */
  write<T>(fn: () => Promise<T>): Promise<T> {
    return this.breaker.execute(() => fn().catch(this.rethrow));
  }

  /** An idempotent read: like write, and retried with backoff on a transient failure. */
  read<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    // The first attempt goes straight through; retry's machinery is paid for only after a failure.
    return this.write(fn).catch((err: unknown) => {
      if (this.retryOptions.maxAttempts <= 1 || !this.retryOptions.retryable(err)) throw err;
      return retry((attempt) => (attempt === 1 ? Promise.reject(err) : this.write(fn)), { ...this.retryOptions, signal });
    });
  }

  private readonly rethrow = (err: unknown): never => {
    throw this.mapError(err);
  };
}
