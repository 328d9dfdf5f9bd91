import type tls from "node:tls";
import { Code } from "@prism/sdk";
import { type ConnectTarget, H2ClientConnection, parseTarget } from "../../h2";
import type { CallKind } from "./call_kind";
import { onEstablished, peerStreamLimit } from "./conn_facts";

/** Options of an Upstream. */
export interface UpstreamOptions {
  /**
   * A connection that is not up (its SETTINGS received) within this bound fails its calls; 5 s by default — a
   * launched pattern busy with thousands of streams on a loaded 2-core machine took over 2 s to greet a new one.
   */
  connectTimeoutMs?: number;
  /** Dial with TLS (a remote pattern serving TLS/mTLS): CA, client certificate and key, server name. */
  tls?: tls.ConnectionOptions;
  /** Calls the proxy puts on one connection when the pattern announces no lower SETTINGS_MAX_CONCURRENT_STREAMS. */
  streamsPerConnection?: number;
  /**
   * Streaming calls in flight to this pattern; past it they are refused at once with RESOURCE_EXHAUSTED. Unary
   * calls have a tenth more (at least 100) on top, so streams never leave them without a place.
   */
  maxStreams?: number;
  /**
   * Called when the health connection, once up, ends without the proxy retiring it: the pattern went away or
   * restarted (it holds the health Watch, so a pattern never closes it for idleness), or broke HTTP/2 on it and the
   * proxy's client closed it (`violation`: why).
   */
  onDrop?: (violation?: string) => void;
}

export const DEFAULT_STREAMS_PER_CONNECTION = 1_000;
export const DEFAULT_MAX_STREAMS = 10_000;
/** Calls placed on a connection before the pattern's SETTINGS are known. */
const UNSETTLED_STREAMS = 100;
/** Delay before dialling again after a connection attempt failed: doubles from the first to the last. */
const REDIAL_FIRST_MS = 50;
const REDIAL_MAX_MS = 1_000;

/**
 * Calls one client connection may have on the connections every client shares; its calls past this go to
 * connections of its own, so when it vanishes with thousands of calls open, the burst of resets (which a pattern
 * may answer by closing the connection: GOAWAY ENHANCE_YOUR_CALM) falls on no other client's calls.
 */
export const SHARED_CALLS_PER_CLIENT = 100;

/** One connection of the pool and the calls placed on it. */
class Pooled {
  active = 0;
  up = false;
  /** The pattern has answered on it, so its SETTINGS (which come first) are known. */
  answered = false;
  constructor(readonly conn: H2ClientConnection) {}
}

/** Where a call goes: a connection to open its stream on, and release() once the call is over. */
export interface Lease {
  readonly conn: H2ClientConnection;
  /** The connection's transport came up (a stream lost before that was never sent). */
  readonly connectionUp: () => boolean;
  /** The pattern answered on this connection (so its SETTINGS have been read). */
  answered(): void;
  release(): void;
}

/** A call the pool will not place, and the status to answer it with. */
export interface Refusal {
  readonly code: Code;
  readonly message: string;
}

/**
 * HTTP/2 connections to one pattern's gRPC endpoint, on Prism's own client (h2/). Calls are spread over
 * several connections, a new one opened when every open one holds as many calls as the pattern allows on a
 * connection (its SETTINGS_MAX_CONCURRENT_STREAMS, or `streamsPerConnection`), so no call waits behind others
 * for a stream, and one connection's loss ends only its own calls. Past `maxStreams` streaming calls in flight a
 * stream is refused at once; unary calls have headroom above that bound, so streams never crowd them out. The health Watch has a connection of its own, so it never takes a data call's stream.
 * After a failed dial, calls are refused (UNAVAILABLE) until a short, bounded delay has passed.
 */
export class Upstream {
  private readonly target: ConnectTarget;
  private readonly pool: Pooled[] = [];
  /** Per client connection (the key): its calls in flight, and the connections of its own for those past SHARED_CALLS_PER_CLIENT. */
  private readonly clients = new Map<object, { calls: number; own: Pooled[] }>();
  private health: H2ClientConnection | undefined;
  private inFlight = 0;
  private streams = 0;
  private closed = false;
  private dialFailures = 0;
  private redialAt = 0;
  /** The pattern's SETTINGS_MAX_CONCURRENT_STREAMS as last read on one of its connections. */
  private learnedLimit: number | undefined;
  readonly streamsPerConnection: number;
  readonly maxStreams: number;
  /** Unary calls may be placed while fewer than maxStreams + this are in flight. */
  readonly unaryHeadroom: number;

  constructor(
    /** host:port, or unix:PATH for a Unix domain socket (a pattern the proxy launched). */
    readonly authority: string,
    private readonly opts: UpstreamOptions = {},
  ) {
    // "refuse": a stream past the pattern's limit comes back at once, unprocessed, and the relay places it elsewhere
    // instead of waiting in that connection's queue behind streams that may never end.
    this.target = {
      ...parseTarget(authority),
      connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
      whenStreamsFull: "refuse",
      ...(opts.tls && { tls: opts.tls }),
    };
    this.streamsPerConnection = opts.streamsPerConnection ?? DEFAULT_STREAMS_PER_CONNECTION;
    this.maxStreams = opts.maxStreams ?? DEFAULT_MAX_STREAMS;
    this.unaryHeadroom = Math.max(100, Math.ceil(this.maxStreams / 10));
  }

  /** Calls placed and not yet released. */
  get callsInFlight(): number {
    return this.inFlight;
  }

  /** Unary calls placed and not yet released. */
  get unaryInFlight(): number {
    return this.inFlight - this.streams;
  }

  /** Open data connections (shared, and clients' own). */
  get connections(): number {
    let n = this.pool.length;
    for (const c of this.clients.values()) n += c.own.length;
    return n;
  }

  /**
   * Places one call on the least busy connection with a free stream (opening one if none has), or refuses it.
   * `client` (the caller's connection) keeps a client with many calls on connections of its own; `avoid` is a
   * connection not to use (a retry's).
   */
  place(kind: CallKind, client?: object, avoid?: H2ClientConnection): Lease | Refusal {
    if (this.closed) return { code: Code.UNAVAILABLE, message: "not reachable: the connection was closed" };
    const stream = kind === "stream";
    if (stream ? this.streams >= this.maxStreams : this.inFlight >= this.maxStreams + this.unaryHeadroom) {
      const what = stream ? `${this.streams} streaming calls in flight` : `${this.inFlight} calls in flight`;
      const limit = stream ? `max_streams ${this.maxStreams}` : `max_streams ${this.maxStreams} + ${this.unaryHeadroom} for unary calls`;
      return { code: Code.RESOURCE_EXHAUSTED, message: `has ${what}, its limit (${limit}); retry later` };
    }
    let mine = client === undefined ? undefined : this.clients.get(client);
    if (client !== undefined && mine === undefined) this.clients.set(client, (mine = { calls: 0, own: [] }));
    const group = mine !== undefined && mine.calls >= SHARED_CALLS_PER_CLIENT ? mine.own : this.pool;
    let best: Pooled | undefined;
    let spare = 0;
    for (const p of group) {
      if (p.conn.draining || p.conn === avoid) continue;
      const free = this.capacity(p) - p.active;
      if (free > spare) {
        best = p;
        spare = free;
      }
    }
    if (best === undefined) {
      const fresh = this.dial(group);
      if (fresh === undefined) return { code: Code.UNAVAILABLE, message: "not reachable: the last connection attempt failed; retry later" };
      best = fresh;
    }
    const p = best;
    p.active++;
    this.inFlight++;
    if (stream) this.streams++;
    if (mine !== undefined) mine.calls++;
    let released = false;
    return {
      conn: p.conn,
      connectionUp: () => p.up,
      answered: () => {
        p.answered = true;
      },
      release: () => {
        if (released) return;
        released = true;
        p.active--;
        this.inFlight--;
        if (stream) this.streams--;
        if (mine !== undefined && --mine.calls === 0) this.clients.delete(client!);
        // A client's own connection is closed once its last call is done.
        if (group !== this.pool && p.active === 0) {
          const i = group.indexOf(p);
          if (i >= 0) group.splice(i, 1);
          p.conn.close();
        }
      },
    };
  }

  /** True when `conn` is one of this pattern's data connections. */
  owns(conn: H2ClientConnection): boolean {
    if (this.pool.some((p) => p.conn === conn)) return true;
    for (const c of this.clients.values()) if (c.own.some((p) => p.conn === conn)) return true;
    return false;
  }

  /** A connection only for the pattern's health Watch, opened again after it ends. */
  healthConnection(): H2ClientConnection | undefined {
    if (this.closed) return undefined;
    if (this.health === undefined || this.health.draining)
      this.health = this.open((c, wasUp) => wasUp && !this.closed && this.opts.onDrop?.(c.violated ? c.closeReason : undefined));
    return this.health;
  }

  /** Refuses new calls and lets those in flight finish: each connection closes once its last call is done. */
  retire(): void {
    this.closed = true;
    for (const p of this.pool.splice(0)) p.conn.close();
    for (const c of this.clients.values()) for (const p of c.own.splice(0)) p.conn.close();
    this.health?.close(true);
    this.health = undefined;
  }

  /** Drops every connection at once (the pattern is gone): calls in flight fail, later calls are refused. */
  close(): void {
    this.closed = true;
    for (const p of this.pool.splice(0)) p.conn.close(true);
    for (const c of this.clients.values()) for (const p of c.own.splice(0)) p.conn.close(true);
    this.health?.close(true);
    this.health = undefined;
  }

  private capacity(p: Pooled): number {
    const peer = peerStreamLimit(p.conn);
    if (peer !== undefined) {
      this.learnedLimit = peer;
      return Math.min(peer, this.streamsPerConnection);
    }
    // Until its SETTINGS are read: the limit another connection to the same pattern announced, or else no more than
    // the 100 streams RFC 9113 §6.5.2 asks every peer to allow.
    const guess = this.learnedLimit ?? (p.answered ? this.streamsPerConnection : UNSETTLED_STREAMS);
    return Math.min(guess, this.streamsPerConnection);
  }

  private dial(group: Pooled[]): Pooled | undefined {
    if (Date.now() < this.redialAt) return undefined;
    const conn = this.open((c, wasUp) => {
      const i = group.findIndex((x) => x.conn === c);
      if (i >= 0) group.splice(i, 1);
      if (!wasUp) {
        this.dialFailures++;
        this.redialAt = Date.now() + Math.min(REDIAL_MAX_MS, REDIAL_FIRST_MS * 2 ** (this.dialFailures - 1));
      }
    });
    const p = new Pooled(conn);
    onEstablished(conn, this.opts.tls !== undefined, () => {
      p.up = true;
      this.dialFailures = 0;
      this.redialAt = 0;
    });
    group.push(p);
    return p;
  }

  /** A new connection; `ended(conn, wasUp)` once it is gone. */
  private open(ended: (conn: H2ClientConnection, wasUp: boolean) => void): H2ClientConnection {
    let up = false;
    const conn = new H2ClientConnection(this.target, (c) => ended(c, up));
    onEstablished(conn, this.opts.tls !== undefined, () => (up = true));
    return conn;
  }
}

/** True when place() refused the call. */
export function isRefusal(x: Lease | Refusal): x is Refusal {
  return (x as Refusal).code !== undefined;
}
