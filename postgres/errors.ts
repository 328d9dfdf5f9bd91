import { Code, PrismError } from "@prism/sdk";

/** Bun.sql's own codes for "the server could not be reached or the connection went away". */
const connectionCodes = new Set([
  "ERR_POSTGRES_CONNECTION_CLOSED",
  "ERR_POSTGRES_CONNECTION_REFUSED",
  "ERR_POSTGRES_CONNECTION_TIMEOUT",
  "ERR_POSTGRES_IDLE_TIMEOUT",
  "ERR_POSTGRES_LIFETIME_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** TLS verification failures (bad CA, wrong host name, expired certificate): a configuration problem, not an outage. */
const tlsCodes = /^(UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH)/;

/** SQLSTATE classes and codes and the gRPC code each maps to. */
function sqlStateCode(state: string): Code | undefined {
  switch (state) {
    case "57014": // query_canceled: statement_timeout (the statement was rolled back)
      return Code.DEADLINE_EXCEEDED;
    case "54000": // program_limit_exceeded: e.g. a key too large for the index
    case "22001": // string_data_right_truncation
    case "22021": // character_not_in_repertoire
      return Code.INVALID_ARGUMENT;
    case "42501": // insufficient_privilege
      return Code.PERMISSION_DENIED;
    case "28P01": // invalid_password
    case "28000": // invalid_authorization_specification
      return Code.UNAVAILABLE;
    case "53300": // too_many_connections
      return Code.UNAVAILABLE;
    case "40001": // serialization_failure
    case "40P01": // deadlock_detected
      return Code.ABORTED;
  }
  switch (state.slice(0, 2)) {
    case "08": // connection exception
    case "57": // operator intervention: admin_shutdown, crash_shutdown, cannot_connect_now
      return Code.UNAVAILABLE;
    case "53": // insufficient resources: disk full, out of memory
      return Code.RESOURCE_EXHAUSTED;
  }
  return undefined;
}

/**
 * Turns what Bun.sql throws into a PrismError. Unreachable servers and lost connections are UNAVAILABLE when the
 * call is a read or was never sent; a write whose connection dropped after it was sent may or may not have been
 * applied, and says so (UNKNOWN), as contract §5 asks. Server errors get the code their SQLSTATE calls for.
 */
export function postgresError(err: unknown, target: string, write = false): PrismError {
  if (err instanceof PrismError) return err;
  if (!(err instanceof Error)) return PrismError.from(err);
  const code = String((err as { code?: unknown }).code ?? "");
  const state = (err as { errno?: unknown }).errno;
  if (typeof state === "string" && /^[0-9A-Z]{5}$/.test(state)) {
    const mapped = sqlStateCode(state);
    if (mapped === Code.DEADLINE_EXCEEDED) {
      return new PrismError(mapped, `postgres ${target}: statement cancelled by statement_timeout (${write ? "rolled back, not applied" : err.message})`, {
        cause: err,
      });
    }
    if (mapped !== undefined) return new PrismError(mapped, `postgres ${target}: ${err.message} (SQLSTATE ${state})`, { cause: err });
    return new PrismError(Code.INTERNAL, `postgres ${target}: ${err.message} (SQLSTATE ${state})`, { cause: err });
  }
  if (tlsCodes.test(code)) {
    return new PrismError(Code.UNAVAILABLE, `postgres ${target} unavailable: TLS verification failed: ${err.message} (${code})`, { cause: err });
  }
  if (connectionCodes.has(code) || /connection (closed|refused|reset)|failed to connect/i.test(err.message)) {
    const neverSent = code === "ERR_POSTGRES_CONNECTION_REFUSED" || code === "ECONNREFUSED" || /failed to connect/i.test(err.message);
    if (write && !neverSent) {
      return new PrismError(
        Code.UNKNOWN,
        `postgres ${target}: connection lost after the write was sent; it may or may not have been applied (${err.message})`,
        { cause: err },
      );
    }
    return new PrismError(Code.UNAVAILABLE, `postgres ${target} unavailable: ${err.message}${code ? ` (${code})` : ""}`, { cause: err });
  }
  return new PrismError(Code.INTERNAL, `postgres ${target}: ${err.message}${code ? ` (${code})` : ""}`, { cause: err });
}

/** The client gave up on a statement (the server did not answer in time): for a write, the outcome is unknown. */
export function clientTimeout(target: string, ms: number, write: boolean): PrismError {
  return write
    ? new PrismError(Code.DEADLINE_EXCEEDED, `postgres ${target}: no answer within ${ms} ms; the write may or may not have been applied`)
    : new PrismError(Code.UNAVAILABLE, `postgres ${target} unavailable: no answer within ${ms} ms`);
}

/** The health check found the server down while a statement waited for its answer: for a write, the outcome is unknown. */
export function serverSilent(target: string, reason: string, write: boolean): PrismError {
  return write
    ? new PrismError(Code.DEADLINE_EXCEEDED, `postgres ${target} stopped answering (health check: ${reason}); the write may or may not have been applied`)
    : new PrismError(Code.UNAVAILABLE, `postgres ${target} unavailable: it stopped answering (health check: ${reason})`);
}

/** Marks an error of a write that certainly never reached a statement (e.g. the table could not be created first). */
export function markNotApplied<E extends Error>(err: E): E {
  (err as { notApplied?: boolean }).notApplied = true;
  return err;
}

/**
 * True when a failed write certainly had no effect: the connection was never made (refused, authentication or TLS
 * failed, too many connections, server starting or shutting down), or the server cancelled and rolled back the
 * statement (statement_timeout), or it failed before its statement was sent.
 */
export function postgresNotApplied(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { notApplied?: boolean }).notApplied === true) return true;
    const code = String((e as { code?: unknown }).code ?? "");
    const state = (e as { errno?: unknown }).errno;
    if (code === "ERR_POSTGRES_CONNECTION_REFUSED" || code === "ECONNREFUSED" || tlsCodes.test(code) || /failed to connect/i.test(e.message)) return true;
    if (typeof state === "string" && (state === "57014" || state === "53300" || state === "57P03" || state.startsWith("28"))) return true;
  }
  return false;
}
