import type net from "node:net";
import type { ClientStream, H2ClientConnection } from "../../h2";

/**
 * What the pool and the relay need to know about a connection that h2/'s public API does not say: when its
 * transport connected (from then on request bytes may reach the server), and, for a listener given no LostInfo,
 * whether a lost stream certainly went unprocessed. The stream limit comes from the public getter.
 */
interface Exposed {
  /** Resolves once the server's first SETTINGS arrived (the name h2/ is asked to expose). */
  ready?: Promise<unknown>;
  socket?: net.Socket;
}

/** The peer's SETTINGS_MAX_CONCURRENT_STREAMS, or undefined while it has not announced one. */
export function peerStreamLimit(conn: H2ClientConnection): number | undefined {
  const v = conn.maxConcurrentStreams;
  return Number.isFinite(v) ? v : undefined;
}

/**
 * Calls `fn` once the connection is up: its transport connected (from then on request bytes may reach the
 * server), or else, if that cannot be observed, its first SETTINGS arrived. When neither can be, it calls `fn` at
 * once: a stream lost on it then counts as possibly processed (UNKNOWN, never retried), the safe side.
 */
export function onEstablished(conn: H2ClientConnection, tls: boolean, fn: () => void): void {
  const c = conn as unknown as Exposed;
  if (c.socket !== undefined) return void c.socket.once(tls ? "secureConnect" : "connect", fn);
  if (c.ready instanceof Promise) return void c.ready.then(fn, () => undefined);
  fn();
}

/**
 * True when the pattern certainly did not process the stream: it never left the proxy (still queued for a free
 * stream, or the connection never came up), or the pattern said so (REFUSED_STREAM, or above GOAWAY's last id).
 */
export function neverProcessed(s: ClientStream, reason: string, connectionUp: boolean): boolean {
  const f = s as unknown as { neverProcessed?: boolean; requestBytesWritten?: number };
  if (f.neverProcessed === true) return true;
  if (f.requestBytesWritten === 0) return true;
  if (s.id === 0 || !connectionUp) return true;
  // h2/ loses streams above GOAWAY's last-stream-id with this reason, and new streams on a draining connection with the second.
  return reason.startsWith("the server is going away") || reason === "the connection is not accepting new calls";
}
