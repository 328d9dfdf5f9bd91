import { Code, PrismError } from "@prism/sdk";

interface NatsLikeError extends Error {
  code?: string;
  api_error?: { code?: number; err_code?: number; description?: string };
}

const unavailableCodes = new Set([
  "503",
  "TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_DRAINING",
  "CONNECTION_REFUSED",
  "CONNECTION_TIMEOUT",
  "DISCONNECT",
  "408",
]);

/** JetStream API error codes that are the caller's fault. */
const apiCallerErrors: Record<number, Code> = {
  10054: Code.INVALID_ARGUMENT, // message size exceeds maximum allowed
  10014: Code.NOT_FOUND, // consumer not found
  10059: Code.NOT_FOUND, // stream not found
  10071: Code.FAILED_PRECONDITION, // wrong last sequence
};

/** Turns a nats.js error into a PrismError: lost or slow connections are UNAVAILABLE (safe to retry). */
export function toPrismError(err: unknown, what: string): PrismError {
  if (err instanceof PrismError) return err;
  if (!(err instanceof Error)) return new PrismError(Code.INTERNAL, `${what}: ${String(err)}`);
  if (err.name === "AbortError") return PrismError.from(err);
  const e = err as NatsLikeError;
  const apiCode = e.api_error?.err_code;
  if (apiCode !== undefined && apiCode in apiCallerErrors) return new PrismError(apiCallerErrors[apiCode]!, `${what}: ${e.message}`, { cause: err });
  if (e.code === "MAX_PAYLOAD_EXCEEDED") return new PrismError(Code.INVALID_ARGUMENT, `${what}: ${e.message}`, { cause: err });
  if ((e.code && unavailableCodes.has(e.code)) || /timeout|closed|disconnect|no responders/i.test(e.message)) {
    return new PrismError(Code.UNAVAILABLE, `${what}: nats unavailable: ${e.message}`, { cause: err });
  }
  return new PrismError(Code.INTERNAL, `${what}: ${e.message}`, { cause: err });
}

/**
 * True when a failed write certainly had no effect: it was never sent (no connection: NatsConnector.current
 * refuses at once), the connection was refused, or JetStream had no responder to store it (503). A publish or
 * append that timed out, or whose connection dropped before the confirmation, may have been applied.
 */
export function natsNotApplied(err: unknown): boolean {
  if (err instanceof PrismError) return /^nats (is unreachable|connection is closed)/.test(err.message) || natsNotApplied(err.cause);
  if (!(err instanceof Error)) return false;
  const code = (err as NatsLikeError).code;
  return code === "503" || code === "CONNECTION_REFUSED" || /no responders/i.test(err.message);
}
