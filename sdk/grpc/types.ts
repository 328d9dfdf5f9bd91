import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { CallContext } from "./context";

type MethodsOf<S> = S extends GenService<infer M extends GenServiceMethods> ? M : never;

/** A message or a plain object that initialises one; both are accepted as responses. */
export type Reply<O extends DescMessage> = MessageInitShape<O>;

type HandlerFor<M> = M extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? (req: MessageShape<I>, ctx: CallContext) => Promise<Reply<O>> | Reply<O>
  : M extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (req: MessageShape<I>, ctx: CallContext) => AsyncIterable<Reply<O>>
    : M extends { methodKind: "client_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? (reqs: AsyncIterable<MessageShape<I>>, ctx: CallContext) => Promise<Reply<O>>
      : M extends { methodKind: "bidi_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? (reqs: AsyncIterable<MessageShape<I>>, ctx: CallContext) => AsyncIterable<Reply<O>>
        : never;

/** The handlers that implement a generated service, keyed by method local name. */
export type ServiceImpl<S> = { [K in keyof MethodsOf<S>]: HandlerFor<MethodsOf<S>[K]> };

/** Per-call options a client may pass. */
export interface CallOptions {
  metadata?: Record<string, string>;
  /** Relative timeout in ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

type ClientMethodFor<M> = M extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? (req: MessageInitShape<I>, opts?: CallOptions) => Promise<MessageShape<O>>
  : M extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (req: MessageInitShape<I>, opts?: CallOptions) => AsyncIterable<MessageShape<O>>
    : M extends { methodKind: "client_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? (reqs: AsyncIterable<MessageInitShape<I>>, opts?: CallOptions) => Promise<MessageShape<O>>
      : M extends { methodKind: "bidi_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? (reqs: AsyncIterable<MessageInitShape<I>>, opts?: CallOptions) => AsyncIterable<MessageShape<O>>
        : never;

/** A promise/async-iterable client of a generated service. */
export type ServiceClient<S> = { [K in keyof MethodsOf<S>]: ClientMethodFor<MethodsOf<S>[K]> };
