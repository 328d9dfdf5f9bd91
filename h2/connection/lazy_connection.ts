import { H2ClientConnection } from "./connection";
import { DEFAULT_RECONNECT } from "./limits";
import type { ConnectTarget } from "./stream";

function reconnectDelay(failures: number, opts: ConnectTarget["reconnect"]): number {
  const initial = opts?.initialDelayMs ?? DEFAULT_RECONNECT.initialDelayMs;
  const max = opts?.maxDelayMs ?? DEFAULT_RECONNECT.maxDelayMs;
  const ceiling = Math.min(max, initial * 2 ** Math.min(failures - 1, 30));
  // Half fixed, half random: attempts spread out but never come back at once.
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}

/**
 * One connection to a target, opened on first use and opened again after it failed, closed or got GOAWAY.
 * After a connection that was not healthy (never got the server's SETTINGS, broke a rule, or died at once) the
 * next one dials only after a backoff (doubling, jittered, bounded by ConnectTarget.reconnect); streams opened
 * meanwhile wait in it.
 */
export class LazyConnection {
  private current: H2ClientConnection | undefined;
  private closed = false;
  private failures = 0;
  private retryAt = 0;
  private readonly forget = (conn: H2ClientConnection) => {
    if (conn.healthy) this.failures = 0;
    else {
      this.failures++;
      this.retryAt = Date.now() + reconnectDelay(this.failures, this.target.reconnect);
    }
    if (this.current === conn) this.current = undefined;
  };

  constructor(readonly target: ConnectTarget) {}

  /** The open connection, or a new one; undefined once close() was called. */
  get(): H2ClientConnection | undefined {
    const c = this.current;
    if (c !== undefined && !c.draining) return c;
    if (this.closed) return undefined;
    this.current = new H2ClientConnection(this.target, this.forget, Math.max(0, this.retryAt - Date.now()));
    return this.current;
  }

  /** Connections in a row that ended unhealthy (0 after a healthy one). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Milliseconds before a new connection may dial (0: at once). */
  get reconnectDelayMs(): number {
    return Math.max(0, this.retryAt - Date.now());
  }

  /** Drops the connection at once: its streams are lost, later get() calls answer undefined. */
  close(): void {
    this.closed = true;
    const c = this.current;
    this.current = undefined;
    c?.close(true);
  }
}
