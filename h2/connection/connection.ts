import net from "node:net";
import tls from "node:tls";
import {
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  ERROR,
  FLAG,
  FRAME,
  FRAME_HEADER_BYTES,
  frame,
  goawayFrame,
  MAX_FRAME_SIZE_LIMIT,
  MAX_STREAM_ID,
  MAX_WINDOW,
  PREFACE,
  rstStreamFrame,
  SETTING,
  settingsFrame,
  windowUpdateFrame,
  writeFrameHeader,
} from "../codec/frames";

import { FrameReader } from "../codec/frame_reader";
import { HpackDecoder, type OnHeaderField } from "../codec/hpack";
import {
  DEFAULT_MAX_QUEUED_STREAMS,
  DEFAULT_RECONNECT,
  HEADER_TABLE_SIZE,
  MAX_CONTINUATION_FRAMES,
  MAX_HEADER_BLOCK_BYTES,
  MAX_HEADER_LIST_SIZE,
  MAX_IDLE_FRAMES_PER_SECOND,
  MAX_QUEUED_CONTROL_FRAMES,
  SOCKET_HIGH_WATER,
} from "../codec/limits";

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

/** Receive windows this side announces: wide, so a peer rarely waits for WINDOW_UPDATE frames. */
const LOCAL_STREAM_WINDOW = 4 * 1024 * 1024;
const LOCAL_CONNECTION_WINDOW = 16 * 1024 * 1024;

/** Bytes queued on a stream beyond which write() asks the caller to wait for onDrain. */
const HIGH_WATER = 1024 * 1024;

/** A connection that lived this long after the server's SETTINGS counts as healthy for LazyConnection's backoff. */
const HEALTHY_AFTER_MS = 1_000;

const UNSENT: LostInfo = { unprocessed: true, requestWritten: false };
const PROCESSED: LostInfo = { unprocessed: false, requestWritten: true };

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

/** A header block being received over HEADERS and CONTINUATION frames. */
interface PartialBlock {
  stream: number;
  endStream: boolean;
  parts: Uint8Array[];
  bytes: number;
  frames: number;
}

/**
 * The client side of one HTTP/2 connection (RFC 9113), written for gRPC calls: it opens streams with a
 * prepared header block and a body, sends the body within the peer's flow-control windows, returns receive
 * window as data is consumed, decodes every header block with HPACK and hands fields, data, resets and
 * connection loss to each stream's listener. Writes made in one turn of the event loop go out in one socket
 * write. No server push, no priorities, no stream-level dependency handling.
 *
 * The server is not trusted: every connection error RFC 9113 names ends the connection with GOAWAY and the
 * error code, stream errors reset the stream, and everything the server controls is bounded (limits.ts):
 * frame sizes, header list and header block sizes, CONTINUATION frames, flow-control windows both ways, frames
 * that carry no response (floods end with ENHANCE_YOUR_CALM), control replies queued while it does not read.
 * Streams wait until the server's first SETTINGS has been read and stay within its concurrent-stream limit.
 */
export class H2ClientConnection {
  private socket: net.Socket | undefined;
  private readonly reader: FrameReader;
  private readonly streams = new Map<number, ClientStream>();
  private readonly waiting: ClientStream[] = [];
  private readonly blocked = new Set<ClientStream>();
  private readonly decoder = new HpackDecoder(HEADER_TABLE_SIZE);
  private readonly refuseWhenFull: boolean;
  private readonly maxQueued: number;
  private nextId = 1;
  private connSendWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private peerMaxStreams = Number.POSITIVE_INFINITY;
  private goawayLast = MAX_STREAM_ID;
  private unackedReceive = 0;
  private continuation: PartialBlock | undefined;
  /** Fields of the header block being decoded, delivered once the whole block is known to be within bounds. */
  private readonly names: string[] = [];
  private readonly values: string[] = [];
  private fieldCount = 0;
  private listSize = 0;
  private readonly collect: OnHeaderField = (name, value) => {
    this.listSize += name.length + value.length + 32;
    if (this.listSize > MAX_HEADER_LIST_SIZE) return;
    this.names[this.fieldCount] = name;
    this.values[this.fieldCount] = value;
    this.fieldCount++;
  };
  private readonly out: Uint8Array[] = [];
  private outBytes = 0;
  private flushes = 0;
  private flushQueued = false;
  private readonly flushOut = () => this.flush();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private idleFrames = 0;
  private idleSince = 0;
  private queuedControl = 0;
  private closedResets = 0;
  /** A body stopped at SOCKET_HIGH_WATER: it goes on once the socket takes what was written. */
  private socketFull = false;
  private readyAt = 0;
  private completed = 0;
  /** The server's first SETTINGS has been read: streams may go out. */
  ready = false;
  /** No new streams: it failed, was closed, got GOAWAY, or ran out of stream ids. */
  draining = false;
  closed = false;
  /** Why the connection ended (set once closed). */
  closeReason: string | undefined;
  /** The server broke a protocol rule or a bound, and the connection was closed for it. */
  violated = false;
  /** The error code of the server's GOAWAY, if one came. */
  goawayCode: number | undefined;

  constructor(
    private readonly target: ConnectTarget,
    private readonly onClosed: (conn: H2ClientConnection) => void = () => undefined,
    /** Dial only after this delay (LazyConnection's backoff); streams opened meanwhile wait. */
    dialDelayMs = 0,
  ) {
    this.refuseWhenFull = target.whenStreamsFull === "refuse";
    this.maxQueued = target.maxQueuedStreams ?? DEFAULT_MAX_QUEUED_STREAMS;
    this.reader = new FrameReader(
      DEFAULT_MAX_FRAME,
      (type, flags, id, payload) => {
        this.frame(type, flags, id, payload);
        return !this.closed;
      },
      (len) => this.protocolError(ERROR.FRAME_SIZE_ERROR, `a frame of ${len} bytes (max ${DEFAULT_MAX_FRAME})`),
    );
    this.push(PREFACE);
    this.push(
      settingsFrame([
        [SETTING.HEADER_TABLE_SIZE, HEADER_TABLE_SIZE],
        [SETTING.ENABLE_PUSH, 0],
        [SETTING.INITIAL_WINDOW_SIZE, LOCAL_STREAM_WINDOW],
        [SETTING.MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST_SIZE],
      ]),
    );
    this.push(windowUpdateFrame(0, LOCAL_CONNECTION_WINDOW - DEFAULT_WINDOW));
    if (dialDelayMs > 0) {
      this.timer = setTimeout(() => this.dial(), dialDelayMs);
      this.timer.unref?.();
    } else this.dial();
  }

  /** Streams open on the connection (sent, not ended). */
  get activeStreams(): number {
    return this.streams.size;
  }

  /** Streams waiting for the server's first SETTINGS or for a free stream. */
  get queuedStreams(): number {
    return this.waiting.length;
  }

  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS (Infinity until it names one). */
  get maxConcurrentStreams(): number {
    return this.peerMaxStreams;
  }

  /** Whether the connection is ready, not draining and below the server's stream limit: open() starts a stream at once. */
  get hasCapacity(): boolean {
    return this.ready && !this.draining && this.streams.size < this.peerMaxStreams;
  }

  /**
   * Healthy for reconnection purposes: the server's SETTINGS came, it broke no rule, and a stream completed or
   * the connection lived a while. LazyConnection backs off after connections that were not.
   */
  get healthy(): boolean {
    return this.ready && !this.violated && (this.completed > 0 || performance.now() - this.readyAt >= HEALTHY_AFTER_MS);
  }

  /** Whether any bytes of this stream's request (its HEADERS at least) were handed to the socket. */
  requestWritten(s: ClientStream): boolean {
    return s.flushAt !== 0 && s.flushAt <= this.flushes;
  }

  /**
   * Opens a stream: HEADERS with `block`, then `body` as DATA; with `end` the body is all and END_STREAM follows it,
   * otherwise write() and end() send the rest. Before the server's first SETTINGS, and beyond its stream limit
   * (unless whenStreamsFull is "refuse"), it waits.
   */
  open(block: Uint8Array, body: Uint8Array | undefined, listener: StreamListener, end = true): ClientStream {
    const s = new ClientStream(block, listener);
    if (body !== undefined && body.length > 0) {
      s.queue.push(body);
      s.queued = body.length;
    }
    s.ending = end;
    if (this.draining) this.refuse(s, "the connection is not accepting new calls");
    else if (this.ready && this.streams.size < this.peerMaxStreams) this.start(s);
    else if (this.ready && this.refuseWhenFull) this.refuse(s, `the server's limit of ${this.peerMaxStreams} concurrent streams is reached`);
    else if (this.waiting.length >= this.maxQueued) this.refuse(s, `${this.waiting.length} calls already wait for the connection`);
    else this.waiting.push(s);
    return s;
  }

  /** Queues body bytes; false when the caller should wait for the listener's onDrain before writing more. */
  write(s: ClientStream, chunk: Uint8Array): boolean {
    if (s.done || s.ending || this.closed) return true;
    if (chunk.length > 0) {
      s.queue.push(chunk);
      s.queued += chunk.length;
    }
    if (s.id !== 0) this.sendBody(s);
    if (s.queued < HIGH_WATER) return true;
    s.wantDrain = true;
    return false;
  }

  /** Ends the request body (END_STREAM once the queue is sent). */
  end(s: ClientStream): void {
    if (s.done || s.ending) return;
    s.ending = true;
    if (s.id !== 0) this.sendBody(s);
  }

  /** Stops returning receive window for a stream (its reader is behind) until release(). */
  hold(s: ClientStream): void {
    s.held = true;
  }

  release(s: ClientStream): void {
    s.held = false;
    if (s.received > 0 && !s.done) {
      this.push(windowUpdateFrame(s.id, s.received));
      s.received = 0;
    }
  }

  /** Ends a stream from this side (RST_STREAM); its listener hears nothing more. */
  cancel(s: ClientStream, code: number = ERROR.CANCEL): void {
    if (s.id === 0) {
      const i = this.waiting.indexOf(s);
      if (i >= 0) this.waiting.splice(i, 1);
      s.done = true;
      return;
    }
    if (!this.streams.has(s.id)) return;
    this.push(rstStreamFrame(s.id, code));
    this.finish(s);
  }

  /** Closes gracefully: GOAWAY, and the socket once open streams are done (at once with `now`). */
  close(now = false): void {
    if (this.closed) return;
    this.draining = true;
    if (now || this.streams.size === 0) {
      this.push(goawayFrame(0, ERROR.NO_ERROR));
      this.flush();
      this.fail("the connection was closed");
    }
  }

  private dial(): void {
    if (this.closed) return;
    const target = this.target;
    const t = target.tls;
    let socket: net.Socket;
    if (t) {
      const opts: tls.ConnectionOptions = { ...t, ALPNProtocols: ["h2"], ...(target.path ? { path: target.path } : { host: target.host, port: target.port }) };
      if (opts.servername === undefined && target.host !== undefined && net.isIP(target.host) === 0) opts.servername = target.host;
      socket = tls.connect(opts, () => {
        const alpn = (socket as tls.TLSSocket).alpnProtocol;
        if (alpn !== "h2") this.fail(`the server did not agree to HTTP/2 over TLS (ALPN ${alpn || "none"})`);
      });
    } else {
      socket = target.path ? net.connect(target.path) : net.connect(target.port ?? 0, target.host ?? "127.0.0.1");
    }
    this.socket = socket;
    socket.setNoDelay?.(true);
    socket.on("data", (chunk: Buffer) => this.reader.push(chunk));
    socket.on("error", (err) => this.fail(err.message));
    socket.on("close", () => this.fail("the connection closed"));
    socket.on("drain", () => {
      this.queuedControl = 0;
      this.socketFull = false;
      this.resumeBlocked();
    });
    const limit = target.connectTimeoutMs ?? 5_000;
    this.timer = setTimeout(() => this.fail(`no HTTP/2 SETTINGS from the server within ${limit} ms`), limit);
    this.timer.unref?.();
    socket.unref?.();
    this.flush();
  }

  /** Loses a stream that never went out (refused locally), after open() returned. */
  private refuse(s: ClientStream, reason: string): void {
    s.done = true;
    queueMicrotask(() => s.listener.onLost(reason, UNSENT));
  }

  private start(s: ClientStream): void {
    const id = this.nextId;
    this.nextId += 2;
    if (this.nextId > MAX_STREAM_ID) this.draining = true;
    s.id = id;
    s.sendWindow = this.peerInitialWindow;
    s.flushAt = this.flushes + 1;
    this.streams.set(id, s);
    const block = s.block;
    const body = s.queue.length === 1 ? s.queue[0]! : undefined;
    if (s.ending && body !== undefined && block.length <= this.peerMaxFrame && body.length <= Math.min(s.sendWindow, this.connSendWindow, this.peerMaxFrame)) {
      // The common case: HEADERS and the whole body in one buffer.
      const buf = Buffer.allocUnsafe(2 * FRAME_HEADER_BYTES + block.length + body.length);
      writeFrameHeader(buf, 0, block.length, FRAME.HEADERS, FLAG.END_HEADERS, id);
      buf.set(block, FRAME_HEADER_BYTES);
      const d = FRAME_HEADER_BYTES + block.length;
      writeFrameHeader(buf, d, body.length, FRAME.DATA, FLAG.END_STREAM, id);
      buf.set(body, d + FRAME_HEADER_BYTES);
      s.sendWindow -= body.length;
      this.connSendWindow -= body.length;
      s.queue.length = 0;
      s.queued = 0;
      s.endSent = true;
      this.push(buf);
      return;
    }
    const endNow = s.ending && s.queued === 0;
    this.sendHeaders(id, block, endNow);
    if (endNow) s.endSent = true;
    else this.sendBody(s);
  }

  private sendHeaders(id: number, block: Uint8Array, endStream: boolean): void {
    const max = this.peerMaxFrame;
    let off = 0;
    let type: number = FRAME.HEADERS;
    do {
      const n = Math.min(max, block.length - off);
      const last = off + n === block.length;
      const flags = (last ? FLAG.END_HEADERS : 0) | (type === FRAME.HEADERS && endStream ? FLAG.END_STREAM : 0);
      this.pushFrame(type, flags, id, block.subarray(off, off + n));
      off += n;
      type = FRAME.CONTINUATION;
    } while (off < block.length);
  }

  /**
   * Sends what the windows allow of a stream's queued body (and END_STREAM after it); the rest waits for
   * WINDOW_UPDATE, or for the socket to drain when the server does not read.
   */
  private sendBody(s: ClientStream): void {
    const q = s.queue;
    while (q.length > 0) {
      const chunk = q[0]!;
      const n = Math.min(chunk.length, s.sendWindow, this.connSendWindow, this.peerMaxFrame);
      if (n <= 0) break;
      if (this.backlog() > SOCKET_HIGH_WATER) {
        this.socketFull = true;
        break;
      }
      const whole = n === chunk.length;
      const end = whole && q.length === 1 && s.ending;
      this.pushFrame(FRAME.DATA, end ? FLAG.END_STREAM : 0, s.id, whole ? chunk : chunk.subarray(0, n));
      if (end) s.endSent = true;
      s.sendWindow -= n;
      this.connSendWindow -= n;
      s.queued -= n;
      if (whole) q.shift();
      else q[0] = chunk.subarray(n);
    }
    if (q.length === 0 && s.ending && !s.endSent) {
      this.push(frame(FRAME.DATA, FLAG.END_STREAM, s.id));
      s.endSent = true;
    }
    if (q.length > 0) this.blocked.add(s);
    else this.blocked.delete(s);
    if (s.wantDrain && s.queued < HIGH_WATER / 2) {
      s.wantDrain = false;
      s.listener.onDrain?.();
    }
  }

  private resumeBlocked(): void {
    if (this.blocked.size > 0) for (const s of [...this.blocked]) this.sendBody(s);
  }

  private startWaiting(): void {
    while (this.waiting.length > 0 && this.ready && this.streams.size < this.peerMaxStreams && !this.draining) this.start(this.waiting.shift()!);
  }

  /** Bytes written but not yet taken by the socket, and queued for the next write. */
  private backlog(): number {
    return (this.socket?.writableLength ?? 0) + this.outBytes;
  }

  private finish(s: ClientStream, remoteEnded = false): void {
    s.done = true;
    // The server finished first (a status before the whole request): this side's half is closed with a reset.
    if (remoteEnded) {
      this.completed++;
      if (!s.endSent && !this.closed) this.push(rstStreamFrame(s.id, ERROR.CANCEL));
    }
    this.streams.delete(s.id);
    this.blocked.delete(s);
    this.startWaiting();
    if (this.draining && this.streams.size === 0 && !this.closed) this.close(true);
  }

  /** Queues a frame: its 9-byte header, then the payload as it is (no copy; the flush writes both). */
  private pushFrame(type: number, flags: number, id: number, payload: Uint8Array): void {
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    writeFrameHeader(header, 0, payload.length, type, flags, id);
    this.push(header);
    if (payload.length > 0) this.push(payload);
  }

  private push(buf: Uint8Array): void {
    if (this.closed) return;
    this.out.push(buf);
    this.outBytes += buf.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flushOut);
    }
  }

  /** A reply the server's frame asks for (PING or SETTINGS ACK): bounded while the socket does not drain. */
  private controlReply(buf: Uint8Array): void {
    if (this.socket?.writableNeedDrain && ++this.queuedControl > MAX_QUEUED_CONTROL_FRAMES)
      return this.protocolError(ERROR.ENHANCE_YOUR_CALM, `more than ${MAX_QUEUED_CONTROL_FRAMES} control replies wait while the server does not read`);
    this.push(buf);
  }

  private flush(): void {
    this.flushQueued = false;
    const out = this.out;
    if (out.length === 0 || this.closed || this.socket === undefined) return;
    const taken = this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out, this.outBytes));
    out.length = 0;
    this.outBytes = 0;
    this.flushes++;
    // Bodies stopped at the water mark go on at once if the socket took everything, else at its 'drain'.
    if (this.socketFull && taken) {
      this.socketFull = false;
      this.resumeBlocked();
    }
  }

  /** The connection is unusable: every stream is lost. With `flushFirst`, what was written (a GOAWAY) goes out before the socket closes. */
  private fail(reason: string, flushFirst = false): void {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    this.closeReason = reason;
    clearTimeout(this.timer);
    const open = [...this.streams.values()];
    const waiting = this.waiting.splice(0);
    const written = open.map((s) => this.requestWritten(s));
    this.streams.clear();
    this.blocked.clear();
    this.out.length = 0;
    this.outBytes = 0;
    this.continuation = undefined;
    const socket = this.socket;
    if (socket !== undefined && flushFirst && !socket.destroyed) {
      // Close once the GOAWAY is out, and at the latest after a second.
      socket.end();
      setTimeout(() => socket.destroy(), 1_000).unref?.();
    } else socket?.destroy();
    open.forEach((s, i) => {
      s.done = true;
      s.listener.onLost(reason, written[i] ? { unprocessed: false, requestWritten: true } : UNSENT);
    });
    for (const s of waiting) {
      s.done = true;
      s.listener.onLost(reason, UNSENT);
    }
    this.onClosed(this);
  }

  /** A connection error by the server: GOAWAY with the code, then the connection fails. */
  private protocolError(code: number, why: string): void {
    if (this.closed) return;
    this.violated = true;
    this.push(goawayFrame(0, code));
    this.flush();
    this.fail(`HTTP/2 protocol error from the server: ${why}`, true);
  }

  /** A stream error by the server: RST_STREAM with the code; the stream is lost (it had been sent). */
  private streamError(s: ClientStream, code: number, why: string): void {
    this.push(rstStreamFrame(s.id, code));
    this.finish(s);
    s.listener.onLost(`HTTP/2 stream error from the server: ${why}`, PROCESSED);
  }

  /** Counts a frame that carries no response; true when their rate is a flood and the connection was closed. */
  private idleFrame(): boolean {
    const now = performance.now();
    if (now - this.idleSince >= 1_000) {
      this.idleSince = now;
      this.idleFrames = 0;
    }
    if (++this.idleFrames <= MAX_IDLE_FRAMES_PER_SECOND) return false;
    this.protocolError(ERROR.ENHANCE_YOUR_CALM, `more than ${MAX_IDLE_FRAMES_PER_SECOND} frames a second that carry no response (PING, SETTINGS, RST_STREAM…)`);
    return true;
  }

  /** A stream id this side never opened: even (push is off) or not reached yet. */
  private isIdle(id: number): boolean {
    return (id & 1) === 0 || id >= this.nextId;
  }

  private frame(type: number, flags: number, id: number, payload: Buffer): void {
    if (this.continuation !== undefined && type !== FRAME.CONTINUATION) return this.protocolError(ERROR.PROTOCOL_ERROR, "a header block was interrupted");
    switch (type) {
      case FRAME.DATA:
        return this.onDataFrame(flags, id, payload);
      case FRAME.HEADERS:
        return this.onHeadersFrame(flags, id, payload);
      case FRAME.PRIORITY:
        if (id === 0) return this.protocolError(ERROR.PROTOCOL_ERROR, "PRIORITY on stream 0");
        if (this.idleFrame()) return;
        if (payload.length !== 5) return this.resetStream(id, ERROR.FRAME_SIZE_ERROR, "a PRIORITY frame of the wrong size");
        if ((payload.readUInt32BE(0) & 0x7fffffff) === id) return this.resetStream(id, ERROR.PROTOCOL_ERROR, "a stream that depends on itself");
        return;
      case FRAME.RST_STREAM: {
        if (id === 0) return this.protocolError(ERROR.PROTOCOL_ERROR, "RST_STREAM on stream 0");
        if (payload.length !== 4) return this.protocolError(ERROR.FRAME_SIZE_ERROR, "an RST_STREAM of the wrong size");
        if (this.isIdle(id)) return this.protocolError(ERROR.PROTOCOL_ERROR, `RST_STREAM on stream ${id}, which was never opened`);
        const s = this.streams.get(id);
        // One reset per stream can cross this side's own RST_STREAM; more resets of closed streams than streams
        // ever opened are a flood.
        if (s === undefined) return void (++this.closedResets > this.nextId >>> 1 && this.idleFrame());
        this.finish(s);
        s.listener.onReset(payload.readUInt32BE(0));
        return;
      }
      case FRAME.SETTINGS:
        return this.onSettings(flags, id, payload);
      case FRAME.PUSH_PROMISE:
        return this.protocolError(ERROR.PROTOCOL_ERROR, "PUSH_PROMISE although push is disabled");
      case FRAME.PING:
        if (id !== 0) return this.protocolError(ERROR.PROTOCOL_ERROR, "PING on a stream");
        if (payload.length !== 8) return this.protocolError(ERROR.FRAME_SIZE_ERROR, "a PING of the wrong size");
        if (this.idleFrame()) return;
        if (!(flags & FLAG.ACK)) this.controlReply(frame(FRAME.PING, FLAG.ACK, 0, payload));
        return;
      case FRAME.GOAWAY:
        return this.onGoaway(id, payload);
      case FRAME.WINDOW_UPDATE:
        return this.onWindowUpdate(id, payload);
      case FRAME.CONTINUATION:
        return this.onContinuation(flags, id, payload);
      default:
        return void this.idleFrame(); // unknown types are ignored (RFC 9113 §4.1), within the rate
    }
  }

  /** A stream error on a stream that may or may not be this side's open stream. */
  private resetStream(id: number, code: number, why: string): void {
    const s = this.streams.get(id);
    if (s !== undefined) this.streamError(s, code, why);
    else if (!this.isIdle(id)) this.push(rstStreamFrame(id, code));
  }

  private onDataFrame(flags: number, id: number, payload: Buffer): void {
    if (id === 0) return this.protocolError(ERROR.PROTOCOL_ERROR, "DATA on stream 0");
    if (this.isIdle(id)) return this.protocolError(ERROR.PROTOCOL_ERROR, `DATA on stream ${id}, which was never opened`);
    // Flow control counts the whole payload, padding included.
    const len = payload.length;
    this.unackedReceive += len;
    if (this.unackedReceive > LOCAL_CONNECTION_WINDOW) return this.protocolError(ERROR.FLOW_CONTROL_ERROR, "DATA beyond the connection's receive window");
    if (this.unackedReceive >= LOCAL_CONNECTION_WINDOW / 2) {
      this.push(windowUpdateFrame(0, this.unackedReceive));
      this.unackedReceive = 0;
    }
    const endStream = (flags & FLAG.END_STREAM) !== 0;
    if (len === 0 && !endStream && this.idleFrame()) return;
    const s = this.streams.get(id);
    if (s === undefined) return;
    let data: Uint8Array = payload;
    if (flags & FLAG.PADDED) {
      if (len === 0 || payload[0]! >= len) return this.protocolError(ERROR.PROTOCOL_ERROR, "DATA padding exceeds the frame");
      data = payload.subarray(1, len - payload[0]!);
    }
    // Bun's server ends a stream it closes with a code by an empty DATA frame and no headers: the listener sees a
    // response without a status. Any other DATA before the response headers is malformed (RFC 9113 §8.1).
    if (!s.responded && !(len === 0 && endStream)) return this.streamError(s, ERROR.PROTOCOL_ERROR, "DATA before the response headers");
    if (endStream) this.finish(s, true);
    else {
      s.received += len;
      if (s.received > LOCAL_STREAM_WINDOW) return this.streamError(s, ERROR.FLOW_CONTROL_ERROR, "DATA beyond the stream's receive window");
      if (!s.held && s.received >= LOCAL_STREAM_WINDOW / 2) {
        this.push(windowUpdateFrame(id, s.received));
        s.received = 0;
      }
    }
    s.listener.onData(data, endStream);
  }

  private onHeadersFrame(flags: number, id: number, payload: Buffer): void {
    if (id === 0) return this.protocolError(ERROR.PROTOCOL_ERROR, "HEADERS on stream 0");
    if (this.isIdle(id)) return this.protocolError(ERROR.PROTOCOL_ERROR, `HEADERS on stream ${id}, which was never opened`);
    let start = 0;
    let end = payload.length;
    if (flags & FLAG.PADDED) {
      if (end === 0) return this.protocolError(ERROR.FRAME_SIZE_ERROR, "a padded HEADERS frame without its pad length");
      start = 1;
      end -= payload[0]!;
    }
    let selfDependent = false;
    if (flags & FLAG.PRIORITY) {
      if (start + 5 <= end) selfDependent = (payload.readUInt32BE(start) & 0x7fffffff) === id;
      start += 5;
    }
    if (start > end) return this.protocolError(ERROR.PROTOCOL_ERROR, "HEADERS padding exceeds the frame");
    const fragment = payload.subarray(start, end);
    const endStream = (flags & FLAG.END_STREAM) !== 0;
    if (flags & FLAG.END_HEADERS) return this.onHeaderBlock(id, endStream, fragment, selfDependent);
    this.continuation = { stream: id, endStream, parts: [fragment], bytes: fragment.length, frames: 0 };
  }

  private onContinuation(flags: number, id: number, payload: Buffer): void {
    const c = this.continuation;
    if (c === undefined) return this.protocolError(ERROR.PROTOCOL_ERROR, "CONTINUATION without HEADERS");
    if (id !== c.stream) return this.protocolError(ERROR.PROTOCOL_ERROR, "a header block was interrupted by another stream's CONTINUATION");
    c.bytes += payload.length;
    if (c.bytes > MAX_HEADER_BLOCK_BYTES || ++c.frames > MAX_CONTINUATION_FRAMES)
      return this.protocolError(
        ERROR.ENHANCE_YOUR_CALM,
        `a header block beyond ${MAX_HEADER_BLOCK_BYTES} bytes or ${MAX_CONTINUATION_FRAMES} CONTINUATION frames`,
      );
    c.parts.push(payload);
    if (!(flags & FLAG.END_HEADERS)) return;
    this.continuation = undefined;
    this.onHeaderBlock(id, c.endStream, Buffer.concat(c.parts, c.bytes), false);
  }

  private onHeaderBlock(id: number, endStream: boolean, block: Uint8Array, selfDependent: boolean): void {
    // Decoded even when no stream waits for it: the dynamic table must stay in step with the server's.
    this.fieldCount = 0;
    this.listSize = 0;
    try {
      this.decoder.decode(block, this.collect);
    } catch (err) {
      return this.protocolError(ERROR.COMPRESSION_ERROR, (err as Error).message);
    }
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (selfDependent) return this.streamError(s, ERROR.PROTOCOL_ERROR, "a stream that depends on itself");
    if (this.listSize > MAX_HEADER_LIST_SIZE)
      return this.streamError(s, ERROR.CANCEL, `a header list of more than ${MAX_HEADER_LIST_SIZE} bytes (SETTINGS_MAX_HEADER_LIST_SIZE)`);
    // An informational response (1xx) comes before the real one: nothing for the listener (RFC 9113 §8.1).
    if (!s.responded && !endStream && this.fieldCount > 0 && this.names[0] === ":status" && this.values[0]!.charCodeAt(0) === 49) return;
    if (s.responded && !endStream) return this.streamError(s, ERROR.PROTOCOL_ERROR, "trailers without END_STREAM");
    s.responded = true;
    const l = s.listener;
    const names = this.names;
    const values = this.values;
    for (let i = 0, n = this.fieldCount; i < n && !s.done; i++) l.onField(names[i]!, values[i]!);
    if (endStream) this.finish(s, true);
    l.onHeadersEnd(endStream);
  }

  private onSettings(flags: number, id: number, payload: Buffer): void {
    if (id !== 0) return this.protocolError(ERROR.PROTOCOL_ERROR, "SETTINGS on a stream");
    if (flags & FLAG.ACK) {
      if (payload.length !== 0) return this.protocolError(ERROR.FRAME_SIZE_ERROR, "a SETTINGS ACK with a payload");
      return void this.idleFrame();
    }
    if (payload.length % 6 !== 0) return this.protocolError(ERROR.FRAME_SIZE_ERROR, "a SETTINGS frame of the wrong size");
    if (this.idleFrame()) return;
    for (let i = 0; i < payload.length; i += 6) {
      const key = payload.readUInt16BE(i);
      const value = payload.readUInt32BE(i + 2);
      if (key === SETTING.ENABLE_PUSH) {
        if (value !== 0) return this.protocolError(ERROR.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value} from a server`);
      } else if (key === SETTING.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) return this.protocolError(ERROR.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value} (max ${MAX_WINDOW})`);
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) return this.protocolError(ERROR.FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream's window");
        }
      } else if (key === SETTING.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > MAX_FRAME_SIZE_LIMIT)
          return this.protocolError(ERROR.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value} (must be ${DEFAULT_MAX_FRAME}–${MAX_FRAME_SIZE_LIMIT})`);
        this.peerMaxFrame = value;
      } else if (key === SETTING.MAX_CONCURRENT_STREAMS) this.peerMaxStreams = value;
      // HEADER_TABLE_SIZE: this side's encoder uses no dynamic table; MAX_HEADER_LIST_SIZE is advisory; unknown ones are ignored.
    }
    this.controlReply(frame(FRAME.SETTINGS, FLAG.ACK, 0));
    if (this.closed) return;
    if (!this.ready) {
      this.ready = true;
      this.readyAt = performance.now();
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.resumeBlocked();
    this.startWaiting();
  }

  private onWindowUpdate(id: number, payload: Buffer): void {
    if (payload.length !== 4) return this.protocolError(ERROR.FRAME_SIZE_ERROR, "a WINDOW_UPDATE of the wrong size");
    const inc = payload.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) return this.protocolError(ERROR.PROTOCOL_ERROR, "a WINDOW_UPDATE of 0 for the connection");
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW) return this.protocolError(ERROR.FLOW_CONTROL_ERROR, "WINDOW_UPDATE beyond 2^31-1 for the connection");
    } else {
      if (this.isIdle(id)) return this.protocolError(ERROR.PROTOCOL_ERROR, `WINDOW_UPDATE on stream ${id}, which was never opened`);
      const s = this.streams.get(id);
      // Servers credit request bodies after the stream has ended (Bun's does, for every body): not a flood.
      if (s === undefined) return;
      if (inc === 0) return this.streamError(s, ERROR.PROTOCOL_ERROR, "a WINDOW_UPDATE of 0");
      s.sendWindow += inc;
      if (s.sendWindow > MAX_WINDOW) return this.streamError(s, ERROR.FLOW_CONTROL_ERROR, "WINDOW_UPDATE beyond 2^31-1 for a stream");
    }
    this.resumeBlocked();
  }

  private onGoaway(id: number, payload: Buffer): void {
    if (id !== 0) return this.protocolError(ERROR.PROTOCOL_ERROR, "GOAWAY on a stream");
    if (payload.length < 8) return this.protocolError(ERROR.FRAME_SIZE_ERROR, "a GOAWAY of the wrong size");
    if (this.goawayCode !== undefined && this.idleFrame()) return;
    const last = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    this.draining = true;
    this.goawayCode = code;
    if (last < this.goawayLast) this.goawayLast = last;
    const reason = `the server is going away (GOAWAY, error code ${code})`;
    // Streams above the last one the server took were not processed; the rest may still finish.
    const lost: ClientStream[] = [];
    const kept: ClientStream[] = [];
    for (const s of this.streams.values()) (s.id > this.goawayLast ? lost : kept).push(s);
    const written = lost.map((s) => this.requestWritten(s));
    for (const s of lost) {
      this.streams.delete(s.id);
      this.blocked.delete(s);
      s.done = true;
    }
    const waiting = this.waiting.splice(0);
    lost.forEach((s, i) => s.listener.onLost(reason, { unprocessed: true, requestWritten: written[i]! }));
    for (const s of waiting) {
      s.done = true;
      s.listener.onLost(reason, UNSENT);
    }
    for (const s of kept) if (!s.done) s.listener.onGoaway?.(code);
    if (this.streams.size === 0 && !this.closed) this.close(true);
  }
}

function reconnectDelay(failures: number, opts: ConnectTarget["reconnect"]): number {
  const initial = opts?.initialDelayMs ?? DEFAULT_RECONNECT.initialDelayMs;
  const max = opts?.maxDelayMs ?? DEFAULT_RECONNECT.maxDelayMs;
  const ceiling = Math.min(max, initial * 2 ** Math.min(failures - 1, 30));
  // Half fixed, half random: attempts spread out but never come back at once.
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}

/** Where `address` is: `unix:PATH`, `host:port` or `[v6]:port`. */
export function parseTarget(address: string): { path: string } | { host: string; port: number } {
  if (address.startsWith("unix:")) return { path: address.slice("unix:".length) };
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ""), port: Number(address.slice(colon + 1)) };
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
