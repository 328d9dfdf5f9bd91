import type { DescService } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { type CallContext, namespaceOf } from "./context";
import { MalformedRequest, serviceDefinition } from "./definition";
import { invalidArgument, toGrpcStatus } from "./errors";
import { chain, isAsyncIterable, type CallHandler, type Interceptor, type ServerCall } from "./interceptor";
import type { ServiceImpl } from "./types";

type AnyHandler = (req: unknown, ctx: CallContext) => unknown;

function deadlineMs(d: grpc.Deadline): number {
  if (d instanceof Date) return d.getTime();
  return d;
}

interface SurfaceCall {
  readonly metadata: grpc.Metadata;
  getDeadline(): grpc.Deadline;
  on(event: "cancelled", listener: () => void): unknown;
}

/**
 * The context of one call. The AbortSignal is made on first use: most unary
 * handlers never look at it, and the hot path should not pay for it.
 */
class ServerCallContext implements CallContext {
  readonly metadata: grpc.Metadata;
  readonly deadline: number;
  readonly namespace: string;
  private abort?: AbortController;

  constructor(
    private readonly call: SurfaceCall & { readonly cancelled?: boolean },
    readonly path: string,
  ) {
    this.metadata = call.metadata;
    this.deadline = deadlineMs(call.getDeadline());
    this.namespace = namespaceOf(call.metadata);
  }

  get signal(): AbortSignal {
    if (!this.abort) {
      const ac = new AbortController();
      this.abort = ac;
      if (this.call.cancelled) ac.abort();
      else this.call.on("cancelled", () => ac.abort());
    }
    return this.abort.signal;
  }
}

/**
 * Writes a response stream to a grpc-js call, honouring back-pressure and cancellation. The source is asked for
 * its next message only while the call is still live: a generator resumes after its `yield` only once the message
 * was written to a call that was not cancelled meanwhile (durable subscriptions count a message handed over there,
 * and commit it), and is returned, not resumed, when the client went away.
 */
async function pump(
  call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>,
  source: AsyncIterable<unknown>,
  signal: AbortSignal,
): Promise<void> {
  const it = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    while (!signal.aborted) {
      const r = await it.next();
      if (r.done) {
        finished = true;
        break;
      }
      if (signal.aborted) break;
      if (!call.write(r.value)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            call.off("drain", done);
            signal.removeEventListener("abort", done);
            resolve();
          };
          call.on("drain", done);
          signal.addEventListener("abort", done);
        });
      }
    }
    if (!signal.aborted) call.end();
  } catch (err) {
    finished = true;
    if (!signal.aborted) call.emit("error", toGrpcStatus(err));
  } finally {
    if (!finished) await it.return?.();
  }
}

/**
 * Registers a generated service on a grpc-js server. Every call passes through the
 * interceptors; anything a handler throws becomes a gRPC status via toGrpcStatus (sdk/grpc/errors.ts).
 */
export function addService<S extends DescService>(server: grpc.Server, service: S, impl: ServiceImpl<S>, interceptors: readonly Interceptor[] = []): void {
  const def = serviceDefinition(service);
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const fn = (impl as Record<string, AnyHandler>)[method.localName];
    if (typeof fn !== "function") continue;
    const path = def[method.localName]!.path;
    // Interceptors see a promise or a stream whatever the handler returned.
    const invoke: CallHandler = (call) => {
      if (call.request instanceof MalformedRequest) throw invalidArgument(call.request.message);
      const out = fn.call(impl, call.request, call.ctx);
      return out instanceof Promise || isAsyncIterable(out) ? out : Promise.resolve(out);
    };
    const handler = chain(invoke, interceptors);
    switch (method.methodKind) {
      case "unary":
        handlers[method.localName] = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
          const ctx = new ServerCallContext(call, path);
          const sc: ServerCall = { method, ctx, request: call.request };
          let result;
          try {
            result = handler(sc) as Promise<unknown>;
          } catch (err) {
            cb(toGrpcStatus(err));
            return;
          }
          Promise.resolve(result).then(
            (res) => cb(null, res),
            (err) => cb(toGrpcStatus(err)),
          );
        };
        break;
      case "server_streaming":
        handlers[method.localName] = (call: grpc.ServerWritableStream<unknown, unknown>) => {
          const ctx = new ServerCallContext(call, path);
          runStream(call, handler, { method, ctx, request: call.request }, ctx.signal);
        };
        break;
      case "bidi_streaming":
        handlers[method.localName] = (call: grpc.ServerDuplexStream<unknown, unknown>) => {
          const ctx = new ServerCallContext(call, path);
          runStream(call, handler, { method, ctx, request: requestStream(call) }, ctx.signal);
        };
        break;
      case "client_streaming":
        handlers[method.localName] = (call: grpc.ServerReadableStream<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
          const ctx = new ServerCallContext(call, path);
          Promise.resolve()
            .then(() => handler({ method, ctx, request: requestStream(call) }))
            .then(
              (res) => cb(null, res),
              (err) => cb(toGrpcStatus(err)),
            );
        };
        break;
    }
  }
  server.addService(def, handlers);
}

/**
 * The request side of a client/bidi call as an async iterable. A plain for-await
 * over the call would destroy it when the loop ends, killing the response side
 * before the handler could finish it.
 */
function requestStream(call: grpc.ServerReadableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>): AsyncIterable<unknown> {
  return {
    [Symbol.asyncIterator]: () => {
      const it = call.iterator({ destroyOnReturn: false });
      return {
        async next() {
          const r = await it.next();
          // A message that does not decode ends the handler's loop with INVALID_ARGUMENT.
          if (!r.done && r.value instanceof MalformedRequest) throw invalidArgument(r.value.message);
          return r;
        },
        return: () => it.return?.(undefined) ?? Promise.resolve({ done: true as const, value: undefined }),
      };
    },
  };
}

function runStream(
  call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>,
  handler: CallHandler,
  sc: ServerCall,
  signal: AbortSignal,
): void {
  let out;
  try {
    out = handler(sc);
  } catch (err) {
    call.emit("error", toGrpcStatus(err));
    return;
  }
  if (isAsyncIterable(out)) {
    void pump(call, out, signal);
  } else {
    Promise.resolve(out).then(
      () => call.end(),
      (err) => call.emit("error", toGrpcStatus(err)),
    );
  }
}
