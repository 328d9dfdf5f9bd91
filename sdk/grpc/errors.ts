import { status as GrpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";

/** gRPC status codes, numbered as gRPC numbers them. The one code enum of the project. */
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

/**
 * The error every layer throws. Carries a gRPC code so that the server boundary
 * can answer with the right status without guessing from message text.
 */
export class PrismError extends Error {
  override readonly name = "PrismError";
  readonly code: Code;
  readonly metadata?: Record<string, string>;

  constructor(code: Code, message: string, options?: { cause?: unknown; metadata?: Record<string, string> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.metadata = options?.metadata;
  }

  /** Turns anything thrown into a PrismError; gRPC service errors keep their code. */
  static from(err: unknown, fallback: Code = Code.INTERNAL): PrismError {
    if (err instanceof PrismError) return err;
    if (isServiceError(err)) return new PrismError(err.code as Code, err.details || err.message, { cause: err });
    if (err instanceof Error) {
      if (err.name === "AbortError") return new PrismError(Code.CANCELLED, "call cancelled", { cause: err });
      if (err.name === "TimeoutError") return new PrismError(Code.DEADLINE_EXCEEDED, err.message, { cause: err });
      return new PrismError(fallback, err.message, { cause: err });
    }
    return new PrismError(fallback, String(err));
  }

  /** The shape grpc-js sends as a status (code, details, trailing metadata). */
  toStatus(): Partial<ServiceError> {
    const md = new Metadata();
    if (this.metadata) for (const [k, v] of Object.entries(this.metadata)) md.set(k, v);
    return { code: this.code as unknown as GrpcStatus, details: this.message, metadata: md };
  }
}

function isServiceError(err: unknown): err is ServiceError {
  return typeof err === "object" && err !== null && typeof (err as ServiceError).code === "number" && "details" in err;
}

export const invalidArgument = (msg: string) => new PrismError(Code.INVALID_ARGUMENT, msg);
export const notFound = (msg: string) => new PrismError(Code.NOT_FOUND, msg);
export const unavailable = (msg: string, cause?: unknown) => new PrismError(Code.UNAVAILABLE, msg, { cause });
export const unimplemented = (msg: string) => new PrismError(Code.UNIMPLEMENTED, msg);
export const resourceExhausted = (msg: string) => new PrismError(Code.RESOURCE_EXHAUSTED, msg);
