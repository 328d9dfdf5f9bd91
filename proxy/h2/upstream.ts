import http2 from "node:http2";
import net from "node:net";
import type tls from "node:tls";
import { H2_SETTINGS, widenSessionWindow } from "./settings";

/** Options of an Upstream connection. */
export interface UpstreamOptions {
  /** A session that has not connected within this bound is destroyed, failing its calls. */
  connectTimeoutMs?: number;
  /** Dial with TLS (a remote pattern serving TLS/mTLS): CA, client certificate and key, server name. */
  tls?: tls.ConnectionOptions;
}

/**
 * One HTTP/2 session to a pattern's gRPC endpoint, kept open and shared by every
 * forwarded call (multiplexed). Reconnects lazily: a call after the session
 * dropped (or got GOAWAY) opens a new one.
 */
export class Upstream {
  private current: http2.ClientHttp2Session | undefined;
  private closed = false;
  private readonly url: string;
  private readonly connectTimeoutMs: number;

  private readonly socketPath: string | undefined;
  private readonly tls: tls.ConnectionOptions | undefined;

  constructor(
    /** host:port, or unix:PATH for a Unix domain socket (a pattern the proxy launched). */
    readonly authority: string,
    opts: UpstreamOptions = {},
  ) {
    this.socketPath = authority.startsWith("unix:") ? authority.slice("unix:".length) : undefined;
    // Calls keep the :authority the client sent; this URL only names the session.
    this.tls = opts.tls;
    this.url = this.socketPath !== undefined ? "http://localhost" : `${this.tls ? "https" : "http"}://${authority}`;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2_000;
  }

  /** The open session, or a new one; undefined once close() was called. */
  session(): http2.ClientHttp2Session | undefined {
    const s = this.current;
    if (s !== undefined && !s.closed && !s.destroyed) return s;
    if (this.closed) return undefined;
    return this.connect();
  }

  private connect(): http2.ClientHttp2Session {
    const path = this.socketPath;
    const s = http2.connect(this.url, {
      settings: H2_SETTINGS,
      ...(path !== undefined && { createConnection: () => net.connect(path) }),
      ...this.tls,
    });
    this.current = s;
    const timer = setTimeout(() => {
      if (!s.connecting && !s.destroyed) return;
      s.destroy(new Error(`no connection to ${this.authority} within ${this.connectTimeoutMs} ms`));
    }, this.connectTimeoutMs);
    timer.unref?.();
    s.once("connect", () => {
      clearTimeout(timer);
      widenSessionWindow(s);
    });
    // Errors reach the streams of the session; an unhandled session error would end the proxy.
    s.on("error", () => undefined);
    const forget = () => {
      clearTimeout(timer);
      if (this.current === s) this.current = undefined;
    };
    s.once("close", forget);
    // A GOAWAY means no new streams: calls in flight finish, new calls get a new session.
    s.once("goaway", forget);
    s.unref?.();
    return s;
  }

  /** Drops the session at once (the pattern is gone): calls in flight fail, later calls are refused. */
  close(): void {
    this.closed = true;
    const s = this.current;
    this.current = undefined;
    s?.destroy();
  }
}
