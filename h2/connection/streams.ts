import {
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  ERROR,
  FLAG,
  FRAME,
  FRAME_HEADER_BYTES,
  frame,
  MAX_STREAM_ID,
  rstStreamFrame,
  windowUpdateFrame,
  writeFrameHeader,
} from "../codec/frames";
import { DEFAULT_MAX_QUEUED_STREAMS, SOCKET_HIGH_WATER } from "./limits";
import { ClientStream, type ConnectTarget, type StreamListener, UNSENT } from "./stream";
import { WriteScheduler } from "./write_scheduler";

/** Bytes queued on a stream beyond which write() asks the caller to wait for onDrain. */
const HIGH_WATER = 1024 * 1024;

/**
 * The streams of one connection and the send side of flow control: streams open within the server's
 * concurrent-stream limit (or wait, or are refused), request bodies go out within the peer's windows and the
 * socket's water mark, and streams end, are cancelled or finish here.
 */
export abstract class StreamState extends WriteScheduler {
  protected readonly streams = new Map<number, ClientStream>();
  protected readonly waiting: ClientStream[] = [];
  protected readonly blocked = new Set<ClientStream>();
  protected readonly refuseWhenFull: boolean;
  protected readonly maxQueued: number;
  protected nextId = 1;
  protected connSendWindow = DEFAULT_WINDOW;
  protected peerInitialWindow = DEFAULT_WINDOW;
  protected peerMaxFrame = DEFAULT_MAX_FRAME;
  protected peerMaxStreams = Number.POSITIVE_INFINITY;
  protected completed = 0;
  /** The server's first SETTINGS has been read: streams may go out. */
  ready = false;
  /** No new streams: it failed, was closed, got GOAWAY, or ran out of stream ids. */
  draining = false;

  constructor(target: ConnectTarget) {
    super();
    this.refuseWhenFull = target.whenStreamsFull === "refuse";
    this.maxQueued = target.maxQueuedStreams ?? DEFAULT_MAX_QUEUED_STREAMS;
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
  abstract close(now?: boolean): void;

  /** Loses a stream that never went out (refused locally), after open() returned. */
  protected refuse(s: ClientStream, reason: string): void {
    s.done = true;
    queueMicrotask(() => s.listener.onLost(reason, UNSENT));
  }

  protected start(s: ClientStream): void {
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

  protected sendHeaders(id: number, block: Uint8Array, endStream: boolean): void {
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
  protected sendBody(s: ClientStream): void {
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

  protected resumeBlocked(): void {
    if (this.blocked.size > 0) for (const s of [...this.blocked]) this.sendBody(s);
  }

  protected startWaiting(): void {
    while (this.waiting.length > 0 && this.ready && this.streams.size < this.peerMaxStreams && !this.draining) this.start(this.waiting.shift()!);
  }

  protected finish(s: ClientStream, remoteEnded = false): void {
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
}
