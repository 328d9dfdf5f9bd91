import { DEFAULT_MAX_FRAME, DEFAULT_WINDOW, ERROR, goawayFrame, PREFACE, SETTING, settingsFrame, windowUpdateFrame } from "../codec/frames";
import { FrameReader } from "../codec/frame_reader";
import { HEADER_TABLE_SIZE, MAX_HEADER_LIST_SIZE } from "../codec/limits";
import { FrameDispatch, LOCAL_CONNECTION_WINDOW, LOCAL_STREAM_WINDOW } from "./frame_dispatch";
import { connectSocket } from "./socket";
import { type ConnectTarget, UNSENT } from "./stream";

/** A connection that lived this long after the server's SETTINGS counts as healthy for LazyConnection's backoff. */
const HEALTHY_AFTER_MS = 1_000;

/**
 * The client side of one HTTP/2 connection (RFC 9113), written for gRPC calls: it opens streams with a
 * prepared header block and a body, sends the body within the peer's flow-control windows, returns receive
 * window as data is consumed, decodes every header block with HPACK and hands fields, data, resets and
 * connection loss to each stream's listener. Writes made in one turn of the event loop go out in one socket
 * write. No server push, no priorities, no stream-level dependency handling.
 *
 * The server is not trusted: every connection error RFC 9113 names ends the connection with GOAWAY and the
 * error code, stream errors reset the stream, and everything the server controls is bounded (codec/limits.ts, limits.ts):
 * frame sizes, header list and header block sizes, CONTINUATION frames, flow-control windows both ways, frames
 * that carry no response (floods end with ENHANCE_YOUR_CALM), control replies queued while it does not read.
 * Streams wait until the server's first SETTINGS has been read and stay within its concurrent-stream limit.
 *
 * Built in layers, one job each: write_scheduler.ts (the once-per-turn socket write, control replies), streams.ts
 * (streams and the send side of flow control), frame_dispatch.ts (what the server sends); this class is the
 * connection's life: the preface, the socket (socket.ts), closing and failing.
 */
export class H2ClientConnection extends FrameDispatch {
  private readonly reader: FrameReader;
  /** Why the connection ended (set once closed). */
  closeReason: string | undefined;

  constructor(
    private readonly target: ConnectTarget,
    private readonly onClosed: (conn: H2ClientConnection) => void = () => undefined,
    /** Dial only after this delay (LazyConnection's backoff); streams opened meanwhile wait. */
    dialDelayMs = 0,
  ) {
    super(target);
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

  /**
   * Healthy for reconnection purposes: the server's SETTINGS came, it broke no rule, and a stream completed or
   * the connection lived a while. LazyConnection backs off after connections that were not.
   */
  get healthy(): boolean {
    return this.ready && !this.violated && (this.completed > 0 || performance.now() - this.readyAt >= HEALTHY_AFTER_MS);
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
    const socket = connectSocket(target, (reason) => this.fail(reason));
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
      // Read nothing more from a server that broke the rules: a flood would go on costing CPU until the close, and
      // unread it backs up into the server's own socket. Close once the GOAWAY is out, at the latest after a second.
      socket.pause();
      socket.removeAllListeners("data");
      socket.end(() => socket.destroy());
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
  protected protocolError(code: number, why: string): void {
    if (this.closed) return;
    this.violated = true;
    this.push(goawayFrame(0, code));
    this.flush();
    this.fail(`HTTP/2 protocol error from the server: ${why}`, true);
  }
}
