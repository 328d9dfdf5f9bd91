import type http2 from "node:http2";
import { Code } from "../../sdk/grpc/errors";
import { codeOfReset, encodeGrpcMessage } from "../../h2/grpc/status";
import { type ClientStream, ERROR, encodeHeaderObject, type H2ClientConnection, type StreamListener } from "../../h2";
import { respondWithStatus } from "./status";
import type { Upstream } from "./upstream";

/** Called once per relayed call with its final gRPC status code. */
export type OnSettled = (code: number) => void;

/** Where the client stream's shared handlers find their call. */
const CALL = Symbol("prism.relay.call");
type ClientSide = http2.ServerHttp2Stream & { [CALL]: RelayedCall };

function ignore(): void {}

/**
 * Relays one gRPC call, as HTTP/2 frames, between a client stream (node:http2 server) and a pattern connection
 * (sdk/h2 client) without decoding messages: request headers (metadata, grpc-timeout, traceparent) and body go
 * up; response headers, body and trailers come back; a reset on either side cancels the other. `label` names
 * the target in errors. Per call this allocates the call's state, the forwarded header block and the response
 * header objects node:http2 takes; the client stream's handlers are shared functions that find the call on it.
 */
export function relay(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, upstream: Upstream, label: string, onSettled: OnSettled): void {
  stream.on("error", ignore);
  const conn = upstream.connection();
  if (conn === undefined) return failBeforeRelay(stream, onSettled, `${label} is not reachable`);
  const call = new RelayedCall(stream, conn, label, onSettled);
  (stream as ClientSide)[CALL] = call;
  // The incoming header block goes up as is: pseudo-headers, metadata, grpc-timeout, te.
  call.up = conn.open(encodeHeaderObject(headers), undefined, call, false);
  // Client → pattern, with back-pressure.
  stream.on("data", onClientData);
  stream.on("end", onClientEnd);
  stream.on("wantTrailers", onWantTrailers);
  // The client went away (cancel, deadline, connection lost): cancel upstream.
  stream.on("aborted", onClientAborted);
  stream.on("close", onClientClose);
}

function failBeforeRelay(stream: http2.ServerHttp2Stream, onSettled: OnSettled, message: string): void {
  onSettled(Code.UNAVAILABLE);
  respondWithStatus(stream, Code.UNAVAILABLE, message);
}

/** The state of one relayed call; the listener of its pattern-side stream. */
class RelayedCall implements StreamListener {
  up!: ClientStream;
  settled = false;
  responded = false;
  clientGone = false;
  /** The pattern's response headers, then its trailers, as node:http2 takes them. */
  headers: http2.OutgoingHttpHeaders = {};
  trailers: http2.OutgoingHttpHeaders | undefined;
  private inTrailers = false;

  constructor(
    readonly stream: http2.ServerHttp2Stream,
    readonly conn: H2ClientConnection,
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
    if (this.settled) return;
    this.clientGone = true;
    this.conn.cancel(this.up, ERROR.CANCEL);
    this.settle(Code.CANCELLED);
  }

  onField(name: string, value: string): void {
    const target = this.inTrailers ? (this.trailers ??= {}) : this.headers;
    const prev = target[name];
    if (prev === undefined) target[name] = name === ":status" ? Number(value) : value;
    else target[name] = Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  }

  onHeadersEnd(endStream: boolean): void {
    if (this.inTrailers) return this.endWith(this.trailers ?? {});
    this.inTrailers = true;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    const h = this.headers;
    if (endStream) {
      const status = h["grpc-status"];
      if (status === undefined) return this.fail(Code.INTERNAL, `${this.label} ended the call without a status`);
      // Trailers-only response: status in the headers, no body. Settle first: Bun closes the stream synchronously.
      this.responded = true;
      this.settle(Number(status));
      try {
        stream.respond(h, { endStream: true });
      } catch {
        /* client gone */
      }
      return;
    }
    this.responded = true;
    try {
      stream.respond(h, { waitForTrailers: true });
    } catch {
      this.cancelUpstream();
    }
  }

  onData(chunk: Uint8Array, endStream: boolean): void {
    const stream = this.stream;
    if (!this.responded || stream.destroyed || stream.closed) return;
    if (!stream.write(chunk)) {
      this.conn.hold(this.up);
      stream.once("drain", onClientDrain);
    }
    // A body that ends without trailers carries no status.
    if (endStream) this.endWith({ "grpc-status": String(Code.INTERNAL), "grpc-message": encodeGrpcMessage(`${this.label} ended the call without a status`) });
  }

  onReset(code: number): void {
    // REFUSED_STREAM: the pattern did not process the stream (RFC 9113 §8.7).
    if (code === ERROR.REFUSED_STREAM) return this.lost("it refused the call");
    this.abort(codeOfReset(code), `${this.label} reset the call (HTTP/2 error code ${code})`);
  }

  onLost(reason: string): void {
    this.lost(reason);
  }

  onDrain(): void {
    this.stream.resume();
  }

  /** A lost connection (process died, connection refused, GOAWAY before the call was taken) is UNAVAILABLE. */
  private lost(reason: string): void {
    this.abort(Code.UNAVAILABLE, `${this.label} is not reachable: ${reason}`);
  }

  /** The pattern's side ended without a status: answer with one, as trailers if headers already went out. */
  private abort(code: Code, message: string): void {
    if (this.settled) return;
    if (!this.responded) return this.fail(code, message);
    this.endWith({ "grpc-status": String(code), "grpc-message": encodeGrpcMessage(message) });
  }

  /** Ends the client's stream; wantTrailers then sends these trailers. */
  private endWith(trailers: http2.OutgoingHttpHeaders): void {
    this.trailers = trailers;
    const stream = this.stream;
    if (!stream.writableEnded && !stream.destroyed) stream.end();
  }
}

function onClientData(this: ClientSide, chunk: Buffer): void {
  const call = this[CALL];
  if (!call.conn.write(call.up, chunk)) this.pause();
}

function onClientEnd(this: ClientSide): void {
  const call = this[CALL];
  call.conn.end(call.up);
}

function onClientDrain(this: ClientSide): void {
  const call = this[CALL];
  call.conn.release(call.up);
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

function onClientAborted(this: ClientSide): void {
  const call = this[CALL];
  call.clientGone = true;
  call.cancelUpstream();
  call.settle(Code.CANCELLED);
}

function onClientClose(this: ClientSide): void {
  this[CALL].cancelUpstream();
}
