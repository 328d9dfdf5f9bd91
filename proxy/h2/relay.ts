import type http2 from "node:http2";
import { Code } from "@prism/sdk";
import { codeOfReset, encodeGrpcMessage } from "../../h2/grpc/status";
import { type ClientStream, ERROR, encodeHeaderObject, type H2ClientConnection, type LostInfo, type StreamListener } from "../../h2";
import { type CallKind, callKind } from "./call_kind";
import { neverProcessed } from "./conn_facts";
import { respondWithStatus } from "./status";
import { isRefusal, type Lease, type Refusal } from "./upstream";

/** Where a relayed call is placed: one Upstream, or a namespace's instances (ReplicaSet). */
export interface Placer {
  /** A connection for the call; `avoid` is a retry's connection, not to be used again. */
  /** `path` (the call's :path) lets a replicated namespace keep a client's unary calls with its stream of that service. */
  place(kind: CallKind, client?: object, avoid?: H2ClientConnection, path?: string): Lease | Refusal;
}

/** Called once per relayed call with its final gRPC status code. */
export type OnSettled = (code: number) => void;

/**
 * Request bytes kept per call so a call the pattern refused unprocessed (REFUSED_STREAM, above GOAWAY's last
 * stream) can be sent once more on another connection; a longer request is not retried.
 */
const RETRY_BODY_LIMIT = 64 * 1024;

/** Where the client stream's shared handlers find their call. */
const CALL = Symbol("prism.relay.call");
type ClientSide = http2.ServerHttp2Stream & { [CALL]: RelayedCall };

function ignore(): void {}

/**
 * Relays one gRPC call, as HTTP/2 frames, between a client stream (node:http2 server) and a pattern connection
 * (h2/ client) without decoding messages: request headers (metadata, grpc-timeout, traceparent) and body go
 * up; response headers, body and trailers come back; a reset on either side cancels the other. `label` names
 * the target in errors. Per call this allocates the call's state, the forwarded header block and the response
 * header objects node:http2 takes; the client stream's handlers are shared functions that find the call on it.
 */
export function relay(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, upstream: Placer, label: string, onSettled: OnSettled): void {
  stream.on("error", ignore);
  const path = String(headers[":path"]);
  const kind = callKind(path);
  const lease = upstream.place(kind, stream.session, undefined, path);
  if (isRefusal(lease)) return failBeforeRelay(stream, onSettled, lease.code, `${label} ${lease.message}`);
  // The incoming header block goes up as is: pseudo-headers, metadata, grpc-timeout, te.
  const call = new RelayedCall(stream, upstream, lease, kind, encodeHeaderObject(headers), label, onSettled);
  (stream as ClientSide)[CALL] = call;
  call.up = lease.conn.open(call.block, undefined, call, false);
  // Client → pattern, with back-pressure.
  stream.on("data", onClientData);
  stream.on("end", onClientEnd);
  stream.on("wantTrailers", onWantTrailers);
  // The client went away (cancel, deadline, connection lost): cancel upstream.
  stream.on("aborted", onClientAborted);
  stream.on("close", onClientClose);
}

function failBeforeRelay(stream: http2.ServerHttp2Stream, onSettled: OnSettled, code: Code, message: string): void {
  onSettled(code);
  respondWithStatus(stream, code, message);
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
  conn: H2ClientConnection;
  /** The request as sent so far, while it may still be sent again (undefined once too long or retried). */
  sent: Uint8Array[] | undefined = [];
  sentBytes = 0;
  clientEnded = false;
  /** The pattern's stream took more than it sends at once: the client's stream is paused until onDrain. */
  upstreamFull = false;

  constructor(
    readonly stream: http2.ServerHttp2Stream,
    readonly upstream: Placer,
    private lease: Lease,
    readonly kind: CallKind,
    readonly block: Uint8Array,
    readonly label: string,
    private readonly onSettled: OnSettled,
  ) {
    this.conn = lease.conn;
  }

  settle(code: number): void {
    if (this.settled) return;
    this.settled = true;
    this.sent = undefined;
    this.lease.release();
    this.onSettled(code);
  }

  /** Keeps a request chunk for a retry, until the request is too long to keep. */
  keep(chunk: Uint8Array): void {
    const sent = this.sent;
    if (sent === undefined) return;
    this.sentBytes += chunk.length;
    if (this.sentBytes > RETRY_BODY_LIMIT) this.sent = undefined;
    else sent.push(chunk);
  }

  /** Sends the call once more on another connection; false when it cannot be (already retried, too long, no room). */
  private retry(): boolean {
    const sent = this.sent;
    if (sent === undefined || this.responded || this.settled || this.clientGone) return false;
    this.sent = undefined;
    // Its place is free again before it asks for one (else a call at the bound would refuse itself).
    this.lease.release();
    const lease = this.upstream.place(this.kind, this.stream.session, this.conn);
    if (isRefusal(lease)) return false;
    this.lease = lease;
    this.conn = lease.conn;
    this.up = lease.conn.open(this.block, undefined, this, false);
    for (const chunk of sent) lease.conn.write(this.up, chunk);
    if (this.clientEnded) lease.conn.end(this.up);
    return true;
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
    if (!this.responded && !this.inTrailers) this.lease.answered();
    const target = this.inTrailers ? (this.trailers ??= {}) : this.headers;
    const prev = target[name];
    if (prev === undefined) target[name] = name === ":status" ? Number(value) : value;
    // Appended in place: copying the list per repeated field made a block of many same-named fields quadratic.
    else if (Array.isArray(prev)) prev.push(value);
    else target[name] = [String(prev), value];
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
    // REFUSED_STREAM: the pattern did not process the stream (RFC 9113 §8.7): safe to send again, once.
    if (code === ERROR.REFUSED_STREAM) {
      if (this.retry()) return;
      return this.abort(Code.UNAVAILABLE, `${this.label} is not reachable: it refused the call`);
    }
    this.abort(codeOfReset(code), `${this.label} reset the call (HTTP/2 error code ${code})`);
  }

  /**
   * Contract §5: a call the pattern certainly did not process (never sent, connection never up, above GOAWAY's
   * last stream) is UNAVAILABLE, and is first retried once elsewhere; one lost after its request went out may
   * have been applied: UNKNOWN, saying so.
   */
  onLost(reason: string, info?: LostInfo): void {
    if (info?.unprocessed ?? neverProcessed(this.up, reason, this.lease.connectionUp())) {
      if (this.retry()) return;
      return this.abort(Code.UNAVAILABLE, `${this.label} is not reachable: ${reason}`);
    }
    this.abort(Code.UNKNOWN, `${this.label} was lost after the call was sent (${reason}); its outcome is unknown`);
  }

  onDrain(): void {
    this.upstreamFull = false;
    drainThenResume(this.stream, this);
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
  call.keep(chunk);
  if (call.conn.write(call.up, chunk)) return;
  call.upstreamFull = true;
  this.pause();
}

/** Largest read from a paused stream's buffer: one DATA frame at the default frame size, so mostly no copy. */
const DRAIN_READ = 16 * 1024;

/**
 * Bun (1.4) opens a server stream's receive window again on resume() for every byte received, also those still
 * in its readable buffer: resuming with a backlog let the client send one more window each time, and a
 * StoreStream buffered most of the value (the proxy's RSS followed it, 840 MiB for 1 GiB). So what waits in
 * the buffer goes up first (read() emits 'data'), and the stream resumes, opening the window, once it is empty.
 */
function drainThenResume(stream: http2.ServerHttp2Stream, call: RelayedCall): void {
  while (!call.upstreamFull && stream.readableLength > 0) if (stream.read(Math.min(stream.readableLength, DRAIN_READ)) === null) break;
  if (!call.upstreamFull) stream.resume();
}

function onClientEnd(this: ClientSide): void {
  const call = this[CALL];
  call.clientEnded = true;
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
