import { Code, PrismError } from "../errors";
import { abortReason, raceAbort, sleep } from "./abort";

/** How long to wait between attempts: exponential growth, capped, with optional full jitter. */
export interface BackoffOptions {
  /** Delay ceiling for the first retry, in ms (default 100). */
  initialDelayMs?: number;
  /** Upper bound for any delay, in ms (default 30 000). */
  maxDelayMs?: number;
  /** Growth factor of the ceiling per attempt (default 2). */
  multiplier?: number;
  /** "full" picks uniformly in [0, ceiling) (default); "none" always waits the ceiling. */
  jitter?: "full" | "none";
  /** Source of randomness in [0, 1), injectable for tests (default Math.random). */
  random?: () => number;
}

/**
 * Delay in ms before retry number `attempt` (1 for the first retry), so that retries and process restarts
 * spread out instead of hammering a recovering backend in lock-step ("full jitter", AWS architecture blog).
 * ceiling = min(maxDelayMs, initialDelayMs * multiplier^(attempt-1)); full jitter returns random() * ceiling.
 */
export function backoff(attempt: number, opts: BackoffOptions = {}): number {
  const initial = opts.initialDelayMs ?? 100;
  const max = opts.maxDelayMs ?? 30_000;
  const multiplier = opts.multiplier ?? 2;
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  const ceiling = Math.min(max, initial * multiplier ** (n - 1));
  const bounded = Number.isFinite(ceiling) ? Math.max(0, ceiling) : Math.max(0, max);
  if (opts.jitter === "none") return bounded;
  const r = (opts.random ?? Math.random)();
  return Math.min(bounded, Math.max(0, r) * bounded);
}

const transientCodes: ReadonlySet<number> = new Set<number>([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.RESOURCE_EXHAUSTED, Code.ABORTED]);

/**
 * Default retry predicate: only failures the contract calls safe to retry (UNAVAILABLE, DEADLINE_EXCEEDED,
 * RESOURCE_EXHAUSTED, ABORTED, judged through PrismError.from) are retried; bad input or bugs are not.
 */
export function isTransient(err: unknown): boolean {
  return transientCodes.has(PrismError.from(err).code);
}

/** Options of retry(): backoff shape plus how many attempts, which errors, and cancellation. */
export interface RetryOptions extends BackoffOptions {
  /** Total attempts including the first one (default 3). */
  maxAttempts?: number;
  /** Whether an error is worth another attempt (default isTransient). */
  retryable?: (err: unknown, attempt: number) => boolean;
  /** Aborting stops at once: no further attempt, and a pending wait or call is abandoned. */
  signal?: AbortSignal;
  /** Called before each wait, e.g. to log or count retries. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Calls `fn` until it succeeds, a non-retryable error occurs, or attempts run out (then the last error is
 * thrown unchanged, keeping its gRPC code); waits backoff(n) between attempts. `fn` receives the attempt
 * number starting at 1. If `signal` aborts, rejects immediately with its reason.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const maxAttempts = Math.max(1, Math.floor(opts.maxAttempts ?? 3));
  const retryable = opts.retryable ?? isTransient;
  const { signal } = opts;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw abortReason(signal);
    try {
      return await raceAbort(
        Promise.resolve().then(() => fn(attempt)),
        signal,
      );
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      if (attempt >= maxAttempts || !retryable(err, attempt)) throw err;
      const delay = backoff(attempt, opts);
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, signal);
    }
  }
}
