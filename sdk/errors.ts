/**
 * The error every layer throws and the status codes it carries, independent of
 * any transport. Codes are numbered as gRPC numbers them (contract §5) so the
 * server boundary (sdk/grpc/errors.ts, the one place that maps to a gRPC
 * status) answers with the right status without guessing from message text.
 */

/** Status codes, numbered as gRPC numbers them. The one code enum of the project. */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

const codeNames = Object.fromEntries(Object.entries(Code).map(([k, v]) => [v, k])) as Record<number, string>;

/** The name of a status code, e.g. "NOT_FOUND", as used in metric labels. */
export function codeName(code: number): string {
  return codeNames[code] ?? "UNKNOWN";
}

/** A status as a remote peer reported it: a numeric code and its details (a gRPC ServiceError has this shape). */
interface RemoteStatus {
  code: number;
  details?: string;
  message: string;
}

function isRemoteStatus(err: unknown): err is RemoteStatus {
  return typeof err === "object" && err !== null && typeof (err as RemoteStatus).code === "number" && "details" in err;
}

/** The error every layer throws: a status code, a message and optional trailing metadata. */
export class PrismError extends Error {
  override readonly name = "PrismError";
  readonly code: Code;
  readonly metadata?: Record<string, string>;

  constructor(code: Code, message: string, options?: { cause?: unknown; metadata?: Record<string, string> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.metadata = options?.metadata;
  }

  /** Turns anything thrown into a PrismError; a remote status (gRPC service error) keeps its code. */
  static from(err: unknown, fallback: Code = Code.INTERNAL): PrismError {
    if (err instanceof PrismError) return err;
    if (isRemoteStatus(err)) return new PrismError(err.code as Code, err.details || err.message, { cause: err });
    if (err instanceof Error) {
      if (err.name === "AbortError") return new PrismError(Code.CANCELLED, "call cancelled", { cause: err });
      if (err.name === "TimeoutError") return new PrismError(Code.DEADLINE_EXCEEDED, err.message, { cause: err });
      return new PrismError(fallback, err.message, { cause: err });
    }
    return new PrismError(fallback, String(err));
  }
}

export const invalidArgument = (msg: string) => new PrismError(Code.INVALID_ARGUMENT, msg);
export const notFound = (msg: string) => new PrismError(Code.NOT_FOUND, msg);
export const unavailable = (msg: string, cause?: unknown) => new PrismError(Code.UNAVAILABLE, msg, { cause });
export const unimplemented = (msg: string) => new PrismError(Code.UNIMPLEMENTED, msg);
export const resourceExhausted = (msg: string) => new PrismError(Code.RESOURCE_EXHAUSTED, msg);
