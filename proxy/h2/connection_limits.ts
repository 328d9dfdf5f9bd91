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
  const bodies = new BodyWatch(limits.requestBodyTimeoutMs, refused);
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
      bodies.add(stream);
    });
  });
}

const DEADLINE = Symbol("prism.bodyDeadline");
const WATCH = Symbol("prism.bodyWatch");
type Watched = http2.ServerHttp2Stream & { [DEADLINE]: number; [WATCH]: BodyWatch };

/**
 * Resets calls whose request side stays open with no data for timeoutMs. One sweep per server (every quarter of
 * the timeout, between 10 ms and 1 s) over the calls still receiving, instead of a timer per call: a forwarded
 * call costs a set entry and a timestamp per data frame.
 */
class BodyWatch {
  private readonly open = new Set<Watched>();
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private readonly period: number;

  constructor(
    readonly timeoutMs: number,
    private readonly refused: (reason: string) => void,
  ) {
    this.period = Math.min(1_000, Math.max(10, Math.floor(timeoutMs / 4)));
  }

  add(stream: http2.ServerHttp2Stream): void {
    if (stream.readableEnded) return;
    const w = stream as Watched;
    w[DEADLINE] = performance.now() + this.timeoutMs;
    w[WATCH] = this;
    this.open.add(w);
    stream.on("data", onBodyData);
    stream.on("end", onBodyDone);
    stream.on("close", onBodyDone);
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(() => this.sweep(), this.period);
      this.sweeper.unref?.();
    }
  }

  remove(stream: Watched): void {
    this.open.delete(stream);
  }

  private sweep(): void {
    if (this.open.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      return;
    }
    const now = performance.now();
    for (const stream of this.open) {
      if (stream[DEADLINE] > now) continue;
      this.open.delete(stream);
      if (stream.readableEnded || stream.closed || stream.destroyed) continue;
      this.refused("request_body_timeout");
      try {
        stream.close(http2.constants.NGHTTP2_CANCEL);
      } catch {
        /* gone */
      }
    }
  }
}

function onBodyData(this: Watched): void {
  this[DEADLINE] = performance.now() + this[WATCH].timeoutMs;
}

function onBodyDone(this: Watched): void {
  this[WATCH].remove(this);
}
