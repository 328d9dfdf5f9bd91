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
  MAX_STREAM_ID,
  PREFACE,
  rstStreamFrame,
  SETTING,
  settingsFrame,
  windowUpdateFrame,
  writeFrameHeader,
} from "./frames";
import { HpackDecoder, type OnHeaderField } from "./hpack";

/** What a stream's owner hears. Every stream ends with exactly one of: an END_STREAM, onReset, or onLost. */
export interface StreamListener {
  /** One header field of the response headers or of the trailers, in order. */
  onField(name: string, value: string): void;
  /** The end of a header block (the first is the response headers, a later one the trailers). */
  onHeadersEnd(endStream: boolean): void;
  /** Body bytes (a view into the received data; keep it, do not expect a copy). */
  onData(chunk: Uint8Array, endStream: boolean): void;
  /** The server reset the stream with this HTTP/2 error code. */
  onReset(code: number): void;
  /** The connection failed or went away before the stream ended. */
  onLost(reason: string): void;
  /** What write() queued has gone out (after write() returned false). */
  onDrain?(): void;
}

/** Where to connect. */
export interface ConnectTarget {
  host?: string;
  port?: number;
  /** A Unix domain socket instead of host:port. */
  path?: string;
  /** TLS with ALPN "h2" (CA, client certificate and key, server name: by default the host unless it is an IP address). */
  tls?: tls.ConnectionOptions;
  /** The connection fails (its streams are lost) if it is not up within this bound. */
  connectTimeoutMs?: number;
}

/** Receive windows this side announces: wide, so a peer rarely waits for WINDOW_UPDATE frames. */
const LOCAL_STREAM_WINDOW = 4 * 1024 * 1024;
const LOCAL_CONNECTION_WINDOW = 16 * 1024 * 1024;

/** Bytes queued on a stream beyond which write() asks the caller to wait for onDrain. */
const HIGH_WATER = 1024 * 1024;

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
  constructor(
    readonly block: Uint8Array,
    readonly listener: StreamListener,
  ) {}
}

/**
 * The client side of one HTTP/2 connection (RFC 9113), written for gRPC calls: it opens streams with a
 * prepared header block and a body, sends the body within the peer's flow-control windows, returns receive
 * window as data is consumed, decodes every header block with HPACK and hands fields, data, resets and
 * connection loss to each stream's listener. Writes made in one turn of the event loop go out in one socket
 * write. No server push, no priorities, no stream-level dependency handling.
 */
export class H2ClientConnection {
  private readonly socket: net.Socket;
  private readonly streams = new Map<number, ClientStream>();
  private readonly waiting: ClientStream[] = [];
  private readonly blocked = new Set<ClientStream>();
  private readonly decoder = new HpackDecoder();
  private nextId = 1;
  private connSendWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private peerMaxStreams = Number.POSITIVE_INFINITY;
  private unackedReceive = 0;
  private rest: Buffer | undefined;
  private continuation: { stream: number; endStream: boolean; parts: Uint8Array[] } | undefined;
  /** The listener the header block being decoded belongs to (undefined: nobody waits for it). */
  private current: StreamListener | undefined;
  private readonly toCurrent: OnHeaderField = (name, value) => this.current?.onField(name, value);
  private readonly out: Uint8Array[] = [];
  private flushQueued = false;
  private readonly flushOut = () => this.flush();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** No new streams: it failed, was closed, got GOAWAY, or ran out of stream ids. */
  draining = false;
  closed = false;

  constructor(
    target: ConnectTarget,
    private readonly onClosed: (conn: H2ClientConnection) => void = () => undefined,
  ) {
    const t = target.tls;
    if (t) {
      const opts: tls.ConnectionOptions = { ...t, ALPNProtocols: ["h2"], ...(target.path ? { path: target.path } : { host: target.host, port: target.port }) };
      if (opts.servername === undefined && target.host !== undefined && net.isIP(target.host) === 0) opts.servername = target.host;
      this.socket = tls.connect(opts, () => {
        const alpn = (this.socket as tls.TLSSocket).alpnProtocol;
        if (alpn !== "h2") this.fail(`the server did not agree to HTTP/2 over TLS (ALPN ${alpn || "none"})`);
        else this.connected();
      });
    } else {
      this.socket = target.path
        ? net.connect(target.path, () => this.connected())
        : net.connect(target.port ?? 0, target.host ?? "127.0.0.1", () => this.connected());
    }
    this.socket.setNoDelay?.(true);
    this.socket.on("data", (chunk: Buffer) => this.receive(chunk));
    this.socket.on("error", (err) => this.fail(err.message));
    this.socket.on("close", () => this.fail("the connection closed"));
    const limit = target.connectTimeoutMs ?? 5_000;
    this.timer = setTimeout(() => this.fail(`no connection within ${limit} ms`), limit);
    this.timer.unref?.();
    this.socket.unref?.();
    this.push(PREFACE);
    this.push(
      settingsFrame([
        [SETTING.ENABLE_PUSH, 0],
        [SETTING.INITIAL_WINDOW_SIZE, LOCAL_STREAM_WINDOW],
      ]),
    );
    this.push(windowUpdateFrame(0, LOCAL_CONNECTION_WINDOW - DEFAULT_WINDOW));
  }

  /**
   * Opens a stream: HEADERS with `block`, then `body` as DATA; with `end` the body is all and END_STREAM follows it,
   * otherwise write() and end() send the rest. Beyond the peer's stream limit it waits for a free stream.
   */
  open(block: Uint8Array, body: Uint8Array | undefined, listener: StreamListener, end = true): ClientStream {
    const s = new ClientStream(block, listener);
    if (body !== undefined && body.length > 0) {
      s.queue.push(body);
      s.queued = body.length;
    }
    s.ending = end;
    if (this.draining) {
      queueMicrotask(() => listener.onLost("the connection is not accepting new calls"));
      return s;
    }
    if (this.streams.size >= this.peerMaxStreams) this.waiting.push(s);
    else this.start(s);
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

  private connected(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private start(s: ClientStream): void {
    const id = this.nextId;
    this.nextId += 2;
    if (this.nextId > MAX_STREAM_ID) this.draining = true;
    s.id = id;
    s.sendWindow = this.peerInitialWindow;
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

  /** Sends what the windows allow of a stream's queued body (and END_STREAM after it); the rest waits for WINDOW_UPDATE. */
  private sendBody(s: ClientStream): void {
    const q = s.queue;
    while (q.length > 0) {
      const chunk = q[0]!;
      const n = Math.min(chunk.length, s.sendWindow, this.connSendWindow, this.peerMaxFrame);
      if (n <= 0) break;
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

  private finish(s: ClientStream, remoteEnded = false): void {
    s.done = true;
    // The server finished first (a status before the whole request): this side's half is closed with a reset.
    if (remoteEnded && !s.endSent && !this.closed) this.push(rstStreamFrame(s.id, ERROR.CANCEL));
    this.streams.delete(s.id);
    this.blocked.delete(s);
    while (this.waiting.length > 0 && this.streams.size < this.peerMaxStreams && !this.draining) this.start(this.waiting.shift()!);
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
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flushOut);
    }
  }

  private flush(): void {
    this.flushQueued = false;
    const out = this.out;
    if (out.length === 0 || this.closed) return;
    this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
    out.length = 0;
  }

  /** The connection is unusable: every stream is lost. */
  private fail(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    clearTimeout(this.timer);
    const lost = [...this.streams.values(), ...this.waiting];
    this.streams.clear();
    this.waiting.length = 0;
    this.blocked.clear();
    this.out.length = 0;
    this.socket.destroy();
    for (const s of lost) s.listener.onLost(reason);
    this.onClosed(this);
  }

  /** A protocol violation by the server: GOAWAY with the code, then the connection fails. */
  private protocolError(code: number, why: string): void {
    this.out.push(goawayFrame(0, code));
    this.flush();
    this.fail(`HTTP/2 protocol error from the server: ${why}`);
  }

  private receive(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest !== undefined) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let off = 0;
    while (buf.length - off >= FRAME_HEADER_BYTES) {
      const len = (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]!;
      if (len > DEFAULT_MAX_FRAME) return this.protocolError(ERROR.PROTOCOL_ERROR, `a frame of ${len} bytes (max ${DEFAULT_MAX_FRAME})`);
      if (buf.length - off < FRAME_HEADER_BYTES + len) break;
      const type = buf[off + 3]!;
      const flags = buf[off + 4]!;
      const id = buf.readUInt32BE(off + 5) & 0x7fffffff;
      this.frame(type, flags, id, buf.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len));
      if (this.closed) return;
      off += FRAME_HEADER_BYTES + len;
    }
    if (off < buf.length) this.rest = buf.subarray(off);
  }

  private frame(type: number, flags: number, id: number, payload: Buffer): void {
    if (this.continuation !== undefined && (type !== FRAME.CONTINUATION || id !== this.continuation.stream))
      return this.protocolError(ERROR.PROTOCOL_ERROR, "a header block was interrupted");
    switch (type) {
      case FRAME.DATA:
        return this.onDataFrame(flags, id, payload);
      case FRAME.HEADERS: {
        let start = 0;
        let end = payload.length;
        if (flags & FLAG.PADDED) {
          start = 1;
          end -= payload[0]!;
        }
        if (flags & FLAG.PRIORITY) start += 5;
        if (start > end) return this.protocolError(ERROR.PROTOCOL_ERROR, "HEADERS padding exceeds the frame");
        const fragment = payload.subarray(start, end);
        const endStream = (flags & FLAG.END_STREAM) !== 0;
        if (flags & FLAG.END_HEADERS) return this.onHeaderBlock(id, endStream, fragment);
        this.continuation = { stream: id, endStream, parts: [fragment] };
        return;
      }
      case FRAME.CONTINUATION: {
        const c = this.continuation;
        if (c === undefined) return this.protocolError(ERROR.PROTOCOL_ERROR, "CONTINUATION without HEADERS");
        c.parts.push(payload);
        if (flags & FLAG.END_HEADERS) {
          this.continuation = undefined;
          this.onHeaderBlock(id, c.endStream, Buffer.concat(c.parts));
        }
        return;
      }
      case FRAME.RST_STREAM: {
        const s = this.streams.get(id);
        if (s === undefined || payload.length !== 4) return;
        this.finish(s);
        s.listener.onReset(payload.readUInt32BE(0));
        return;
      }
      case FRAME.SETTINGS:
        return this.onSettings(flags, id, payload);
      case FRAME.PING:
        if (!(flags & FLAG.ACK) && payload.length === 8) this.push(frame(FRAME.PING, FLAG.ACK, 0, payload));
        return;
      case FRAME.GOAWAY:
        return this.onGoaway(payload);
      case FRAME.WINDOW_UPDATE: {
        if (payload.length !== 4) return this.protocolError(ERROR.PROTOCOL_ERROR, "a WINDOW_UPDATE of the wrong size");
        const inc = payload.readUInt32BE(0) & 0x7fffffff;
        if (id === 0) this.connSendWindow += inc;
        else {
          const s = this.streams.get(id);
          if (s !== undefined) s.sendWindow += inc;
        }
        if (this.blocked.size > 0) for (const s of [...this.blocked]) this.sendBody(s);
        return;
      }
      case FRAME.PUSH_PROMISE:
        return this.protocolError(ERROR.PROTOCOL_ERROR, "PUSH_PROMISE although push is disabled");
      default:
        return; // PRIORITY and unknown types are ignored
    }
  }

  private onDataFrame(flags: number, id: number, payload: Buffer): void {
    // Flow control counts the whole payload, padding included.
    this.unackedReceive += payload.length;
    if (this.unackedReceive >= LOCAL_CONNECTION_WINDOW / 2) {
      this.push(windowUpdateFrame(0, this.unackedReceive));
      this.unackedReceive = 0;
    }
    const s = this.streams.get(id);
    if (s === undefined) return;
    let data: Uint8Array = payload;
    if (flags & FLAG.PADDED) {
      const pad = payload[0]!;
      if (pad >= payload.length) return this.protocolError(ERROR.PROTOCOL_ERROR, "DATA padding exceeds the frame");
      data = payload.subarray(1, payload.length - pad);
    }
    const endStream = (flags & FLAG.END_STREAM) !== 0;
    if (endStream) this.finish(s, true);
    else {
      s.received += payload.length;
      if (!s.held && s.received >= LOCAL_STREAM_WINDOW / 2) {
        this.push(windowUpdateFrame(id, s.received));
        s.received = 0;
      }
    }
    s.listener.onData(data, endStream);
  }

  private onHeaderBlock(id: number, endStream: boolean, block: Uint8Array): void {
    const s = this.streams.get(id);
    // Decoded even when no stream waits for it: the dynamic table must stay in step with the server's.
    this.current = s?.listener;
    try {
      this.decoder.decode(block, this.toCurrent);
    } catch (err) {
      return this.protocolError(ERROR.COMPRESSION_ERROR, (err as Error).message);
    } finally {
      this.current = undefined;
    }
    if (s === undefined) return;
    if (endStream) this.finish(s, true);
    s.listener.onHeadersEnd(endStream);
  }

  private onSettings(flags: number, id: number, payload: Buffer): void {
    if (id !== 0 || payload.length % 6 !== 0) return this.protocolError(ERROR.PROTOCOL_ERROR, "a malformed SETTINGS frame");
    if (flags & FLAG.ACK) return;
    for (let i = 0; i < payload.length; i += 6) {
      const key = payload.readUInt16BE(i);
      const value = payload.readUInt32BE(i + 2);
      if (key === SETTING.INITIAL_WINDOW_SIZE) {
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
      } else if (key === SETTING.MAX_FRAME_SIZE) this.peerMaxFrame = value;
      else if (key === SETTING.MAX_CONCURRENT_STREAMS) this.peerMaxStreams = value;
    }
    this.push(frame(FRAME.SETTINGS, FLAG.ACK, 0));
    if (this.blocked.size > 0) for (const s of [...this.blocked]) this.sendBody(s);
    while (this.waiting.length > 0 && this.streams.size < this.peerMaxStreams && !this.draining) this.start(this.waiting.shift()!);
  }

  private onGoaway(payload: Buffer): void {
    if (payload.length < 8) return this.protocolError(ERROR.PROTOCOL_ERROR, "a GOAWAY of the wrong size");
    const last = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    this.draining = true;
    const reason = `the server is going away (GOAWAY, error code ${code})`;
    // Streams above the last one the server took were not processed; the rest may still finish.
    const lost = [...this.streams.values()].filter((s) => s.id > last).concat(this.waiting.splice(0));
    for (const s of lost) {
      this.streams.delete(s.id);
      this.blocked.delete(s);
    }
    for (const s of lost) s.listener.onLost(reason);
    if (this.streams.size === 0) this.fail(reason);
  }
}

/** Where `address` is: `unix:PATH`, `host:port` or `[v6]:port`. */
export function parseTarget(address: string): { path: string } | { host: string; port: number } {
  if (address.startsWith("unix:")) return { path: address.slice("unix:".length) };
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ""), port: Number(address.slice(colon + 1)) };
}

/** One connection to a target, opened on first use and opened again after it failed, closed or got GOAWAY. */
export class LazyConnection {
  private current: H2ClientConnection | undefined;
  private closed = false;
  private readonly forget = (conn: H2ClientConnection) => {
    if (this.current === conn) this.current = undefined;
  };

  constructor(readonly target: ConnectTarget) {}

  /** The open connection, or a new one; undefined once close() was called. */
  get(): H2ClientConnection | undefined {
    const c = this.current;
    if (c !== undefined && !c.draining) return c;
    if (this.closed) return undefined;
    this.current = new H2ClientConnection(this.target, this.forget);
    return this.current;
  }

  /** Drops the connection at once: its streams are lost, later get() calls answer undefined. */
  close(): void {
    this.closed = true;
    const c = this.current;
    this.current = undefined;
    c?.close(true);
  }
}
