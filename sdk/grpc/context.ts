import type { Metadata } from "@grpc/grpc-js";

/** What a handler knows about the call it serves, besides the request message. */
export interface CallContext {
  /** Full method path, e.g. /prism.interfaces.keyvalue.KeyValueBasicInterface/Get. */
  readonly path: string;
  /** Incoming request metadata (headers). */
  readonly metadata: Metadata;
  /** Aborted when the client cancels, the deadline passes or the server shuts down. */
  readonly signal: AbortSignal;
  /** Absolute deadline in ms since epoch, Infinity when none. */
  readonly deadline: number;
  /** The namespace named by x-prism-namespace, "default" when absent. */
  readonly namespace: string;
}

export const NAMESPACE_HEADER = "x-prism-namespace";
export const DEFAULT_NAMESPACE = "default";

/** The namespace a call names in its metadata. */
export function namespaceOf(md: Metadata): string {
  const v = md.get(NAMESPACE_HEADER)[0];
  return typeof v === "string" && v.length > 0 ? v : DEFAULT_NAMESPACE;
}
