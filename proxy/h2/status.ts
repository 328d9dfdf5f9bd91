import http2 from "node:http2";
import { Code } from "../../sdk/grpc/errors";
import { encodeGrpcMessage } from "../../h2/grpc/status";

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
