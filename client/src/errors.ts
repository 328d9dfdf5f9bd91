import { Code, codeName } from "../../sdk/errors";

export { Code, codeName };

/**
 * Why a call failed, in Prism's terms (a closed set a program can switch on; the gRPC code says how, this says why):
 * - `unsupported`: the namespace's backend cannot do the operation (refused locally from its capabilities, or by the server);
 * - `not_served`: the namespace does not serve the pattern at all;
 * - `version_conflict`: a conditional write found another version (the current one is in `currentVersion`);
 * - `not_found`: the thing the call names does not exist (a session, …; a missing key-value key is a reply, not an error);
 * - `outcome_unknown`: a write was sent and no reply came: it may have been applied (retry it with the same idempotency key);
 * - `unavailable`: nothing was applied, retrying is safe; `namespace_not_found`; `invalid_argument`; `exhausted`;
 *   `unauthenticated`; `permission_denied`; `deadline`; `cancelled`; `failed` (anything else).
 */
export type Reason =
  | "unsupported"
  | "not_served"
  | "version_conflict"
  | "not_found"
  | "outcome_unknown"
  | "unavailable"
  | "namespace_not_found"
  | "invalid_argument"
  | "exhausted"
  | "unauthenticated"
  | "permission_denied"
  | "deadline"
  | "cancelled"
  | "failed";

/** Trailing metadata a server may send with a failure: Prism's reason when it names one, the current version on ABORTED. */
export const REASON_HEADER = "x-prism-reason";
export const CURRENT_VERSION_HEADER = "x-prism-current-version";

/** The one error the client throws: the gRPC code, Prism's reason, the server's message and trailers. */
export class PrismClientError extends Error {
  override readonly name = "PrismClientError";
  readonly code: Code;
  readonly reason: Reason;
  /** The server's message (also `message`); named like a gRPC status so status-shaped handlers keep the code. */
  readonly details: string;
  /** Trailing metadata of the failed call (first value of each key). */
  readonly metadata: Record<string, string>;
  /** The backend named by a capability refusal. */
  readonly backend?: string;

  constructor(code: Code, message: string, options: { reason?: Reason; metadata?: Record<string, string>; backend?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = message;
    this.metadata = options.metadata ?? {};
    this.backend = options.backend;
    this.reason = options.reason ?? reasonOf(code, message, this.metadata);
  }

  /** "NOT_FOUND", "UNAVAILABLE", … */
  get codeName(): string {
    return codeName(this.code);
  }

  /** On a version_conflict: the key's current version ("" = the key does not exist). */
  get currentVersion(): string | undefined {
    return this.metadata[CURRENT_VERSION_HEADER];
  }

  /** Anything thrown by grpc-js, the SDK's plumbing or this client, as a PrismClientError. */
  static from(err: unknown): PrismClientError {
    if (err instanceof PrismClientError) return err;
    const e = err as { code?: unknown; details?: unknown; message?: unknown; name?: unknown; metadata?: unknown; cause?: unknown };
    if (typeof e === "object" && e !== null && typeof e.code === "number") {
      // sdk PrismError wraps the grpc-js ServiceError as its cause: the trailers are there.
      const status = (typeof e.cause === "object" && e.cause !== null && "metadata" in e.cause ? e.cause : e) as { metadata?: unknown };
      const message = typeof e.details === "string" && e.details !== "" ? e.details : String(e.message ?? "");
      return new PrismClientError(e.code as Code, message, { metadata: trailersOf(status.metadata), cause: err });
    }
    if (err instanceof Error && err.name === "AbortError") return new PrismClientError(Code.CANCELLED, "call cancelled", { cause: err });
    if (err instanceof Error) return new PrismClientError(Code.INTERNAL, err.message, { cause: err });
    return new PrismClientError(Code.INTERNAL, String(err));
  }
}

function trailersOf(md: unknown): Record<string, string> {
  const map = (md as { getMap?: () => Record<string, unknown> } | undefined)?.getMap?.();
  if (map === undefined) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) out[k] = typeof v === "string" ? v : Buffer.from(v as Uint8Array).toString("base64");
  return out;
}

const BY_CODE: Partial<Record<Code, Reason>> = {
  [Code.UNAVAILABLE]: "unavailable",
  [Code.INVALID_ARGUMENT]: "invalid_argument",
  [Code.RESOURCE_EXHAUSTED]: "exhausted",
  [Code.UNAUTHENTICATED]: "unauthenticated",
  [Code.PERMISSION_DENIED]: "permission_denied",
  [Code.UNIMPLEMENTED]: "unsupported",
  [Code.CANCELLED]: "cancelled",
};

/** Prism's reason from a status: its x-prism-reason trailer when sent, else from the code and the message of contract §5. */
export function reasonOf(code: Code, message: string, metadata: Record<string, string>): Reason {
  const sent = metadata[REASON_HEADER];
  if (sent) return sent as Reason;
  if (code === Code.ABORTED && CURRENT_VERSION_HEADER in metadata) return "version_conflict";
  if (code === Code.NOT_FOUND) return /namespace/i.test(message) ? "namespace_not_found" : "not_found";
  if ((code === Code.UNKNOWN || code === Code.DEADLINE_EXCEEDED) && /outcome is unknown|may have been applied/i.test(message)) return "outcome_unknown";
  if (code === Code.DEADLINE_EXCEEDED) return "deadline";
  return BY_CODE[code] ?? "failed";
}

/** UNIMPLEMENTED raised before calling: "<operation> not supported by <backend>: <why>" (the server's own wording). */
export function unsupported(operation: string, backend: string, why: string): PrismClientError {
  return new PrismClientError(Code.UNIMPLEMENTED, `${operation} not supported by ${backend}: ${why}`, { reason: "unsupported", backend });
}
