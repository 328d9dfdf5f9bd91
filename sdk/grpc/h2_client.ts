import { create, fromBinary, toBinary, type DescMessage, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import http2 from "node:http2";
import { Code, PrismError } from "./errors";
import { codeOfHttpStatus, codeOfReset, decodeGrpcMessage } from "./h2_status";
import type { CallOptions } from "./types";

/**
 * A unary-only gRPC client straight on `node:http2`, for callers whose own cost must stay out of what they
 * measure (prism-load): per call it sends one HEADERS block (cached per method and call options) and one
 * DATA frame, and decodes one reply; no interceptor chain, Metadata objects or per-call timers. Under Bun it
 * spends about a third of grpc-js's CPU per call and allocates correspondingly less, so the load generator's
 * garbage collections stop setting its send lag. Streaming methods stay on the grpc-js client (client.ts).
 */

type MethodsOf<S> = S extends GenService<infer M extends GenServiceMethods> ? M : never;
type UnaryKeys<S> = { [K in keyof MethodsOf<S>]: MethodsOf<S>[K] extends { methodKind: "unary" } ? K : never }[keyof MethodsOf<S>];
type UnaryMethod<M> = M extends { input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? (req: MessageInitShape<I>, opts?: CallOptions) => Promise<MessageShape<O>>
  : never;

/** The unary methods of a generated service, as promises. */
export type UnaryClient<S> = { [K in UnaryKeys<S>]: UnaryMethod<MethodsOf<S>[K]> };

/** Replies above this are refused (RESOURCE_EXHAUSTED), as the grpc-js clients' 16 MiB receive limit. */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/** How often calls past their deadline are looked for (one timer for all calls, not one per call). */
const DEADLINE_SWEEP_MS = 20;

export interface H2ChannelOptions {
  /** TLS to the target: trust this CA; verify this server name (default: the target's host). */
  tls?: { ca: Buffer; serverName?: string };
  /** A session that has not connected within this bound fails its calls UNAVAILABLE. */
  connectTimeoutMs?: number;
}

/** One HTTP/2 connection to a gRPC server, shared by every call and reopened lazily after it drops. */
export class H2Channel {
  private current: http2.ClientHttp2Session | undefined;
  private closed = false;
  private readonly url: string;
  private readonly pending = new Set<UnaryCall>();
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly target: string,
    private readonly opts: H2ChannelOptions = {},
  ) {
    this.url = `${opts.tls ? "https" : "http"}://${target}`;
  }

  session(): http2.ClientHttp2Session {
    const s = this.current;
    if (s !== undefined && !s.closed && !s.destroyed) return s;
    if (this.closed) throw new PrismError(Code.UNAVAILABLE, `the channel to ${this.target} is closed`);
    const tls = this.opts.tls;
    const session = http2.connect(this.url, tls ? { ca: tls.ca, ...(tls.serverName && { servername: tls.serverName }) } : {});
    const limit = this.opts.connectTimeoutMs ?? 5_000;
    const timer = setTimeout(() => {
      if (session.connecting) session.destroy(new Error(`no connection to ${this.target} within ${limit} ms`));
    }, limit);
    timer.unref?.();
    session.once("connect", () => clearTimeout(timer));
    // A session error reaches its streams (they fail UNAVAILABLE); unhandled it would end the process.
    session.on("error", () => undefined);
    const forget = () => {
      clearTimeout(timer);
      if (this.current === session) this.current = undefined;
    };
    session.once("close", forget);
    session.once("goaway", forget);
    session.unref?.();
    this.current = session;
    return session;
  }

  track(call: UnaryCall): void {
    this.pending.add(call);
    this.sweeper ??= setInterval(() => this.expire(), DEADLINE_SWEEP_MS);
    this.sweeper.unref?.();
  }

  untrack(call: UnaryCall): void {
    this.pending.delete(call);
    if (this.pending.size === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private expire(): void {
    const now = performance.now();
    for (const call of this.pending) if (call.deadline <= now) call.cancel(Code.DEADLINE_EXCEEDED, "deadline exceeded");
  }

  close(): void {
    this.closed = true;
    for (const call of this.pending) call.cancel(Code.CANCELLED, "the channel was closed");
    this.current?.close();
    this.current = undefined;
  }
}

/** Where a stream's handlers find their call (shared handlers, no per-call closures). */
const CALL = Symbol("prism.h2client.call");
type CallStream = http2.ClientHttp2Stream & { [CALL]: UnaryCall };

/** The state of one call in flight. */
class UnaryCall {
  readonly chunks: Buffer[] = [];
  bytes = 0;
  code: Code | undefined;
  message = "";
  /** The response's HTTP status was not 200: its mapping stands, whatever trailers say. */
  httpFailed = false;
  error: Error | undefined;
  done = false;
  readonly deadline: number;

  constructor(
    readonly channel: H2Channel,
    readonly stream: http2.ClientHttp2Stream,
    readonly output: DescMessage,
    readonly label: string,
    timeoutMs: number,
    private readonly resolve: (v: unknown) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    this.deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Infinity;
  }

  /** Ends the call locally with this status and resets its stream. */
  cancel(code: Code, message: string): void {
    if (this.done) return;
    this.fail(code, `${this.label}: ${message}`);
    if (!this.stream.closed && !this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  fail(code: Code, message: string): void {
    if (this.done) return;
    this.done = true;
    this.channel.untrack(this);
    this.reject(new PrismError(code, message));
  }

  /** The stream closed: settle from the status it carried, or from how it ended. */
  finish(): void {
    if (this.done) return;
    const code = this.code;
    if (code === undefined) {
      const rst = this.stream.rstCode ?? 0;
      const session = this.stream.session;
      // The connection went away under the call (or refused it): it never got a status.
      const lost =
        session === undefined ||
        session.destroyed ||
        session.closed ||
        rst === http2.constants.NGHTTP2_REFUSED_STREAM ||
        (rst === 0 && this.error !== undefined);
      if (lost) return this.fail(Code.UNAVAILABLE, `${this.label}: ${this.error?.message ?? "the connection was lost"}`);
      if (rst !== 0) return this.fail(codeOfReset(rst), `${this.label}: the server reset the call (HTTP/2 error code ${rst})`);
      return this.fail(Code.INTERNAL, `${this.label}: the call ended without a status`);
    }
    if (code !== Code.OK) return this.fail(code, this.message);
    let reply: unknown;
    try {
      reply = fromBinary(this.output, this.body());
    } catch (err) {
      return this.fail(Code.INTERNAL, `${this.label}: ${(err as Error).message}`);
    }
    this.done = true;
    this.channel.untrack(this);
    this.resolve(reply);
  }

  /** The one message of a unary reply, without its 5-byte gRPC frame header. */
  private body(): Uint8Array {
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
    if (buf.length < 5) throw new Error("the reply held no message");
    if (buf[0] !== 0) throw new Error("the reply is compressed, which this client did not ask for");
    const len = buf.readUInt32BE(1);
    if (buf.length !== 5 + len) throw new Error(buf.length < 5 + len ? "the reply's message is truncated" : "a unary reply held more than one message");
    return buf.subarray(5);
  }
}

function onResponse(this: CallStream, headers: http2.IncomingHttpHeaders): void {
  const call = this[CALL];
  const status = Number(headers[":status"]);
  if (status !== 200) {
    call.httpFailed = true;
    call.code = codeOfHttpStatus(status);
    call.message = `${call.label}: HTTP status ${status}`;
    return;
  }
  // Trailers-only: the status comes in the response headers.
  if (headers["grpc-status"] !== undefined) onTrailers.call(this, headers);
}

function onData(this: CallStream, chunk: Buffer): void {
  const call = this[CALL];
  call.bytes += chunk.length;
  if (call.bytes > MAX_REPLY_BYTES + 5) return call.cancel(Code.RESOURCE_EXHAUSTED, `the reply exceeds ${MAX_REPLY_BYTES} bytes`);
  call.chunks.push(chunk);
}

function onTrailers(this: CallStream, trailers: http2.IncomingHttpHeaders): void {
  const call = this[CALL];
  if (call.httpFailed) return;
  const code = Number(trailers["grpc-status"]);
  call.code = Number.isInteger(code) && code >= 0 && code <= 16 ? (code as Code) : Code.UNKNOWN;
  call.message = decodeGrpcMessage(trailers["grpc-message"]);
}

function onError(this: CallStream, err: Error): void {
  this[CALL].error = err;
}

function onClose(this: CallStream): void {
  this[CALL].finish();
}

function onAbort(call: UnaryCall): void {
  call.cancel(Code.CANCELLED, "cancelled by the caller");
}

/** Request headers per method and per call-options object (callers reuse one options object for every call). */
function headersFor(path: string, authority: string, cache: WeakMap<CallOptions, http2.OutgoingHttpHeaders>, opts: CallOptions | undefined) {
  const key = opts ?? NO_OPTIONS;
  let h = cache.get(key);
  if (h !== undefined) return h;
  h = { ":method": "POST", ":path": path, ":authority": authority, "content-type": "application/grpc", te: "trailers" };
  if (opts?.metadata) for (const [k, v] of Object.entries(opts.metadata)) h[k.toLowerCase()] = v;
  if (opts?.timeoutMs) h["grpc-timeout"] = `${Math.max(1, Math.ceil(opts.timeoutMs))}m`;
  cache.set(key, h);
  return h;
}
const NO_OPTIONS: CallOptions = {};

/** A typed unary client of any generated service, on one H2Channel. */
export function createUnaryClient<S extends DescService>(service: S, channel: H2Channel): UnaryClient<S> {
  const client: Record<string, unknown> = {};
  for (const method of service.methods) {
    if (method.methodKind !== "unary") continue;
    const path = `/${service.typeName}/${method.name}`;
    const label = `${service.name}/${method.name}`;
    const { input, output } = method;
    const headerCache = new WeakMap<CallOptions, http2.OutgoingHttpHeaders>();
    client[method.localName] = (req: MessageInitShape<DescMessage>, opts?: CallOptions) =>
      new Promise((resolve, reject) => {
        if (opts?.signal?.aborted) return reject(new PrismError(Code.CANCELLED, `${label}: cancelled before it started`));
        let stream: http2.ClientHttp2Stream;
        let frame: Buffer;
        try {
          const msg = "$typeName" in req ? req : create(input, req);
          const bytes = toBinary(input, msg as MessageShape<DescMessage>);
          frame = Buffer.allocUnsafe(5 + bytes.length);
          frame[0] = 0;
          frame.writeUInt32BE(bytes.length, 1);
          frame.set(bytes, 5);
          stream = channel.session().request(headersFor(path, channel.target, headerCache, opts), { endStream: false });
        } catch (err) {
          return reject(err instanceof PrismError ? err : new PrismError(Code.UNAVAILABLE, `${label}: ${(err as Error).message}`));
        }
        const call = new UnaryCall(channel, stream, output, label, opts?.timeoutMs ?? 0, resolve, reject);
        (stream as CallStream)[CALL] = call;
        channel.track(call);
        stream.on("response", onResponse);
        stream.on("data", onData);
        stream.on("trailers", onTrailers);
        stream.on("error", onError);
        stream.on("close", onClose);
        if (opts?.signal) opts.signal.addEventListener("abort", () => onAbort(call), { once: true });
        stream.end(frame);
      });
  }
  return client as UnaryClient<S>;
}
