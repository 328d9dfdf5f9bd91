import http2 from "node:http2";
import { stopWatchingRequestBody, watchRequestBody } from "./request_body_timeout";

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
  server.prependListener("stream", (stream: http2.ServerHttp2Stream) => {
    const session = stream.session as CountedSession | undefined;
    if (session === undefined) return;
    const n = (session[OPEN] ?? 0) + 1;
    session[OPEN] = n;
    (stream as LimitedStream)[SESSION] = session;
    stream.on("close", onStreamClose);
    if (n > limits.maxStreamsPerConnection) {
      stream.on("error", () => undefined);
      try {
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      } catch {
        /* gone */
      }
      return;
    }
    watchRequestBody(stream, limits.requestBodyTimeoutMs, ignore, false);
  });
}

const OPEN = Symbol("prism.openStreams");
const SESSION = Symbol("prism.limitedSession");
type CountedSession = http2.ServerHttp2Session & { [OPEN]?: number };
type LimitedStream = http2.ServerHttp2Stream & { [SESSION]?: CountedSession };

function ignore(): void {}

// Shared by every call (no closure or once-wrapper per call): `this` is the stream; counted once if "close" came twice.
function onStreamClose(this: LimitedStream): void {
  const session = this[SESSION];
  if (session === undefined) return;
  this[SESSION] = undefined;
  session[OPEN] = (session[OPEN] ?? 1) - 1;
  stopWatchingRequestBody(this);
}
