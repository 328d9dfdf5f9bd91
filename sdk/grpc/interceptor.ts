import type { DescMethod } from "@bufbuild/protobuf";
import type { CallContext } from "./context";

/** One server call as interceptors see it: which method, its context, its request. */
export interface ServerCall {
  readonly method: DescMethod;
  readonly ctx: CallContext;
  /** The decoded request (unary, server-streaming) or the request stream (client/bidi). */
  readonly request: unknown;
}

/** The result of a call: a response (unary) or a stream of responses. */
export type CallResult = Promise<unknown> | AsyncIterable<unknown>;

export type CallHandler = (call: ServerCall) => CallResult;

/**
 * A layer around every call of a server: metrics, tracing, limits and auth are
 * written once as interceptors rather than in each handler.
 */
export type Interceptor = (next: CallHandler) => CallHandler;

export function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return typeof x === "object" && x !== null && Symbol.asyncIterator in x;
}

/** Applies interceptors so that the first one listed is the outermost. */
export function chain(handler: CallHandler, interceptors: readonly Interceptor[]): CallHandler {
  let h = handler;
  for (let i = interceptors.length - 1; i >= 0; i--) h = interceptors[i]!(h);
  return h;
}
