import type tls from "node:tls";

/** What onLost adds about a stream that ended without its response. */
export interface LostInfo {
  /**
   * The server certainly did not process the stream: it never went out (the connection failed first, it waited
   * and was refused locally), or its id was above a GOAWAY's last-stream-id. Safe to retry, anywhere.
   */
  readonly unprocessed: boolean;
  /** Bytes of the request (its HEADERS at least) were handed to the socket: the server may have acted on it. */
  readonly requestWritten: boolean;
}

/**
 * What a stream's owner hears. Every stream ends with exactly one of: an END_STREAM, onReset, or onLost.
 * onReset(REFUSED_STREAM) also means the server did not process the stream (RFC 9113 §8.7).
 */
export interface StreamListener {
  /** One header field of the response headers or of the trailers, in order. */
  onField(name: string, value: string): void;
  /** The end of a header block (the first is the response headers, a later one the trailers). */
  onHeadersEnd(endStream: boolean): void;
  /** Body bytes (a view into the received data; keep it, do not expect a copy). */
  onData(chunk: Uint8Array, endStream: boolean): void;
  /** The server reset the stream with this HTTP/2 error code. */
  onReset(code: number): void;
  /**
   * The connection failed or went away before the stream ended, the stream was refused locally (stream limit,
   * queue full), or this side reset it because the server broke a rule on it (then `requestWritten` is true and
   * `unprocessed` false). `info` says whether a retry is safe.
   */
  onLost(reason: string, info?: LostInfo): void;
  /** What write() queued has gone out (after write() returned false). */
  onDrain?(): void;
  /**
   * The server sent GOAWAY and this stream is at or below its last-stream-id: it may still finish, but the server
   * wants to close, so a long-lived stream should end and be opened again (on a new connection).
   */
  onGoaway?(code: number): void;
}

/** Where to connect. */
export interface ConnectTarget {
  host?: string;
  port?: number;
  /** A Unix domain socket instead of host:port. */
  path?: string;
  /** TLS with ALPN "h2" (CA, client certificate and key, server name: by default the host unless it is an IP address). */
  tls?: tls.ConnectionOptions;
  /** The connection fails (its streams are lost, unprocessed) if the server's first SETTINGS has not arrived within this bound. */
  connectTimeoutMs?: number;
  /**
   * A stream opened while the server's SETTINGS_MAX_CONCURRENT_STREAMS are in use: "queue" (the default) waits
   * for a free stream; "refuse" loses it at once (onLost, unprocessed), so the caller can go elsewhere.
   */
  whenStreamsFull?: "queue" | "refuse";
  /** Streams that may wait (for the server's first SETTINGS, or for a free stream); more are refused (onLost, unprocessed). Default 4096. */
  maxQueuedStreams?: number;
  /** LazyConnection's delay before dialing again after a connection failed: doubling from initialDelayMs to maxDelayMs, jittered. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
}

/** What onLost says about a stream that never went out, and about one the server had (this side reset it). */
export const UNSENT: LostInfo = { unprocessed: true, requestWritten: false };
export const PROCESSED: LostInfo = { unprocessed: false, requestWritten: true };

/** One stream of the connection. */
export class ClientStream {
  id = 0;
  sendWindow = 0;
  /** Received bytes not yet returned to the server as window. */
  received = 0;
  /** While held, received data is not credited back: the server stops sending once the window is used. */
  held = false;
  /** Body chunks not yet sent, and their total size. */
  readonly queue: Uint8Array[] = [];
  queued = 0;
  /** END_STREAM requested (after the queue), and sent. */
  ending = false;
  endSent = false;
  wantDrain = false;
  done = false;
  /** The response headers arrived (a later header block is the trailers). */
  responded = false;
  /** The connection's flush that writes this stream's HEADERS (0: not yet queued). */
  flushAt = 0;
  constructor(
    readonly block: Uint8Array,
    readonly listener: StreamListener,
  ) {}
}
