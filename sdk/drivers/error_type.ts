import { Code, PrismError } from "../errors";

/**
 * The `error_type` label of driver_error_total (seed 004: connection_refused, timeout, …): what went
 * wrong with the backend, from the socket error or message a driver wrapped (its cause chain), else
 * from the status code. A small fixed set, so the label's cardinality stays bounded.
 */
export type ErrorType =
  | "connection_refused"
  | "connection_reset"
  | "timeout"
  | "host_unreachable"
  | "dns"
  | "circuit_open"
  | "unavailable"
  | "cancelled"
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "resource_exhausted"
  | "permission_denied"
  | "unauthenticated"
  | "unimplemented"
  | "internal";

/** Socket error codes (node/Bun `err.code`, also quoted in client messages) and their class. */
const SOCKET: ReadonlyArray<[RegExp, ErrorType]> = [
  [/\bECONNREFUSED\b/, "connection_refused"],
  [/\b(ECONNRESET|EPIPE|ECONNABORTED)\b/, "connection_reset"],
  // Clients that lose the socket mid-call say so in words (ioredis: "Connection is closed.", "Command aborted due to connection close").
  [/\b(connection (is )?closed?|connection lost|socket hang up|socket closed)\b/i, "connection_reset"],
  [/\bETIMEDOUT\b/, "timeout"],
  [/\b(EHOSTUNREACH|ENETUNREACH)\b/, "host_unreachable"],
  [/\b(ENOTFOUND|EAI_AGAIN)\b/, "dns"],
];

const BY_CODE: Partial<Record<Code, ErrorType>> = {
  [Code.CANCELLED]: "cancelled",
  [Code.DEADLINE_EXCEEDED]: "timeout",
  [Code.UNAVAILABLE]: "unavailable",
  [Code.INVALID_ARGUMENT]: "invalid_argument",
  [Code.OUT_OF_RANGE]: "invalid_argument",
  [Code.NOT_FOUND]: "not_found",
  [Code.ALREADY_EXISTS]: "already_exists",
  [Code.FAILED_PRECONDITION]: "failed_precondition",
  [Code.ABORTED]: "failed_precondition",
  [Code.RESOURCE_EXHAUSTED]: "resource_exhausted",
  [Code.PERMISSION_DENIED]: "permission_denied",
  [Code.UNAUTHENTICATED]: "unauthenticated",
  [Code.UNIMPLEMENTED]: "unimplemented",
};

/** The class of a backend error; see ErrorType. */
export function errorType(err: unknown): ErrorType {
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 6; depth++) {
    const sys = (e as { code?: unknown }).code;
    const text = `${typeof sys === "string" ? sys : ""} ${e instanceof Error ? e.message : typeof e === "string" ? e : ""}`;
    for (const [re, type] of SOCKET) if (re.test(text)) return type;
    if (/\bcircuit open\b/i.test(text)) return "circuit_open";
    if (/\b(timed out|timeout)\b/i.test(text) || (e instanceof Error && e.name === "TimeoutError")) return "timeout";
    e = (e as { cause?: unknown }).cause;
  }
  // No socket error in words: the first status code in the chain that has a class (an unknown-outcome write
  // wraps the UNAVAILABLE its driver mapped the lost connection to).
  for (let c: unknown = err, depth = 0; c instanceof Error && depth < 6; c = c.cause, depth++) {
    const type = c instanceof PrismError ? BY_CODE[c.code] : undefined;
    if (type) return type;
  }
  return BY_CODE[PrismError.from(err).code] ?? "internal";
}
