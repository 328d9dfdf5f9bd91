import http2 from "node:http2";
import { Code } from "../../sdk/grpc/errors";
import { codeOfReset, encodeGrpcMessage } from "../../sdk/grpc/h2_status";
import { respondWithStatus } from "./status";
import type { Upstream } from "./upstream";

/** Called once per relayed call with its final gRPC status code. */
export type OnSettled = (code: number) => void;

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** Where both streams of a relayed call find it. */
const CALL = Symbol("prism.relay.call");
type ClientSide = http2.ServerHttp2Stream & { [CALL]: RelayedCall };
type PatternSide = http2.ClientHttp2Stream & { [CALL]: RelayedCall };

function ignore(): void {}

/**
 * Relays one gRPC call, as HTTP/2 frames, between a client stream and a pattern
 * session without decoding messages: request headers (metadata, grpc-timeout,
 * traceparent) and body go up; response headers, body and trailers come back;
 * a reset on either side cancels the other. `label` names the target in errors.
 * Per call this allocates the call's state and nothing else: the stream event
 * handlers are shared functions that find it on the stream.
 */
export function relay(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, upstream: Upstream, label: string, onSettled: OnSettled): void {
  stream.on("error", ignore);
  const session = upstream.session();
  if (session === undefined) return failBeforeRelay(stream, onSettled, `${label} is not reachable`);
  let req: http2.ClientHttp2Stream;
  try {
    // The incoming header block goes up as is: pseudo-headers, metadata, grpc-timeout, te.
    req = session.request(headers, { endStream: false });
  } catch (err) {
    return failBeforeRelay(stream, onSettled, `${label} is not reachable: ${(err as Error).message}`);
  }
  const call = new RelayedCall(stream, req, session, label, onSettled);
  (stream as ClientSide)[CALL] = call;
  (req as PatternSide)[CALL] = call;
  // Client → pattern, with back-pressure.
  stream.on("data", onClientData);
  stream.on("end", onClientEnd);
  req.on("response", onResponse);
  req.on("trailers", onTrailers);
  stream.on("wantTrailers", onWantTrailers);
  req.on("error", onPatternError);
  req.on("close", onPatternClose);
  // The client went away (cancel, deadline, connection lost): cancel upstream.
  stream.on("aborted", onClientAborted);
  stream.on("close", onClientClose);
}

function failBeforeRelay(stream: http2.ServerHttp2Stream, onSettled: OnSettled, message: string): void {
  onSettled(Code.UNAVAILABLE);
  respondWithStatus(stream, Code.UNAVAILABLE, message);
}

/** The state of one relayed call. */
class RelayedCall {
  settled = false;
  responded = false;
  clientGone = false;
  trailers: http2.IncomingHttpHeaders | http2.OutgoingHttpHeaders | undefined;
  upstreamError: (Error & { code?: string }) | undefined;

  constructor(
    readonly stream: http2.ServerHttp2Stream,
    readonly req: http2.ClientHttp2Stream,
    readonly session: http2.ClientHttp2Session,
    readonly label: string,
    private readonly onSettled: OnSettled,
  ) {}

  settle(code: number): void {
    if (this.settled) return;
    this.settled = true;
    this.onSettled(code);
  }

  fail(code: Code, message: string): void {
    this.settle(code);
    respondWithStatus(this.stream, code, message);
  }

  /** Resets the pattern's stream unless the call already has its final status. */
  cancelUpstream(): void {
    const req = this.req;
    if (this.settled || req.closed || req.destroyed) return;
    this.clientGone = true;
    req.close(NGHTTP2_CANCEL);
    this.settle(Code.CANCELLED);
  }
}

function onClientData(this: ClientSide, chunk: Buffer): void {
  if (!this[CALL].req.write(chunk)) {
    this.pause();
    this[CALL].req.once("drain", onPatternDrain);
  }
}

function onPatternDrain(this: PatternSide): void {
  this[CALL].stream.resume();
}

function onClientEnd(this: ClientSide): void {
  this[CALL].req.end();
}

function onResponse(this: PatternSide, h: http2.IncomingHttpHeaders): void {
  const call = this[CALL];
  const stream = call.stream;
  if (stream.destroyed || stream.closed) return;
  call.responded = true;
  const status = h["grpc-status"];
  try {
    if (status !== undefined) {
      // Trailers-only response: status in the headers, no body. Settle first: Bun closes the stream synchronously.
      call.settle(Number(status));
      stream.respond(h, { endStream: true });
      return;
    }
    stream.respond(h, { waitForTrailers: true });
  } catch {
    call.settle(Code.CANCELLED);
    return;
  }
  this.on("data", onPatternData);
  // Without trailers the stream was reset, not finished: the close handler decides the status.
  this.on("end", onPatternEnd);
}

function onPatternData(this: PatternSide, chunk: Buffer): void {
  const stream = this[CALL].stream;
  if (!stream.write(chunk)) {
    this.pause();
    stream.once("drain", onClientDrain);
  }
}

function onClientDrain(this: ClientSide): void {
  this[CALL].req.resume();
}

function onPatternEnd(this: PatternSide): void {
  const call = this[CALL];
  if (call.trailers !== undefined) call.stream.end();
}

function onTrailers(this: PatternSide, t: http2.IncomingHttpHeaders): void {
  this[CALL].trailers = t;
}

function onWantTrailers(this: ClientSide): void {
  const call = this[CALL];
  // Bun signals wantTrailers on a reset stream too; nothing to send then.
  if (call.clientGone || this.aborted) return call.cancelUpstream();
  const t: http2.OutgoingHttpHeaders = call.trailers ?? {
    "grpc-status": String(Code.INTERNAL),
    "grpc-message": `${call.label} ended the call without a status`,
  };
  call.settle(Number(t["grpc-status"] ?? Code.UNKNOWN));
  try {
    this.sendTrailers(t);
  } catch {
    /* client gone */
  }
}

function onPatternError(this: PatternSide, err: Error): void {
  this[CALL].upstreamError = err;
}

function onPatternClose(this: PatternSide): void {
  const call = this[CALL];
  if (call.settled) return;
  const stream = call.stream;
  if (call.trailers !== undefined) {
    if (call.responded && !stream.writableEnded) stream.end();
    return;
  }
  // The pattern's side ended without a status. A lost session (process died, connection refused) is
  // UNAVAILABLE; a reset of this stream alone maps as a gRPC client maps it (CANCEL → CANCELLED, …).
  const rst = this.rstCode ?? 0;
  const session = call.session;
  const err = call.upstreamError;
  const lost = session.destroyed || session.closed || rst === NGHTTP2_REFUSED_STREAM || (rst === 0 && err !== undefined);
  const code = lost ? Code.UNAVAILABLE : rst !== 0 ? codeOfReset(rst) : Code.INTERNAL;
  const message = lost
    ? `${call.label} is not reachable${err ? `: ${err.message}` : ""}`
    : rst !== 0
      ? `${call.label} reset the call (HTTP/2 error code ${rst})`
      : `${call.label} ended the call without a status`;
  if (!call.responded) return call.fail(code, message);
  // Headers already went to the client: end the body and let wantTrailers send this status.
  call.trailers = { "grpc-status": String(code), "grpc-message": encodeGrpcMessage(message) };
  if (!stream.writableEnded) stream.end();
}

function onClientAborted(this: ClientSide): void {
  const call = this[CALL];
  call.clientGone = true;
  call.cancelUpstream();
  call.settle(Code.CANCELLED);
}

function onClientClose(this: ClientSide): void {
  this[CALL].cancelUpstream();
}
