import { create, fromBinary, toBinary, type DescMessage, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { type ClientStream, type H2ClientConnection, LazyConnection, parseTarget, type StreamListener } from "../index";
import { ERROR } from "../codec/frames";
import { encodeHeaderBlock } from "../codec/hpack";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { codeOfHttpStatus, codeOfReset, decodeGrpcMessage } from "./status";
import type { CallOptions } from "../../sdk/grpc/types";

/**
 * A unary-only gRPC client on Prism's own HTTP/2 client connection (h2/), for callers whose own cost must
 * stay out of what they measure (prism-load): per call it sends one prepared HEADERS block (built once per
 * method and call options) and the request in one DATA frame, in one buffer; no interceptor chain, Metadata
 * objects, per-call timers or stream objects. Streaming methods stay on the grpc-js client (client.ts).
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
  /** A connection that is not up within this bound fails its calls UNAVAILABLE. */
  connectTimeoutMs?: number;
}

/** One HTTP/2 connection to a gRPC server (host:port or unix:PATH), shared by every call and reopened lazily after it drops. */
export class H2Channel {
  private readonly conn: LazyConnection;
  private readonly pending = new Set<UnaryCall>();
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly target: string,
    private readonly opts: H2ChannelOptions = {},
  ) {
    const where = parseTarget(target);
    const tls = opts.tls && { ca: opts.tls.ca, servername: opts.tls.serverName ?? ("host" in where ? where.host : "localhost") };
    this.conn = new LazyConnection({ ...where, ...(tls && { tls }), connectTimeoutMs: opts.connectTimeoutMs ?? 5_000 });
  }

  /** The :scheme of requests on this channel. */
  get scheme(): "http" | "https" {
    return this.opts.tls ? "https" : "http";
  }

  connection(): H2ClientConnection {
    const c = this.conn.get();
    if (c === undefined) throw new PrismError(Code.UNAVAILABLE, `the channel to ${this.target} is closed`);
    return c;
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
    for (const call of this.pending) call.cancel(Code.CANCELLED, "the channel was closed");
    this.conn.close();
  }
}

/** The state of one call in flight; it is its stream's listener. */
class UnaryCall implements StreamListener {
  readonly chunks: Uint8Array[] = [];
  bytes = 0;
  httpStatus = 0;
  headersDone = false;
  code: Code | undefined;
  message = "";
  done = false;
  stream: ClientStream | undefined;
  conn: H2ClientConnection | undefined;
  readonly deadline: number;

  constructor(
    readonly channel: H2Channel,
    readonly output: DescMessage,
    readonly label: string,
    timeoutMs: number,
    private readonly resolve: (v: unknown) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    this.deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Number.POSITIVE_INFINITY;
  }

  /** Ends the call locally with this status and resets its stream. */
  cancel(code: Code, message: string): void {
    if (this.done) return;
    this.fail(code, `${this.label}: ${message}`);
    if (this.stream !== undefined) this.conn?.cancel(this.stream, ERROR.CANCEL);
  }

  fail(code: Code, message: string): void {
    if (this.done) return;
    this.done = true;
    this.channel.untrack(this);
    this.reject(new PrismError(code, message));
  }

  onField(name: string, value: string): void {
    if (name === "grpc-status") {
      const code = Number(value);
      this.code = Number.isInteger(code) && code >= 0 && code <= 16 ? (code as Code) : Code.UNKNOWN;
    } else if (name === "grpc-message") this.message = decodeGrpcMessage(value);
    else if (name === ":status" && !this.headersDone) this.httpStatus = Number(value);
  }

  onHeadersEnd(endStream: boolean): void {
    if (!this.headersDone) {
      this.headersDone = true;
      if (this.httpStatus !== 200) {
        // Not a gRPC response: the HTTP status decides, whatever follows.
        this.cancel(codeOfHttpStatus(this.httpStatus), `HTTP status ${this.httpStatus}`);
        return;
      }
    }
    if (endStream) this.finish();
  }

  onData(chunk: Uint8Array, endStream: boolean): void {
    if (this.done) return;
    this.bytes += chunk.length;
    if (this.bytes > MAX_REPLY_BYTES + 5) return this.cancel(Code.RESOURCE_EXHAUSTED, `the reply exceeds ${MAX_REPLY_BYTES} bytes`);
    this.chunks.push(chunk);
    if (endStream) this.finish();
  }

  onReset(code: number): void {
    // REFUSED_STREAM: the server did not process it (retry-safe); the rest map as a gRPC client maps them.
    this.fail(codeOfReset(code), `${this.label}: the server reset the call (HTTP/2 error code ${code})`);
  }

  onLost(reason: string): void {
    this.fail(Code.UNAVAILABLE, `${this.label}: ${reason}`);
  }

  /** The stream ended normally: settle from the status it carried. */
  private finish(): void {
    if (this.done) return;
    const code = this.code;
    if (code === undefined) return this.fail(Code.INTERNAL, `${this.label}: the call ended without a status`);
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
    const len = ((buf[1]! << 24) >>> 0) + (buf[2]! << 16) + (buf[3]! << 8) + buf[4]!;
    if (buf.length !== 5 + len) throw new Error(buf.length < 5 + len ? "the reply's message is truncated" : "a unary reply held more than one message");
    return buf.subarray(5);
  }
}

/** The request header block per method and per call-options object (callers reuse one options object for every call). */
function blockFor(path: string, channel: H2Channel, cache: WeakMap<CallOptions, Uint8Array>, opts: CallOptions | undefined): Uint8Array {
  const key = opts ?? NO_OPTIONS;
  let block = cache.get(key);
  if (block !== undefined) return block;
  const fields: [string, string][] = [
    [":method", "POST"],
    [":scheme", channel.scheme],
    [":path", path],
    [":authority", channel.target.startsWith("unix:") ? "localhost" : channel.target],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ];
  if (opts?.metadata) for (const [k, v] of Object.entries(opts.metadata)) fields.push([k.toLowerCase(), v]);
  if (opts?.timeoutMs) fields.push(["grpc-timeout", `${Math.max(1, Math.ceil(opts.timeoutMs))}m`]);
  block = encodeHeaderBlock(fields);
  cache.set(key, block);
  return block;
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
    const blocks = new WeakMap<CallOptions, Uint8Array>();
    client[method.localName] = (req: MessageInitShape<DescMessage>, opts?: CallOptions) =>
      new Promise((resolve, reject) => {
        if (opts?.signal?.aborted) return reject(new PrismError(Code.CANCELLED, `${label}: cancelled before it started`));
        const call = new UnaryCall(channel, output, label, opts?.timeoutMs ?? 0, resolve, reject);
        try {
          const msg = "$typeName" in req ? req : create(input, req);
          const bytes = toBinary(input, msg as MessageShape<DescMessage>);
          const body = Buffer.allocUnsafe(5 + bytes.length);
          body[0] = 0;
          body.writeUInt32BE(bytes.length, 1);
          body.set(bytes, 5);
          const conn = channel.connection();
          call.conn = conn;
          channel.track(call);
          call.stream = conn.open(blockFor(path, channel, blocks, opts), body, call);
        } catch (err) {
          return call.fail(err instanceof PrismError ? err.code : Code.INTERNAL, `${label}: ${(err as Error).message}`);
        }
        if (opts?.signal) opts.signal.addEventListener("abort", () => call.cancel(Code.CANCELLED, "cancelled by the caller"), { once: true });
      });
  }
  return client as UnaryClient<S>;
}
