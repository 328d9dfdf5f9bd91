import http2 from "node:http2";
import { Code } from "../../sdk/grpc/errors";
import { codeOfReset, encodeGrpcMessage, respondWithStatus } from "./status";
import type { Upstream } from "./upstream";

/** Called once per relayed call with its final gRPC status code. */
export type OnSettled = (code: number) => void;

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

function ignore(): void {}

/**
 * Relays one gRPC call, as HTTP/2 frames, between a client stream and a pattern
 * session without decoding messages: request headers (metadata, grpc-timeout,
 * traceparent) and body go up; response headers, body and trailers come back;
 * a reset on either side cancels the other. `label` names the target in errors.
 */
export function relay(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  upstream: Upstream,
  label: string,
  onSettled: OnSettled,
): void {
  let settled = false;
  const settle = (code: number) => {
    if (settled) return;
    settled = true;
    onSettled(code);
  };
  stream.on("error", ignore);
  const fail = (code: Code, message: string) => {
    settle(code);
    respondWithStatus(stream, code, message);
  };

  const session = upstream.session();
  if (session === undefined) return fail(Code.UNAVAILABLE, `${label} is not reachable`);
  let req: http2.ClientHttp2Stream;
  try {
    // The incoming header block goes up as is: pseudo-headers, metadata, grpc-timeout, te.
    req = session.request(headers, { endStream: false });
  } catch (err) {
    return fail(Code.UNAVAILABLE, `${label} is not reachable: ${(err as Error).message}`);
  }

  let responded = false;
  let trailers: http2.IncomingHttpHeaders | undefined;
  let upstreamError: (Error & { code?: string }) | undefined;
  let clientGone = false;
  /** Resets the pattern's stream unless the call already has its final status. */
  const cancelUpstream = () => {
    if (settled || req.closed || req.destroyed) return;
    clientGone = true;
    req.close(NGHTTP2_CANCEL);
    settle(Code.CANCELLED);
  };

  // Client → pattern, with back-pressure.
  stream.on("data", (chunk: Buffer) => {
    if (!req.write(chunk)) {
      stream.pause();
      req.once("drain", () => stream.resume());
    }
  });
  stream.on("end", () => req.end());

  req.on("response", (h) => {
    if (stream.destroyed || stream.closed) return;
    responded = true;
    const status = h["grpc-status"];
    try {
      if (status !== undefined) {
        // Trailers-only response: status in the headers, no body. Settle first: Bun closes the stream synchronously.
        settle(Number(status));
        stream.respond(h, { endStream: true });
        return;
      }
      stream.respond(h, { waitForTrailers: true });
    } catch {
      settle(Code.CANCELLED);
      return;
    }
    req.on("data", (chunk: Buffer) => {
      if (!stream.write(chunk)) {
        req.pause();
        stream.once("drain", () => req.resume());
      }
    });
    // Without trailers the stream was reset, not finished: the close handler decides the status.
    req.on("end", () => trailers !== undefined && stream.end());
  });
  req.on("trailers", (t) => {
    trailers = t;
  });
  stream.on("wantTrailers", () => {
    // Bun signals wantTrailers on a reset stream too; nothing to send then.
    if (clientGone || stream.aborted) return cancelUpstream();
    const t: http2.OutgoingHttpHeaders = trailers ?? {
      "grpc-status": String(Code.INTERNAL),
      "grpc-message": `${label} ended the call without a status`,
    };
    settle(Number(t["grpc-status"] ?? Code.UNKNOWN));
    try {
      stream.sendTrailers(t);
    } catch {
      /* client gone */
    }
  });

  req.on("error", (err) => {
    upstreamError = err;
  });
  req.on("close", () => {
    if (settled) return;
    if (trailers !== undefined) {
      if (responded && !stream.writableEnded) stream.end();
      return;
    }
    // The pattern's side ended without a status. A lost session (process died, connection refused) is
    // UNAVAILABLE; a reset of this stream alone maps as a gRPC client maps it (CANCEL → CANCELLED, …).
    const rst = req.rstCode ?? 0;
    const lost = session.destroyed || session.closed || rst === NGHTTP2_REFUSED_STREAM || (rst === 0 && upstreamError !== undefined);
    const code = lost ? Code.UNAVAILABLE : rst !== 0 ? codeOfReset(rst) : Code.INTERNAL;
    const message = lost
      ? `${label} is not reachable${upstreamError ? `: ${upstreamError.message}` : ""}`
      : rst !== 0
        ? `${label} reset the call (HTTP/2 error code ${rst})`
        : `${label} ended the call without a status`;
    if (!responded) return fail(code, message);
    // Headers already went to the client: end the body and let wantTrailers send this status.
    trailers = { "grpc-status": String(code), "grpc-message": encodeGrpcMessage(message) };
    if (!stream.writableEnded) stream.end();
  });

  // The client went away (cancel, deadline, connection lost): cancel upstream.
  stream.on("aborted", () => {
    clientGone = true;
    cancelUpstream();
    settle(Code.CANCELLED);
  });
  stream.on("close", cancelUpstream);
}
