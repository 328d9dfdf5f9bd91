import type http2 from "node:http2";
import type net from "node:net";
import { stopWatchingRequestBody, watchRequestBody } from "@prism/sdk";

/** Bounds on the client listener's connections and streams (proxy config `limits`). */
export interface ConnectionLimits {
  /** Connections open at once; one more is closed at once and counted (reason max_connections). */
  maxConnections: number;
  /** Connections open at once from one source address, so one client cannot take every connection. */
  maxConnectionsPerClient: number;
  /** A connection with no open call for this long is closed (GOAWAY); also one that never opens a call. */
  idleTimeoutMs: number;
  /** A call whose request body stops arriving (no data, not ended) for this long is reset and counted. */
  requestBodyTimeoutMs: number;
  /** Concurrent calls on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreamsPerConnection: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 10_000,
  maxConnectionsPerClient: 1_000,
  idleTimeoutMs: 300_000,
  requestBodyTimeoutMs: 30_000,
  maxStreamsPerConnection: 2_048,
};

/**
 * Applies ConnectionLimits to an HTTP/2 server: counts connections (refusing over the bound), closes idle ones,
 * and resets calls whose request body stalls. `refused(reason)` counts what it turned away
 * (prism_proxy_rejected_total{reason="max_connections"|"max_connections_per_client"|"idle_timeout"|"request_body_timeout"}).
 */
export function applyConnectionLimits(server: http2.Http2Server | http2.Http2SecureServer, limits: ConnectionLimits, refused: (reason: string) => void): void {
  const sockets = new Set<net.Socket>();
  const perClient = new Map<string, number>();
  server.on("connection", (socket: net.Socket) => {
    const client = socket.remoteAddress ?? "";
    const fromClient = perClient.get(client) ?? 0;
    if (sockets.size >= limits.maxConnections || fromClient >= limits.maxConnectionsPerClient) {
      refused(sockets.size >= limits.maxConnections ? "max_connections" : "max_connections_per_client");
      socket.destroy();
      return;
    }
    sockets.add(socket);
    perClient.set(client, fromClient + 1);
    socket.once("close", () => {
      sockets.delete(socket);
      const left = (perClient.get(client) ?? 1) - 1;
      if (left > 0) perClient.set(client, left);
      else perClient.delete(client);
    });
    // Until it opens a session with a call, the connection is idle (a bare TCP connection never will).
    const timer = setTimeout(() => {
      const mark = socket as net.Socket & IdleMark;
      if (!socket.destroyed && !mark.prismActive) {
        // Counted once: the session's timer may have counted this connection already (its GOAWAY does not
        // close a connection that never sent the preface; this reset does).
        if (!mark.prismIdleClosed) refused("idle_timeout");
        mark.prismIdleClosed = true;
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
    // The session's socket is a proxy object in Bun: the marks go on the socket the connection event gave.
    const socket = sessionSocket(session);
    const arm = () => {
      clearTimeout(calls.idle);
      calls.idle = setTimeout(() => {
        calls.idle = undefined;
        if (calls.open > 0 || session.closed || session.destroyed) return;
        // Counted once: the connection's own timer may have counted it already.
        if (!socket?.prismIdleClosed) refused("idle_timeout");
        if (socket) socket.prismIdleClosed = true;
        try {
          session.close();
        } catch {
          /* closing */
        }
        setTimeout(() => session.destroy(), 1_000).unref?.();
      }, limits.idleTimeoutMs);
      calls.idle.unref?.();
    };
    const calls: SessionCalls = { open: 0, idle: undefined, arm };
    arm();
    session.once("close", () => clearTimeout(calls.idle));
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      calls.open++;
      if (socket) socket.prismActive = true;
      if (calls.idle !== undefined) {
        clearTimeout(calls.idle);
        calls.idle = undefined;
      }
      (stream as CountedStream)[CALLS] = calls;
      stream.on("close", onCallClose);
      watchRequestBody(stream, limits.requestBodyTimeoutMs, () => refused("request_body_timeout"), false);
    });
  });
}

/** A connection's open calls and its idle timer, started when the last one closes. */
interface SessionCalls {
  open: number;
  idle: ReturnType<typeof setTimeout> | undefined;
  arm: () => void;
}

const CALLS = Symbol("prism.sessionCalls");
type CountedStream = http2.ServerHttp2Stream & { [CALLS]: SessionCalls | undefined };

// Shared by every call (no closure per call): `this` is the stream; counted once even if "close" came twice.
function onCallClose(this: CountedStream): void {
  const calls = this[CALLS];
  if (calls === undefined) return;
  this[CALLS] = undefined;
  stopWatchingRequestBody(this);
  if (--calls.open === 0) calls.arm();
}

/** What the limits note on a connection's socket. */
interface IdleMark {
  /** A call was opened on it. */
  prismActive?: boolean;
  /** Closed for idleness (and counted). */
  prismIdleClosed?: boolean;
}

const SOCKET = Symbol.for("::bunhttp2socket::");

/** The socket under a session (Bun's session.socket is a proxy that forwards property reads but not writes). */
function sessionSocket(session: http2.ServerHttp2Session): (net.Socket & IdleMark) | undefined {
  return ((session as unknown as Record<symbol, unknown>)[SOCKET] ?? session.socket) as (net.Socket & IdleMark) | undefined;
}
