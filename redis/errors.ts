import { Code, PrismError } from "@prism/sdk";

/** Client-side messages and socket codes that mean "Redis cannot be reached right now". */
const unreachable = [
  "Stream isn't writeable",
  "Connection is closed",
  "Command timed out",
  "Command aborted due to connection close",
  "Reached the max retries per request limit",
  "None of startup nodes is available",
  "Failed to refresh slots cache",
  "Cluster isn't ready",
  "Cluster is disconnect",
  "Node is disconnected",
  "Connection is discarded",
  "Connection is aborted",
  "Too many Cluster redirections",
];
const socketCodes = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/** Reply prefixes the server sends (first word of a ReplyError) and the code each maps to. */
const replyCodes: Record<string, Code> = {
  WRONGTYPE: Code.FAILED_PRECONDITION,
  OOM: Code.RESOURCE_EXHAUSTED,
  LOADING: Code.UNAVAILABLE,
  BUSY: Code.UNAVAILABLE,
  TRYAGAIN: Code.UNAVAILABLE,
  CLUSTERDOWN: Code.UNAVAILABLE,
  MASTERDOWN: Code.UNAVAILABLE,
  READONLY: Code.UNAVAILABLE,
  MOVED: Code.UNAVAILABLE,
  ASK: Code.UNAVAILABLE,
  NOAUTH: Code.UNAVAILABLE,
  WRONGPASS: Code.UNAVAILABLE,
  NOPERM: Code.PERMISSION_DENIED,
};

/** Which server an error came from, for messages an operator can act on. */
export interface ErrorSource {
  readonly target: string;
  /** The connection's last error, e.g. "connect ECONNREFUSED 127.0.0.1:6379". */
  readonly lastError: string;
}

/**
 * Turns whatever ioredis throws into a PrismError: lost or refused connections and timeouts are UNAVAILABLE
 * (safe to retry), server replies get the code their error prefix calls for, anything else is INTERNAL.
 */
export function redisError(err: unknown, source?: ErrorSource): PrismError {
  if (err instanceof PrismError) return err;
  if (!(err instanceof Error)) return PrismError.from(err);
  const msg = err.message;
  const sys = (err as { code?: unknown }).code;
  if ((typeof sys === "string" && socketCodes.has(sys)) || unreachable.some((m) => msg.startsWith(m))) {
    // "Stream isn't writeable and enableOfflineQueue options is false" is ioredis for "not connected".
    const why = /^(Stream isn't writeable|Cluster isn't ready)/.test(msg) ? `not connected${source?.lastError ? ` (${source.lastError})` : ""}` : msg;
    return new PrismError(Code.UNAVAILABLE, `redis${source ? ` ${source.target}` : ""} unavailable: ${why}`, { cause: err });
  }
  const prefix = /^([A-Z]+)\b/.exec(msg)?.[1];
  const code = prefix === undefined ? undefined : replyCodes[prefix];
  if (code !== undefined) return new PrismError(code, `redis: ${msg}`, { cause: err });
  // ioredis names its connection-loss errors AbortError; PrismError.from would call that a cancellation.
  if (err.name === "AbortError" || err.name === "MaxRetriesPerRequestError") {
    return new PrismError(Code.UNAVAILABLE, `redis unavailable: ${msg}`, { cause: err });
  }
  return new PrismError(Code.INTERNAL, `redis: ${msg}`, { cause: err });
}

/** Socket errors of connecting: nothing was sent on them. */
const connectCodes = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * True when a failed command certainly had no effect: Redis answered it with an error, or ioredis never sent it
 * (not connected: the offline queue is off, so it fails at once; no cluster node to send it to). A command that
 * timed out or whose connection closed under it may have been applied.
 */
export function redisNotApplied(err: unknown): boolean {
  if (err instanceof PrismError) return err.code !== Code.UNAVAILABLE && err.code !== Code.DEADLINE_EXCEEDED && err.code !== Code.UNKNOWN;
  if (!(err instanceof Error)) return false;
  if (err.name === "ReplyError") return true;
  const sys = (err as { code?: unknown }).code;
  if (typeof sys === "string" && connectCodes.has(sys)) return true;
  return /^(Stream isn't writeable|None of startup nodes is available|Cluster isn't ready|Failed to refresh slots cache|Cluster is disconnect)/.test(
    err.message,
  );
}
