import { Code, type PrismClientError } from "./errors";

/**
 * How safe a method is to send again:
 * - `read`: no effect; retried on UNAVAILABLE and on a lost reply (UNKNOWN, DEADLINE_EXCEEDED of an attempt);
 * - `keyed`: a write the server applies once per `x-prism-idempotency-key`, which the client adds: retried like a read;
 * - `idempotent`: a write whose repetition changes nothing (register an identity, unregister): retried like a read;
 * - `write`: may have been applied; never retried (fails over to another address only before it was sent).
 */
export type Safety = "read" | "keyed" | "idempotent" | "write";

/** Whether a failed attempt may be sent again. */
export function retryable(safety: Safety, err: PrismClientError): boolean {
  if (err.code === Code.UNAVAILABLE) return safety !== "write" || notSent(err);
  if (safety === "write") return false;
  return err.code === Code.UNKNOWN && err.reason === "outcome_unknown";
}

/**
 * grpc-js says UNAVAILABLE both when nothing was sent (no connection) and when a connection broke mid-call; only
 * the first leaves a plain write safe to send elsewhere.
 */
function notSent(err: PrismClientError): boolean {
  return /No connection established|failed to connect|ECONNREFUSED|Name resolution failed/i.test(err.message);
}

/** Full-jitter exponential backoff: uniform in [0, min(max, initial·2^(attempt-1))]. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random = Math.random): number {
  const cap = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * cap);
}

/** Resolves after ms, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
