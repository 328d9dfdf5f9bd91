import http2 from "node:http2";
import type net from "node:net";

/** Bounds on the client listener's connections and streams (proxy config `limits`). */
export interface ConnectionLimits {
  /** Connections open at once; one more is closed at once and counted (reason max_connections). */
  maxConnections: number;
  /** A connection with no open call for this long is closed (GOAWAY); also one that never opens a call. */
  idleTimeoutMs: number;
  /** A call whose request body stops arriving (no data, not ended) for this long is reset and counted. */
  requestBodyTimeoutMs: number;
  /** Concurrent calls on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreamsPerConnection: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 10_000,
  idleTimeoutMs: 300_000,
  requestBodyTimeoutMs: 30_000,
  maxStreamsPerConnection: 2_048,
};

/**
 * Applies ConnectionLimits to an HTTP/2 server: counts connections (refusing over the bound), closes idle ones,
 * and resets calls whose request body stalls. `refused(reason)` counts what it turned away
 * (prism_proxy_rejected_total{reason="max_connections"|"idle_timeout"|"request_body_timeout"}).
 */
export function applyConnectionLimits(server: http2.Http2Server | http2.Http2SecureServer, limits: ConnectionLimits, refused: (reason: string) => void): void {
  const sockets = new Set<net.Socket>();
  server.on("connection", (socket: net.Socket) => {
    if (sockets.size >= limits.maxConnections) {
      refused("max_connections");
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // Until it opens a session with a call, the connection is idle (a bare TCP connection never will).
    const timer = setTimeout(() => {
      if (!socket.destroyed && !(socket as { prismActive?: boolean }).prismActive) {
        refused("idle_timeout");
        // Under Bun a connection that never sent the HTTP/2 preface ignores destroy() once the HTTP/2 layer
        // holds it; a reset closes it.
        const s = socket as net.Socket & { resetAndDestroy?: () => void };
        if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
        else s.destroy();
      }
    }, limits.idleTimeoutMs);
    timer.unref?.();
    socket.once("close", () => clearTimeout(timer));
  });
  server.on("session", (session: http2.ServerHttp2Session) => {
    let open = 0;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const socket = session.socket as net.Socket & { prismActive?: boolean };
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        if (open > 0 || session.closed || session.destroyed) return;
        refused("idle_timeout");
        try {
          session.close();
        } catch {
          /* closing */
        }
        setTimeout(() => session.destroy(), 1_000).unref?.();
      }, limits.idleTimeoutMs);
      idle.unref?.();
    };
    arm();
    session.once("close", () => clearTimeout(idle));
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      open++;
      if (socket) socket.prismActive = true;
      clearTimeout(idle);
      stream.once("close", () => {
        if (--open === 0) arm();
      });
      watchBody(stream, limits.requestBodyTimeoutMs, refused);
    });
  });
}

/** Resets a call whose request side stays open with no data for timeoutMs. */
function watchBody(stream: http2.ServerHttp2Stream, timeoutMs: number, refused: (reason: string) => void): void {
  if (stream.readableEnded) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (stream.readableEnded || stream.closed || stream.destroyed) return;
      refused("request_body_timeout");
      try {
        stream.close(http2.constants.NGHTTP2_CANCEL);
      } catch {
        /* gone */
      }
    }, timeoutMs);
    timer.unref?.();
  };
  arm();
  stream.on("data", arm);
  const done = () => clearTimeout(timer);
  stream.once("end", done);
  stream.once("close", done);
}
