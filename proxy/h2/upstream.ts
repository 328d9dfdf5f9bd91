import type tls from "node:tls";
import { type H2ClientConnection, LazyConnection, parseTarget } from "../../h2";

/** Options of an Upstream connection. */
export interface UpstreamOptions {
  /** A connection that is not up within this bound fails its calls. */
  connectTimeoutMs?: number;
  /** Dial with TLS (a remote pattern serving TLS/mTLS): CA, client certificate and key, server name. */
  tls?: tls.ConnectionOptions;
}

/**
 * One HTTP/2 connection to a pattern's gRPC endpoint, kept open and shared by every forwarded call
 * (multiplexed), on Prism's own HTTP/2 client (sdk/h2): a forwarded call costs one prepared header block and
 * the frames it moves, without node:http2's per-stream objects. Reconnects lazily: a call after the connection
 * dropped (or got GOAWAY) opens a new one.
 */
export class Upstream {
  private readonly conn: LazyConnection;

  constructor(
    /** host:port, or unix:PATH for a Unix domain socket (a pattern the proxy launched). */
    readonly authority: string,
    opts: UpstreamOptions = {},
  ) {
    this.conn = new LazyConnection({ ...parseTarget(authority), connectTimeoutMs: opts.connectTimeoutMs ?? 2_000, ...(opts.tls && { tls: opts.tls }) });
  }

  /** The open connection, or a new one; undefined once close() was called. */
  connection(): H2ClientConnection | undefined {
    return this.conn.get();
  }

  /** Drops the connection at once (the pattern is gone): calls in flight fail, later calls are refused. */
  close(): void {
    this.conn.close();
  }
}
