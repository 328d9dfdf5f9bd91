import http2 from "node:http2";
import { Code } from "../../sdk/grpc/errors";

/** grpc-message is percent-encoded (gRPC HTTP/2 spec): keep printable ASCII except '%'. */
export function encodeGrpcMessage(message: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(message) ? message : encodeURIComponent(message);
}

/** Answers a call with a status and no messages (a gRPC "trailers-only" response). */
export function respondWithStatus(stream: http2.ServerHttp2Stream, code: Code, message: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    // Headers went out already: end with trailers if we still can, else reset.
    try {
      stream.close(http2.constants.NGHTTP2_CANCEL);
    } catch {
      /* already closing */
    }
    return;
  }
  stream.respond(
    { ":status": 200, "content-type": "application/grpc", "grpc-status": String(code), "grpc-message": encodeGrpcMessage(message) },
    { endStream: true },
  );
}

/** The gRPC code a client library reports when the stream is reset with an HTTP/2 error code. */
export function codeOfReset(rstCode: number): Code {
  switch (rstCode) {
    case http2.constants.NGHTTP2_NO_ERROR:
      return Code.INTERNAL;
    case http2.constants.NGHTTP2_REFUSED_STREAM:
      return Code.UNAVAILABLE;
    case http2.constants.NGHTTP2_CANCEL:
      return Code.CANCELLED;
    case http2.constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return Code.RESOURCE_EXHAUSTED;
    case http2.constants.NGHTTP2_INADEQUATE_SECURITY:
      return Code.PERMISSION_DENIED;
    default:
      return Code.INTERNAL;
  }
}
