import { ServerReflection } from "../../proto/gen/grpc/reflection/v1/reflection_pb";
import { CLIENT_SERVICES } from "../client_services";

/** Whether a call may last (a stream) or is one request and one answer. */
export type CallKind = "unary" | "stream";

const KNOWN = [...CLIENT_SERVICES, ServerReflection];

const UNARY_PATHS: ReadonlySet<string> = new Set(
  KNOWN.flatMap((s) => s.methods.filter((m) => m.methodKind === "unary").map((m) => `/${s.typeName}/${m.name}`)),
);

/** Unary for a method Prism's protos declare unary; any other path (streams, methods unknown here) may last. */
export function callKind(path: string): CallKind {
  return UNARY_PATHS.has(path) ? "unary" : "stream";
}
