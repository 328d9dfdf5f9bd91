import type { DescService } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { serviceDefinition } from "./definition";
import { Code, PrismError } from "../errors";
import type { CallOptions, ServiceClient } from "./types";

/**
 * The receive window a client announces, per stream and for the connection (HTTP/2's default is 64 KiB). Bun's
 * node:http2 server (1.4.4) starves the streams whose DATA it had to queue once the connection window ran out:
 * window that comes back goes to streams written later, so with many calls in flight and responses that add
 * up past the window (64 Scan pages of 12 KB), some calls got their headers and then nothing until their
 * deadline. With 4 MiB (the proxy's own stream window) the window does not run out at that load.
 */
export const CLIENT_WINDOW = 4 * 1024 * 1024;

/** Default channel options: keep connections open and multiplexed, allow 16 MiB messages, a 4 MiB window. */
export const channelOptions: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.max_send_message_length": 16 * 1024 * 1024,
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc-node.flow_control_window": CLIENT_WINDOW,
};

function metadataOf(opts: CallOptions | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (opts?.metadata) for (const [k, v] of Object.entries(opts.metadata)) md.set(k, v);
  return md;
}

function callOptionsOf(opts: CallOptions | undefined): grpc.CallOptions {
  return opts?.timeoutMs ? { deadline: Date.now() + opts.timeoutMs } : {};
}

/** Turns a grpc-js readable call into an async iterable that cancels the call on early exit. */
async function* readStream<T>(call: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>, signal?: AbortSignal): AsyncIterable<T> {
  if (signal?.aborted) {
    call.cancel();
    throw cancelledBeforeStart();
  }
  const onAbort = () => call.cancel();
  signal?.addEventListener("abort", onAbort);
  let finished = false;
  try {
    for await (const msg of call as AsyncIterable<T>) yield msg;
    finished = true;
  } catch (err) {
    finished = true;
    throw PrismError.from(err);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!finished) call.cancel();
  }
}

/** Writes a request stream with back-pressure; stops (and closes the source) when the call ends first. */
async function writeAll(call: grpc.ClientWritableStream<unknown>, source: AsyncIterable<unknown>): Promise<void> {
  let ended = false;
  const onEnd = () => (ended = true);
  call.once("close", onEnd);
  call.once("error", onEnd);
  try {
    for await (const msg of source) {
      if (ended) break;
      if (!call.write(msg)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            call.off("drain", go);
            call.off("close", go);
            resolve();
          };
          call.once("drain", go);
          call.once("close", go);
        });
      }
    }
    if (!ended) call.end();
  } catch {
    call.cancel();
  } finally {
    call.off("close", onEnd);
    call.off("error", onEnd);
  }
}

/** The error a call cancelled before it started rejects with. */
function cancelledBeforeStart(): PrismError {
  return new PrismError(Code.CANCELLED, "call cancelled before it started");
}

export interface ClientHandle<S> {
  /** The typed promise client. */
  readonly client: ServiceClient<S>;
  /** The underlying grpc-js client (for waitForReady or channel state). */
  readonly raw: grpc.Client;
  close(): void;
}

/**
 * Creates a typed client for any generated service, on a new channel or on the
 * channel of an existing client (so several services share one connection).
 */
export function createClient<S extends DescService>(
  service: S,
  target: string | grpc.Client,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options?: grpc.ChannelOptions,
): ClientHandle<S> {
  const def = serviceDefinition(service);
  const raw =
    typeof target === "string"
      ? new grpc.Client(target, credentials, options ? { ...channelOptions, ...options } : channelOptions)
      : new grpc.Client("unused", credentials, { channelOverride: target.getChannel() });
  const client: Record<string, unknown> = {};
  for (const method of service.methods) {
    const m = def[method.localName]!;
    const { path, requestSerialize: ser, responseDeserialize: de } = m;
    switch (method.methodKind) {
      case "unary":
        client[method.localName] = (req: unknown, opts?: CallOptions) =>
          new Promise((resolve, reject) => {
            if (opts?.signal?.aborted) return reject(cancelledBeforeStart());
            const call = raw.makeUnaryRequest(path, ser, de, req, metadataOf(opts), callOptionsOf(opts), (err, res) => {
              opts?.signal?.removeEventListener("abort", onAbort);
              if (err) reject(PrismError.from(err));
              else resolve(res);
            });
            const onAbort = () => call.cancel();
            opts?.signal?.addEventListener("abort", onAbort);
          });
        break;
      case "server_streaming":
        client[method.localName] = (req: unknown, opts?: CallOptions) =>
          readStream(raw.makeServerStreamRequest(path, ser, de, req, metadataOf(opts), callOptionsOf(opts)), opts?.signal);
        break;
      case "bidi_streaming":
        client[method.localName] = (reqs: AsyncIterable<unknown>, opts?: CallOptions) => {
          const call = raw.makeBidiStreamRequest(path, ser, de, metadataOf(opts), callOptionsOf(opts));
          void writeAll(call, reqs);
          return readStream(call, opts?.signal);
        };
        break;
      case "client_streaming":
        client[method.localName] = (reqs: AsyncIterable<unknown>, opts?: CallOptions) =>
          new Promise((resolve, reject) => {
            const call = raw.makeClientStreamRequest(path, ser, de, metadataOf(opts), callOptionsOf(opts), (err, res) =>
              err ? reject(PrismError.from(err)) : resolve(res),
            );
            void writeAll(call, reqs);
          });
        break;
    }
  }
  return { client: client as ServiceClient<S>, raw, close: () => raw.close() };
}
