import { Code, PrismError } from "@prism/sdk";

/** Protocol errors that are the caller's fault, by kafkajs error type. */
const callerErrors: Record<string, Code> = {
  MESSAGE_TOO_LARGE: Code.INVALID_ARGUMENT,
  RECORD_LIST_TOO_LARGE: Code.INVALID_ARGUMENT,
  INVALID_TOPIC_EXCEPTION: Code.INVALID_ARGUMENT,
  INVALID_RECORD: Code.INVALID_ARGUMENT,
  OFFSET_OUT_OF_RANGE: Code.OUT_OF_RANGE,
  TOPIC_AUTHORIZATION_FAILED: Code.PERMISSION_DENIED,
  GROUP_AUTHORIZATION_FAILED: Code.PERMISSION_DENIED,
  CLUSTER_AUTHORIZATION_FAILED: Code.PERMISSION_DENIED,
  SASL_AUTHENTICATION_FAILED: Code.UNAUTHENTICATED,
  POLICY_VIOLATION: Code.FAILED_PRECONDITION,
};

interface KafkaJsError extends Error {
  retriable?: boolean;
  type?: string;
  cause?: unknown;
}

function rootCause(err: KafkaJsError): KafkaJsError {
  let e = err;
  for (let i = 0; i < 10 && e.cause instanceof Error; i++) e = e.cause as KafkaJsError;
  return e;
}

/**
 * Turns a kafkajs error into a PrismError: connection failures, timeouts and retriable broker errors are
 * UNAVAILABLE (safe to retry); a few protocol errors are the caller's; everything else is INTERNAL.
 */
export function toPrismError(err: unknown, what: string): PrismError {
  if (err instanceof PrismError) return err;
  if (!(err instanceof Error)) return new PrismError(Code.INTERNAL, `${what}: ${String(err)}`);
  if (err.name === "AbortError") return PrismError.from(err);
  // createTopics reports per-topic errors in a KafkaJSAggregateError; the first one says why.
  const inner = (err as { errors?: unknown[] }).errors?.[0];
  if (inner instanceof Error) return toPrismError(inner, what);
  const root = rootCause(err as KafkaJsError);
  const type = root.type ?? (err as KafkaJsError).type;
  if (type && type in callerErrors) return new PrismError(callerErrors[type]!, `${what}: ${root.message}`, { cause: err });
  const name = root.name;
  // Refused credentials: the backend is unusable until its operator or the config changes; nothing was applied.
  if (/SASLAuthentication|SASL_AUTHENTICATION_FAILED|ILLEGAL_SASL_STATE|UNSUPPORTED_SASL_MECHANISM/.test(`${name} ${type ?? ""} ${err.name}`)) {
    return new PrismError(Code.UNAVAILABLE, `${what}: kafka refused the credentials (SASL authentication failed)`, { cause: err });
  }
  const transient =
    root.retriable === true ||
    (err as KafkaJsError).retriable === true ||
    err.name === "KafkaJSNumberOfRetriesExceeded" ||
    /Connection|Timeout|BrokerNotFound|LockTimeout|MetadataNotLoaded|ECONN|EPIPE|closed/i.test(`${name} ${root.message}`);
  if (transient) return new PrismError(Code.UNAVAILABLE, `${what}: kafka unavailable: ${root.message}`, { cause: err });
  return new PrismError(Code.INTERNAL, `${what}: ${root.message}`, { cause: err });
}

/** True when an error (or one it wraps) says the topic does not exist, e.g. it was deleted behind the pattern's back. */
export function isUnknownTopic(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 10 && e instanceof Error; i++) {
    const k = e as KafkaJsError;
    if (k.type === "UNKNOWN_TOPIC_OR_PARTITION" || /does not host this topic-partition/.test(k.message)) return true;
    e = k.cause;
  }
  return false;
}

/**
 * True when a failed write certainly had no effect: the broker answered it with an error, or no connection
 * could be made to send it on (refused, unresolvable). A produce request that timed out, or whose connection
 * dropped before the acknowledgement, may have been written.
 */
export function kafkaNotApplied(err: unknown): boolean {
  if (err instanceof PrismError)
    return err.code !== Code.UNAVAILABLE && err.code !== Code.UNKNOWN && err.code !== Code.DEADLINE_EXCEEDED
      ? true
      : err.cause !== undefined && kafkaNotApplied(err.cause);
  if (!(err instanceof Error)) return false;
  for (let e: unknown = err, i = 0; i < 10 && e instanceof Error; i++, e = (e as KafkaJsError).cause) {
    const k = e as KafkaJsError & { code?: string };
    if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH/.test(`${k.code ?? ""} ${k.message}`)) return true;
    // A protocol error code in the broker's reply (not a timeout, not a lost connection).
    if (k.name === "KafkaJSProtocolError" && k.type !== "REQUEST_TIMED_OUT" && k.type !== "NOT_ENOUGH_REPLICAS_AFTER_APPEND") return true;
  }
  return false;
}
