import { status as GrpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";
import { redact } from "../config/secrets";
import { PrismError } from "../errors";

/**
 * The one place a PrismError becomes a gRPC status. The error type and codes
 * live in sdk/errors.ts (transport-neutral); they are re-exported here so
 * existing imports of sdk/grpc/errors keep working.
 */
export {
  Code,
  codeName,
  invalidArgument,
  notFound,
  PrismError,
  resourceExhausted,
  unavailable,
  unimplemented,
} from "../errors";

/** The status grpc-js sends for anything thrown: code, details and trailing metadata. */
export function toGrpcStatus(err: unknown): ServiceError {
  const e = PrismError.from(err);
  const md = new Metadata();
  if (e.metadata) for (const [k, v] of Object.entries(e.metadata)) md.set(k, v);
  // Secrets from {file} / {env} config never reach a caller.
  const message = redact(e.message);
  return { name: e.name, message, code: e.code as unknown as GrpcStatus, details: message, metadata: md };
}
