import http2 from "node:http2";
import { watchRequestBody } from "./request_body_timeout";

/**
 * Bounds on the calls of each connection to a node:http2 server that clients reach directly: past
 * maxStreamsPerConnection open at once a new call is refused with REFUSED_STREAM (the client may retry it; the
 * limit is also announced in SETTINGS), and a call whose request body stalls for requestBodyTimeoutMs is reset.
 * Runs before the server's own stream handler (grpc-js's), so a refused call never reaches it.
 */
export function limitClientStreams(
  server: http2.Http2Server | http2.Http2SecureServer,
  limits: { maxStreamsPerConnection: number; requestBodyTimeoutMs: number },
): void {
  server.on("session", (session: http2.ServerHttp2Session) => {
    try {
      session.settings({ maxConcurrentStreams: limits.maxStreamsPerConnection });
    } catch {
      /* closing */
    }
  });
  const open = new WeakMap<object, number>();
  server.prependListener("stream", (stream: http2.ServerHttp2Stream) => {
    const session = stream.session;
    if (session === undefined) return;
    const n = (open.get(session) ?? 0) + 1;
    open.set(session, n);
    stream.once("close", () => open.set(session, (open.get(session) ?? 1) - 1));
    if (n > limits.maxStreamsPerConnection) {
      stream.on("error", () => undefined);
      try {
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      } catch {
        /* gone */
      }
      return;
    }
    watchRequestBody(stream, limits.requestBodyTimeoutMs, () => undefined);
  });
}
