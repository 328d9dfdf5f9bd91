import http2 from "node:http2";
import { Code } from "@prism/sdk";
import { encodeGrpcMessage } from "../../h2/grpc/status";

function ignore(): void {}

/**
 * Answers a call with a status and no messages (a gRPC "trailers-only" response). The stream may still be
 * receiving a request body the answer makes pointless: it is read and dropped, and an error on it (the client
 * resetting it, or closing its connection with the stream half open) ends it quietly rather than as an
 * uncaught 'error' event that would take the whole proxy down.
 */
export function respondWithStatus(stream: http2.ServerHttp2Stream, code: Code, message: string): void {
  if (stream.listenerCount("error") === 0) stream.on("error", ignore);
  if (stream.destroyed || stream.closed) return;
  if (!stream.readableEnded) stream.resume();
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
