import * as grpc from "@grpc/grpc-js";
import { rmSync } from "node:fs";
import type http2 from "node:http2";
import { installDecoderFastPath } from "./decoder_fast_path";
import { guardH2Server } from "./h2_guard";
import { answerNonGrpcRequest, isGrpcRequest } from "./h2_guard_non_grpc";
import { limitClientStreams } from "./stream_limits";

/**
 * grpc-js answers a few caller mistakes itself, with codes that blame the server: a unary or server-streaming
 * call that half-closes without its request message (or whose last frame's length prefix promised more bytes
 * than came) is UNIMPLEMENTED "Received no request message ...", and a second request message is UNIMPLEMENTED
 * too. Contract §5 calls a malformed request INVALID_ARGUMENT; this interceptor rewrites those statuses (and
 * only those) on their way out.
 */
const callerMistakes = [/^Received no request message/, /^Received a second request message/];

function correctCallerMistakes(status: grpc.StatusObject): grpc.StatusObject {
  if (status.code !== grpc.status.UNIMPLEMENTED && status.code !== grpc.status.INTERNAL) return status;
  if (!callerMistakes.some((re) => re.test(status.details))) return status;
  return { ...status, code: grpc.status.INVALID_ARGUMENT, details: `malformed request: ${status.details}` };
}

export const callerMistakeInterceptor: grpc.ServerInterceptor = (_method, call) =>
  new grpc.ServerInterceptingCall(
    call,
    new grpc.ResponderBuilder().withSendStatus((status, next) => next(correctCallerMistakes(status as grpc.StatusObject))).build(),
  );

const envInt = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
};

/**
 * Bounds on a pattern's TCP listeners, where clients connect directly (the proxy's own connection comes over the
 * Unix socket and carries every client's calls): concurrent calls per connection (PRISM_MAX_STREAMS_PER_CONNECTION,
 * default 2,048 as at the proxy; over it a call is refused with REFUSED_STREAM), and a request body that stops
 * arriving for PRISM_REQUEST_BODY_TIMEOUT_MS (default 30 s) is reset, as at the proxy.
 */
export const clientListenerLimits = {
  maxStreamsPerConnection: envInt("PRISM_MAX_STREAMS_PER_CONNECTION", 2_048),
  requestBodyTimeoutMs: envInt("PRISM_REQUEST_BODY_TIMEOUT_MS", 30_000),
};

/**
 * Server options shared by every Prism gRPC server: 16 MiB messages so size limits are ours to enforce; bounded
 * concurrent calls per connection (20,000: generous, as a proxy in front carries every client's calls on one
 * connection, but a bound; TCP listeners are held to clientListenerLimits); connections with no call for
 * PRISM_CONNECTION_IDLE_MS (default 5 min) are closed (GOAWAY).
 */
export const serverOptions: grpc.ServerOptions = {
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.max_send_message_length": 16 * 1024 * 1024,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.max_concurrent_streams": 20_000,
  "grpc.max_connection_idle_ms": envInt("PRISM_CONNECTION_IDLE_MS", 300_000),
  interceptors: [callerMistakeInterceptor],
};

const CREATED = Symbol("prism.http2Servers");

/**
 * Puts the HTTP/2 guard (h2_guard.ts) in front of every node:http2 server grpc-js creates for this server, by
 * wrapping its createHttp2Server (grpc-js 1.14 has no option for it), and returns the list the servers it
 * creates are added to. Without that method, nothing is guarded. Also puts the whole-message fast path in front
 * of grpc-js's request decoding (decoder_fast_path.ts), once per process.
 */
function guardGrpcServer(server: grpc.Server): http2.Http2Server[] {
  const s = server as unknown as {
    createHttp2Server?: (...args: unknown[]) => http2.Http2Server;
    _verifyContentType?: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;
    [CREATED]?: http2.Http2Server[];
  };
  if (s[CREATED] !== undefined) return s[CREATED];
  installDecoderFastPath();
  const created: http2.Http2Server[] = (s[CREATED] = []);
  // grpc-js answers a request that is not gRPC 415 with no body; ours carries one (h2_guard_non_grpc.ts).
  if (typeof s._verifyContentType === "function") {
    s._verifyContentType = (stream, headers) => {
      if (isGrpcRequest(headers)) return true;
      answerNonGrpcRequest(stream);
      return false;
    };
  }
  const create = s.createHttp2Server;
  if (typeof create !== "function") return created;
  s.createHttp2Server = function (this: unknown, ...args: unknown[]) {
    const h2 = create.apply(this, args);
    guardH2Server(h2);
    created.push(h2);
    return h2;
  };
  return created;
}

/** Binds a server to host:port (port 0 picks a free one) and returns the bound port; the listener gets clientListenerLimits. */
export async function bindServer(server: grpc.Server, host: string, port: number, credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
  const created = guardGrpcServer(server);
  const before = created.length;
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))));
  for (const h2 of created.slice(before)) limitClientStreams(h2, clientListenerLimits);
  return bound;
}

/**
 * Binds a server to a Unix domain socket (a stale socket file at the path is replaced).
 * Who may connect is decided by the permissions of the directory holding it.
 */
export function bindUnixServer(server: grpc.Server, path: string): Promise<void> {
  rmSync(path, { force: true });
  guardGrpcServer(server);
  return new Promise((resolve, reject) => server.bindAsync(`unix:${path}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
}

/** Graceful stop bounded by timeoutMs, then forced; resolves true when it had to force. */
export function stopServer(server: grpc.Server, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve(true);
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}
