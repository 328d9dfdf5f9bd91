import { CircuitBreaker, CircuitOpenError, type CircuitState } from "../concurrency/circuit_breaker";
import { isTransient, retry } from "../concurrency/retry";
import type { Schema } from "../config/schema";
import { Code, PrismError } from "../errors";

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
  /**
   * Bound on one call as its caller sees it, retries included (0 = none beyond the backend client's own). A
   * hung backend (frozen, partitioned) then costs each call at most this long, never the client's defaults.
   */
  timeoutMs?: number;
  /**
   * True when a failed write certainly had no effect: it never left the pattern (not connected, connection
   * refused) or the backend refused it. Any other failure of a write that reached the backend leaves its
   * outcome unknown. Default: only refusals by the breaker are certain.
   */
  notApplied?: (err: unknown) => boolean;
  /** True when the backend client gave up waiting for a reply (default: the message says "timed out"/"timeout"). */
  isTimeout?: (err: unknown) => boolean;
  onStateChange?: (from: CircuitState, to: CircuitState) => void;
  /** Clock of the breaker, injectable for tests (default Date.now). */
  now?: () => number;
}

/** The caller-side bound of a call ran out; the backend may still be working on it. */
class BoundExceeded extends Error {
  override readonly name = "BoundExceeded";
}

const deadlineIn = (ms: number) => (ms > 0 ? performance.now() + ms : Infinity);

const defaultIsTimeout = (err: unknown) => err instanceof Error && /timed? ?out|timeout/i.test(err.message);

/**
 * One circuit breaker per backend, a time bound on every call, and retry with backoff for idempotent reads:
 * every backend call of a driver goes through `write` or `read`, so errors come out mapped, a hung backend
 * costs a call at most `timeoutMs`, a dead backend is refused at once (no backend call) while the breaker is
 * open, the half-open breaker lets one probe through, and a read that hit a quick transient failure is tried
 * again while the breaker is still closed and time remains.
 *
 * Writes say what is known about their outcome (contract §5): UNAVAILABLE only when the write certainly had
 * no effect (refused by the breaker, or `notApplied`); a write sent without a reply is DEADLINE_EXCEEDED (no
 * reply in time) or UNKNOWN (connection lost), with a message saying the outcome is unknown.
 */
export class Resilience {
  readonly breaker: CircuitBreaker;
  readonly name: string;
  readonly timeoutMs: number;
  private readonly mapError: (err: unknown) => PrismError;
  private readonly notApplied: (err: unknown) => boolean;
  private readonly isTimeout: (err: unknown) => boolean;
  private readonly retryOptions;

  constructor(opts: ResilienceOptions) {
    this.name = opts.name;
    this.mapError = opts.mapError;
    this.timeoutMs = Math.max(0, opts.timeoutMs ?? 0);
    this.notApplied = opts.notApplied ?? (() => false);
    this.isTimeout = opts.isTimeout ?? defaultIsTimeout;
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
      // A breaker that opened meanwhile answers at once; waiting out backoff against it would only slow the
      // caller. A timeout is not retried: the backend is hung, and another attempt would only wait again.
      retryable: (err: unknown) => isTransient(err) && !this.timedOut(err) && this.breaker.state === "closed",
    };
  }

  /** A call that must not be repeated (a write): bound, breaker, and an error that tells whether it was applied. */
  write<T>(fn: () => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    return this.breaker.execute(() => this.bounded(fn, deadlineIn(timeoutMs), timeoutMs).catch(this.writeFailure));
  }

  /** An idempotent read: bounded (retries included), breaker, and retried with backoff on a quick transient failure. */
  read<T>(fn: () => Promise<T>, signal?: AbortSignal, timeoutMs = this.timeoutMs): Promise<T> {
    const deadline = deadlineIn(timeoutMs);
    const attempt = () => this.breaker.execute(() => this.bounded(fn, deadline, timeoutMs).catch(this.readFailure));
    // The first attempt goes straight through; retry's machinery is paid for only after a failure.
    return attempt().catch((err: unknown) => {
      if (this.retryOptions.maxAttempts <= 1 || !this.retryOptions.retryable(err) || performance.now() >= deadline) throw err;
      return retry((n) => (n === 1 ? Promise.reject(err) : performance.now() >= deadline ? Promise.reject(err) : attempt()), { ...this.retryOptions, signal });
    });
  }

  /** The backend answered a health check: an open breaker lets a call probe now (see CircuitBreaker.probeNow). */
  backendAnswered(): void {
    this.breaker.probeNow();
  }

  private timedOut(err: unknown): boolean {
    const e = PrismError.from(err);
    return e.code === Code.DEADLINE_EXCEEDED || e.cause instanceof BoundExceeded || this.isTimeout(e.cause);
  }

  /** Runs fn, rejecting with BoundExceeded once the call's time is up (fn itself is left to finish or fail). */
  private bounded<T>(fn: () => Promise<T>, deadline: number, timeoutMs: number): Promise<T> {
    if (deadline === Infinity) return fn();
    const left = deadline - performance.now();
    if (left <= 0) return Promise.reject(new BoundExceeded(`no reply from ${this.name} within ${timeoutMs} ms`));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const work = fn();
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BoundExceeded(`no reply from ${this.name} within ${timeoutMs} ms`)), left);
    });
    work.catch(() => undefined);
    return Promise.race([work, bound]).finally(() => clearTimeout(timer));
  }

  private readonly readFailure = (err: unknown): never => {
    if (err instanceof BoundExceeded) throw new PrismError(Code.UNAVAILABLE, `${err.message} (a read: safe to retry)`, { cause: err });
    throw this.mapError(err);
  };

  private readonly writeFailure = (err: unknown): never => {
    if (err instanceof CircuitOpenError) throw err;
    if (err instanceof BoundExceeded) throw outcomeUnknown(Code.DEADLINE_EXCEEDED, err.message, err);
    const mapped = this.mapError(err);
    // Anything but "the backend could not be reached" is an answer from the backend: it says what happened.
    if (mapped.code !== Code.UNAVAILABLE && mapped.code !== Code.DEADLINE_EXCEEDED) throw mapped;
    if (this.notApplied(err)) throw mapped;
    // The cause is the mapped error (itself caused by the client's): metrics classify it as unavailable, not internal.
    throw outcomeUnknown(this.isTimeout(err) || mapped.code === Code.DEADLINE_EXCEEDED ? Code.DEADLINE_EXCEEDED : Code.UNKNOWN, mapped.message, mapped);
  };
}

/** The error of a write that was sent but got no reply. */
export function outcomeUnknown(code: Code, why: string, cause: unknown): PrismError {
  return new PrismError(
    code,
    `${why}; the write was sent and its outcome is unknown (it may have been applied): retry it with the same x-prism-idempotency-key to apply it at most once`,
    { cause },
  );
}

/** The `retry` section a driver's config offers for its Resilience (reads only: writes are not retried blind). */
export const RETRY_CONFIG: Schema = {
  type: "object",
  fields: {
    max_attempts: { type: "integer", min: 1, max: 10, default: 3 },
    initial_delay: { type: "duration", default: "20ms" },
    max_delay: { type: "duration", default: "200ms" },
  },
};

/** The `breaker` section a driver's config offers for its Resilience's circuit breaker. */
export const BREAKER_CONFIG: Schema = {
  type: "object",
  fields: {
    failure_threshold: { type: "integer", min: 1, default: 5 },
    open_duration: { type: "duration", default: "2s" },
  },
};
