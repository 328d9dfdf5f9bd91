import { randomBytes } from "node:crypto";
import type http2 from "node:http2";
import type net from "node:net";
import { encodeHeaderBlock } from "../../h2/codec/hpack";
import { batchSocketWrites } from "./h2_write_batch";

/**
 * A guard in front of Bun's node:http2 server for what its flow control gets wrong (Bun 1.4.4 and 1.4.5).
 *
 * A raised SETTINGS_INITIAL_WINDOW_SIZE must add the delta to every open stream's send window (RFC 9113 §6.9.2).
 * Bun instead resets each open stream's window to the new initial size, dropping the WINDOW_UPDATE credit the
 * stream had; a lowered one it ignores. grpc-go's BDP estimation raises the setting mid-stream after topping the
 * stream up, so the server sends less than the client counts on, the client waits for data it thinks is coming
 * and never tops up again: a server stream stalls until its deadline (issue 18 item 13; upstream: oven-sh/bun
 * pull request 41329, not in 1.4.5).
 *
 * The guard reads what the client sends before the server does. The first SETTINGS frame (no stream is open yet)
 * passes as sent. In a later one that raises INITIAL_WINDOW_SIZE the guard renames that setting to an unknown
 * identifier, which the server must ignore (§6.5.2), and grants the difference itself with WINDOW_UPDATE frames:
 * at once for every open stream, and right after the header block of every stream opened later. A lowered value
 * passes through (Bun ignores it either way; grpc-go never lowers it).
 *
 * It also answers frames Bun's server accepts or ignores although RFC 9113 calls them errors, with GOAWAY and a
 * close (a stream error may be treated as a connection error, §5.4.1): DATA or WINDOW_UPDATE on an idle stream,
 * a new stream id lower than the last, a stream that depends on itself (PROTOCOL_ERROR); DATA or HEADERS on a
 * stream the client already ended or reset (STREAM_CLOSED). Well-behaved clients never send these; h2spec does
 * (tests/proxy/h2spec.test.ts: every case passes behind the guard, 10 of 145 fail without it).
 *
 * A lowered SETTINGS_INITIAL_WINDOW_SIZE Bun applies to new streams only: what it owes an open stream is taken
 * out of the client's next WINDOW_UPDATEs for that stream (or a later raise), as if its window had gone down.
 *
 * A PING ACK that answers no ping of the server's is dropped: Bun would end the connection on it, where RFC 9113
 * §6.7 says to ignore it. The server's pings all go through session.ping, which the guard wraps to know their
 * payloads (one sent without a payload, as grpc-js keepalive does, is given a random one).
 *
 * Bun's frame parser reads a native socket by itself, past any JS listener; hidden while the session is made,
 * the parser reads through the socket's 'data' events, where the guard stands. It follows frame boundaries
 * without copying; only SETTINGS frames are copied. The parser then also writes through the socket, so its
 * writes can be batched per turn of the event loop (h2_write_batch.ts). Once Bun applies the delta itself the
 * guard must go; the canary test in h2_guard.test.ts fails on that Bun.
 */

const SOCKET = Symbol.for("::bunhttp2socket::");
const PARSER = Symbol.for("::bunhttp2native::");
const PREFACE_BYTES = 24;
const FRAME_HEADER = 9;
const TYPE_DATA = 0x0;
const TYPE_HEADERS = 0x1;
const TYPE_PRIORITY = 0x2;
const TYPE_RST_STREAM = 0x3;
const TYPE_SETTINGS = 0x4;
const TYPE_PING = 0x6;
const TYPE_GOAWAY = 0x7;
const TYPE_WINDOW_UPDATE = 0x8;
const TYPE_CONTINUATION = 0x9;
const FLAG_ACK = 0x1;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const ERROR_NO = 0x0;
const ERROR_PROTOCOL = 0x1;
/**
 * A request header block larger than this (as sent) is answered RESOURCE_EXHAUSTED by the guard; Bun's server
 * would end the whole connection at 64 KiB decoded (GOAWAY COMPRESSION_ERROR).
 */
export const MAX_HEADER_BLOCK = 48 * 1024;
const ERROR_STREAM_CLOSED = 0x5;
/** Streams the guard keeps track of per connection, in each of its two sets. */
const MAX_TRACKED = 4_096;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
/** An identifier no HTTP/2 setting uses: the server ignores it. */
const SETTINGS_IGNORED = 0xf04;
const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 0x7fffffff;
/** SETTINGS frames longer than this (no real peer sends 100 settings) pass as they are. */
const MAX_SETTINGS_PAYLOAD = 600;
const PING_PAYLOAD = 8;
/** Pings of the server's own the guard remembers until their ACK (grpc-js keepalive has one out at a time). */
const MAX_PINGS = 64;

export interface GuardOptions {
  /**
   * Sends what a session writes in one batch per turn of the event loop (h2_write_batch.ts). For a server whose
   * responses come out of I/O callbacks (the proxy relays them from its patterns' connections): there it saves
   * CPU and latency both. A grpc-js server answering itself served fewer calls with it, each a little later.
   */
  batchWrites?: boolean;
}

interface BunParser {
  read(data: Uint8Array): void;
  forEachStream(fn: (stream: { id?: number }) => void): void;
}

/**
 * Installs the guard on every session of a node:http2 server, plaintext (h2c) or TLS. Outside Bun's
 * implementation it does nothing. A plaintext server makes its session on 'connection'; a TLS server on
 * 'secureConnection', once the handshake is done (TLS stays in Bun's native socket: the guard reads the
 * decrypted bytes, and the session's socket is still the TLSSocket, its peer certificate and ALPN as before).
 */
export function guardH2Server(server: http2.Http2Server | http2.Http2SecureServer, opts: GuardOptions = {}): void {
  // PRISM_H2_GUARD=0 leaves Bun's server as it is (to measure what the guard costs, or rule it out).
  if (process.env.PRISM_H2_GUARD === "0") return;
  const hidden = new WeakMap<net.Socket, PropertyDescriptor | undefined>();
  const hide = (socket: net.Socket) => {
    // A Unix socket's only client is the proxy's own HTTP/2 client (its directory is the proxy's, 0700), which
    // breaks none of the rules the guard enforces: it is left to Bun's native parser, which costs less per call.
    if (typeof server.address() === "string") return;
    // A TLS client that did not choose h2 gets no session but Bun's refusal, written through the handle.
    if ((socket as { alpnProtocol?: unknown }).alpnProtocol !== undefined && (socket as { alpnProtocol?: unknown }).alpnProtocol !== "h2") return;
    hidden.set(socket, Object.getOwnPropertyDescriptor(socket, "_handle"));
    Object.defineProperty(socket, "_handle", { value: undefined, configurable: true, writable: true });
  };
  server.prependListener("setSecureContext" in server ? "secureConnection" : "connection", hide);
  server.on("session", (session: http2.ServerHttp2Session) => {
    const socket = (session as unknown as Record<symbol, unknown>)[SOCKET] as net.Socket | undefined;
    if (socket === undefined || !hidden.has(socket)) return;
    const own = hidden.get(socket);
    hidden.delete(socket);
    if (own) Object.defineProperty(socket, "_handle", own);
    else delete (socket as { _handle?: unknown })._handle;
    guardSession(session, socket, opts.batchWrites === true);
  });
}

function guardSession(session: http2.ServerHttp2Session, socket: net.Socket, batchWrites: boolean): void {
  const parser = (session as unknown as Record<symbol, unknown>)[PARSER] as BunParser | undefined;
  const readers = socket.listeners("data") as ((chunk: Buffer) => void)[];
  // The session's own reader and nothing else: anything else is not the layout this guard knows.
  if (parser === undefined || typeof parser.forEachStream !== "function" || readers.length !== 1) return;
  const read = readers[0]!;
  const pings = serverPings(session);
  const scanner = new FrameScanner(
    (bytes) => read.call(socket, bytes),
    () => openStreams(parser),
    (code, lastStreamId, tooLarge) => {
      if (tooLarge !== undefined) socket.write(headerBlockTooLargeAnswer(tooLarge));
      const goaway = Buffer.alloc(17);
      goaway.writeUIntBE(8, 0, 3);
      goaway[3] = TYPE_GOAWAY;
      goaway.writeUInt32BE(lastStreamId, 9);
      goaway.writeUInt32BE(code, 13);
      socket.end(goaway);
      setTimeout(() => socket.destroy(), 1_000).unref?.();
    },
    (payload) => pings.delete(payload.toString("hex")),
  );
  if (batchWrites) batchSocketWrites(socket);
  socket.removeListener("data", read);
  socket.on("data", (chunk: Buffer) => scanner.feed(chunk));
  // Writing through the socket, the parser holds frames until it flushes, and a session destroyed on an error
  // (its GOAWAY just written) drops them: flushed first, the GOAWAY reaches the client.
  const destroy = session.destroy;
  session.destroy = function (this: http2.ServerHttp2Session, ...args: Parameters<typeof destroy>) {
    try {
      (parser as BunParser & { flush?: () => void }).flush?.();
    } catch {
      /* closing */
    }
    return destroy.apply(this, args);
  };
}

/**
 * The payloads of the pings the server sent and awaits an ACK for. Every ping goes out through session.ping (grpc-js
 * keepalive; Bun sends none of its own); one sent without a payload is given a random one, so its ACK is known.
 */
function serverPings(session: http2.ServerHttp2Session): Set<string> {
  const awaited = new Set<string>();
  const ping = session.ping;
  session.ping = function (this: http2.ServerHttp2Session, ...args: unknown[]) {
    let payload = args[0];
    if (payload === undefined || typeof payload === "function") {
      payload = randomBytes(PING_PAYLOAD);
      args = [payload, ...args.filter((a) => a !== undefined)];
    }
    if (ArrayBuffer.isView(payload) && payload.byteLength === PING_PAYLOAD) {
      if (awaited.size >= MAX_PINGS) awaited.delete(awaited.values().next().value!);
      awaited.add(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("hex"));
    }
    return (ping as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof session.ping;
  return awaited;
}

/**
 * A trailers-only gRPC answer, RESOURCE_EXHAUSTED, for a call whose request headers are too large (literal
 * fields only, so the client's HPACK table is left as the server's encoder knows it).
 */
function headerBlockTooLargeAnswer(stream: number): Buffer {
  const block = encodeHeaderBlock([
    [":status", "200"],
    ["content-type", "application/grpc"],
    ["grpc-status", "8"],
    ["grpc-message", `request headers over ${MAX_HEADER_BLOCK} bytes`],
  ]);
  const out = Buffer.alloc(FRAME_HEADER + block.length);
  out.writeUIntBE(block.length, 0, 3);
  out[3] = TYPE_HEADERS;
  out[4] = FLAG_END_STREAM | FLAG_END_HEADERS;
  out.writeUInt32BE(stream, 5);
  out.set(block, FRAME_HEADER);
  return out;
}

function openStreams(parser: BunParser): number[] {
  const ids: number[] = [];
  parser.forEachStream((s) => {
    if (typeof s?.id === "number" && s.id > 0) ids.push(s.id);
  });
  return ids;
}

function windowUpdates(ids: readonly number[], increment: number): Buffer {
  const out = Buffer.allocUnsafe(ids.length * 13);
  ids.forEach((id, i) => {
    const at = i * 13;
    out.writeUIntBE(4, at, 3);
    out[at + 3] = TYPE_WINDOW_UPDATE;
    out[at + 4] = 0;
    out.writeUInt32BE(id, at + 5);
    out.writeUInt32BE(increment, at + 9);
  });
  return out;
}

/**
 * Follows the frames a client sends (after its 24-byte preface) and hands them on (`deliver`) as they came,
 * except as the class comment says: raised INITIAL_WINDOW_SIZE settings are hidden from the server and granted
 * as WINDOW_UPDATE frames instead.
 */
export class FrameScanner {
  private prefaceLeft = PREFACE_BYTES;
  private header = Buffer.alloc(FRAME_HEADER);
  private headerHave = 0;
  private payloadLeft = 0;
  /**
   * A frame being collected (header and payload) before it is handed on: a SETTINGS frame, maybe rewritten; a
   * PING ACK, dropped unless it answers one of the server's pings; a WINDOW_UPDATE on a stream that owes window.
   */
  private held: Buffer | undefined;
  private heldHave = 0;
  private settingsSeen = 0;
  /** The initial window the client asked for, and the one the server applies. */
  private clientWindow = DEFAULT_WINDOW;
  private serverWindow = DEFAULT_WINDOW;
  /** A new stream whose header block is still arriving (its WINDOW_UPDATE goes after the block). */
  private opening = 0;
  private highestStream = 0;

  /** Streams the client may still send on (opened, not ended or reset by it). */
  private readonly sending = new Set<number>();
  /**
   * Streams the client ended or reset lately, the last MAX_TRACKED in a ring (a bounded memory: older ones count
   * as never opened). Written once per call; only read for a frame that is an error either way (which code).
   */
  private readonly ended = new Int32Array(MAX_TRACKED);
  private endedNext = 0;
  /** Set once the client broke the protocol: nothing more is handed on. */
  failed = false;

  constructor(
    private readonly deliver: (bytes: Buffer) => void,
    private readonly openStreams: () => number[],
    /**
     * Ends the connection with GOAWAY(code): a frame the server would mishandle (see streamError); or, given
     * `tooLarge`, after answering that call RESOURCE_EXHAUSTED (its header block is over MAX_HEADER_BLOCK).
     */
    private readonly fail: (code: number, lastStreamId: number, tooLarge?: number) => void = () => undefined,
    /** True when a PING ACK's payload answers a ping the server sent (and is awaiting): it is handed on. */
    private readonly awaitedPingAck: (payload: Buffer) => boolean = () => false,
  ) {}

  /**
   * Hands on what the client sent, as it came, in as few pieces as it can: bytes go on only before a frame the
   * guard holds, adds to or fails on, and at the chunk's end (each piece is a call into Bun's parser).
   */
  feed(chunk: Buffer): void {
    if (this.failed) return;
    let at = 0;
    /** chunk[from, at) is read but not handed on yet; frameStart is where the frame being read began. */
    let from = 0;
    let frameStart = 0;
    const n = chunk.length;
    if (this.prefaceLeft > 0) {
      const k = Math.min(this.prefaceLeft, n);
      this.prefaceLeft -= k;
      at = k;
    }
    while (at < n) {
      if (this.payloadLeft > 0) {
        const k = Math.min(this.payloadLeft, n - at);
        if (this.dependencyOf !== 0 && this.dependsOnItself(chunk, at, at + k)) {
          if (frameStart > from) this.deliver(chunk.subarray(from, frameStart));
          this.failed = true;
          this.fail(ERROR_PROTOCOL, this.highestStream);
          return;
        }
        if (this.held !== undefined) {
          chunk.copy(this.held, this.heldHave, at, at + k);
          this.heldHave += k;
        }
        this.payloadLeft -= k;
        at += k;
        if (this.held !== undefined) from = at;
        if (this.payloadLeft === 0) from = this.frameEnded(chunk, from, at);
        continue;
      }
      // A frame header; its first bytes may have come at the end of the last chunk (held back, not handed on).
      const start = at;
      frameStart = start;
      const carried = this.headerHave;
      // Read where it lies when the chunk holds all of it (most frames): no copy.
      let h = chunk;
      let o = at;
      if (carried === 0 && n - at >= FRAME_HEADER) at += FRAME_HEADER;
      else {
        const k = Math.min(FRAME_HEADER - carried, n - at);
        chunk.copy(this.header, carried, at, at + k);
        this.headerHave += k;
        at += k;
        if (this.headerHave < FRAME_HEADER) {
          if (start > from) this.deliver(chunk.subarray(from, start));
          from = n;
          break;
        }
        this.headerHave = 0;
        h = this.header;
        o = 0;
      }
      const length = (h[o]! << 16) | (h[o + 1]! << 8) | h[o + 2]!;
      const type = h[o + 3]!;
      const flags = h[o + 4]!;
      const stream = ((h[o + 5]! << 24) | (h[o + 6]! << 16) | (h[o + 7]! << 8) | h[o + 8]!) & MAX_WINDOW;
      // What came before goes on first when this frame is not passed on as it lies in the chunk, and before the
      // open streams are asked for (prune): the server must have seen every stream opened before.
      const held = this.isHeld(type, flags, stream, length);
      if (held || carried > 0 || (type === TYPE_HEADERS && this.sending.size >= MAX_TRACKED)) {
        if (start > from) this.deliver(chunk.subarray(from, start));
        from = start;
      }
      // A dependency the last frame was too short to hold is not read from this one.
      this.dependencyOf = 0;
      const error = this.streamError(type, flags, stream, length, chunk, at);
      if (error !== 0) {
        if (start > from) this.deliver(chunk.subarray(from, start));
        this.failed = true;
        this.fail(error, this.highestStream);
        return;
      }
      if (this.headerBlockTooLarge(type, stream, length)) {
        // The call is answered and the connection closed: the server never saw the block, so its HPACK
        // decoder no longer matches the client's encoder.
        if (start > from) this.deliver(chunk.subarray(from, start));
        this.failed = true;
        this.fail(ERROR_NO, stream, stream);
        return;
      }
      if (held) {
        // Collected, and handed on once read (maybe rewritten, maybe dropped).
        this.held = Buffer.allocUnsafe(FRAME_HEADER + length);
        h.copy(this.held, 0, o, o + FRAME_HEADER);
        this.heldHave = FRAME_HEADER;
        from = at;
      } else {
        if (carried > 0) this.deliver(Buffer.from(h.subarray(0, carried)));
      }
      this.frameType = type;
      this.frameFlags = flags;
      this.payloadLeft = length;
      if (length === 0) from = this.frameEnded(chunk, from, at);
    }
    if (this.held === undefined && from < n) this.deliver(from === 0 ? chunk : chunk.subarray(from));
  }

  private frameType = 0;
  private frameFlags = 0;

  /** Whether a frame is collected before it is handed on (maybe rewritten, maybe dropped): see `held`. */
  private isHeld(type: number, flags: number, stream: number, length: number): boolean {
    if (stream === 0) {
      if (type === TYPE_SETTINGS) return (flags & FLAG_ACK) === 0 && length % 6 === 0 && length <= MAX_SETTINGS_PAYLOAD;
      return type === TYPE_PING && (flags & FLAG_ACK) !== 0 && length === PING_PAYLOAD;
    }
    return type === TYPE_WINDOW_UPDATE && length === 4 && this.debts.has(stream);
  }

  /**
   * The connection error (RFC 9113 §5.1, §5.3.1; a stream error may be treated as one, §5.4.1) a frame from the
   * client calls for where Bun's server would accept or ignore it, else 0. Also follows which streams the client
   * may still send on. `chunk` from `at` holds the payload's first bytes, when this chunk has them.
   */
  private streamError(type: number, flags: number, stream: number, length: number, chunk: Buffer, at: number): number {
    if (stream === 0) return 0;
    switch (type) {
      case TYPE_DATA:
        if (stream > this.highestStream) return ERROR_PROTOCOL;
        if (!this.sending.has(stream)) return ERROR_STREAM_CLOSED;
        if ((flags & FLAG_END_STREAM) !== 0) this.clientEnded(stream);
        return 0;
      case TYPE_HEADERS: {
        if ((flags & FLAG_PRIORITY) !== 0 && length >= 5 && this.dependsOnItselfFrom(chunk, at, stream, (flags & FLAG_PADDED) !== 0 ? 1 : 0))
          return ERROR_PROTOCOL;
        if (stream > this.highestStream) {
          if (stream % 2 === 0) return 0;
          this.highestStream = stream;
          this.opening = stream;
          if ((flags & FLAG_END_STREAM) === 0) this.sending.add(stream);
          else this.rememberEnded(stream);
          if (this.sending.size > MAX_TRACKED) this.prune();
          return 0;
        }
        if (this.sending.has(stream)) {
          if ((flags & FLAG_END_STREAM) !== 0) this.clientEnded(stream);
          return 0;
        }
        return this.ended.includes(stream) ? ERROR_STREAM_CLOSED : ERROR_PROTOCOL;
      }
      case TYPE_PRIORITY:
        return length === 5 && this.dependsOnItselfFrom(chunk, at, stream, 0) ? ERROR_PROTOCOL : 0;
      case TYPE_RST_STREAM:
        if (stream <= this.highestStream) this.clientEnded(stream);
        return 0;
      case TYPE_WINDOW_UPDATE:
        return stream > this.highestStream && stream % 2 === 1 ? ERROR_PROTOCOL : 0;
      default:
        return 0;
    }
  }

  /** The stream whose priority's dependency is still arriving (0: none), bytes of padding before it, bytes of it read. */
  private dependencyOf = 0;
  private dependencySkip = 0;
  private dependencyHave = 0;
  private readonly dependency = Buffer.alloc(4);

  /**
   * True when the stream dependency of a priority (PRIORITY, or HEADERS with the PRIORITY flag) that starts
   * `skip` bytes into the payload at `at` names the frame's own stream. When the chunk ends before it, it is
   * read as the payload arrives (dependsOnItself), this chunk's part included.
   */
  private dependsOnItselfFrom(chunk: Buffer, at: number, stream: number, skip: number): boolean {
    if (at + skip + 4 <= chunk.length) return (chunk.readUInt32BE(at + skip) & MAX_WINDOW) === stream;
    this.dependencyOf = stream;
    this.dependencySkip = skip;
    this.dependencyHave = 0;
    return false;
  }

  /** Reads the pending dependency from the payload bytes chunk[at, end); true once it is complete and self-referring. */
  private dependsOnItself(chunk: Buffer, at: number, end: number): boolean {
    const skipped = Math.min(this.dependencySkip, end - at);
    this.dependencySkip -= skipped;
    at += skipped;
    const k = Math.min(4 - this.dependencyHave, end - at);
    chunk.copy(this.dependency, this.dependencyHave, at, at + k);
    this.dependencyHave += k;
    if (this.dependencyHave < 4) return false;
    const stream = this.dependencyOf;
    this.dependencyOf = 0;
    return (this.dependency.readUInt32BE(0) & MAX_WINDOW) === stream;
  }

  /** True when this frame takes a new stream's header block past MAX_HEADER_BLOCK bytes (as sent, compressed). */
  private headerBlockTooLarge(type: number, stream: number, length: number): boolean {
    if (type === TYPE_HEADERS) this.blockBytes = stream === this.opening ? length : 0;
    else if (type === TYPE_CONTINUATION && stream === this.opening) this.blockBytes += length;
    else return false;
    return this.blockBytes > MAX_HEADER_BLOCK;
  }

  private blockBytes = 0;

  private clientEnded(stream: number): void {
    this.sending.delete(stream);
    this.rememberEnded(stream);
  }

  private rememberEnded(stream: number): void {
    this.ended[this.endedNext] = stream;
    this.endedNext = (this.endedNext + 1) % MAX_TRACKED;
  }

  /** Forgets streams the server has closed although the client never ended them (it may send no more on them). */
  private prune(): void {
    const live = new Set(this.openStreams());
    for (const id of this.sending) {
      if (!live.has(id)) {
        this.sending.delete(id);
        this.rememberEnded(id);
      }
    }
  }

  /** At the end of a frame (at `at` in chunk): hands on what it calls for; returns where the rest starts. */
  private frameEnded(chunk: Buffer, from: number, at: number): number {
    let extra: Buffer | undefined;
    if (this.held !== undefined) {
      const frame = this.held;
      this.held = undefined;
      if (frame[3] === TYPE_PING) {
        // Bun's server ends the connection on a PING ACK it did not ask for; RFC 9113 §6.7 says ignore it.
        if (!this.awaitedPingAck(frame.subarray(FRAME_HEADER))) return at;
        extra = frame;
      } else if (frame[3] === TYPE_WINDOW_UPDATE) {
        extra = this.rewriteWindowUpdate(frame);
        if (extra === undefined) return at;
      } else extra = this.rewriteSettings(frame);
    } else if (this.opening !== 0 && (this.frameType === TYPE_HEADERS || this.frameType === TYPE_CONTINUATION) && (this.frameFlags & FLAG_END_HEADERS) !== 0) {
      const id = this.opening;
      this.opening = 0;
      if (this.clientWindow > this.serverWindow) extra = windowUpdates([id], this.clientWindow - this.serverWindow);
    }
    if (extra === undefined) return from;
    if (at > from) this.deliver(chunk.subarray(from, at));
    this.deliver(extra);
    return at;
  }

  /** The SETTINGS frame to hand on, followed by the WINDOW_UPDATE frames it calls for. */
  private rewriteSettings(frame: Buffer): Buffer {
    const first = this.settingsSeen++ === 0;
    const before = this.clientWindow;
    for (let i = FRAME_HEADER; i + 6 <= frame.length; i += 6) {
      if (frame.readUInt16BE(i) !== SETTINGS_INITIAL_WINDOW_SIZE) continue;
      const value = frame.readUInt32BE(i + 2);
      // Above 2^31-1 is the client's FLOW_CONTROL_ERROR, which the server answers itself.
      if (first || value > MAX_WINDOW) {
        if (value <= MAX_WINDOW) this.clientWindow = this.serverWindow = value;
        continue;
      }
      this.clientWindow = value;
      if (value >= this.serverWindow) frame.writeUInt16BE(SETTINGS_IGNORED, i);
      else this.serverWindow = value;
    }
    const delta = first ? 0 : this.clientWindow - before;
    if (delta === 0) return frame;
    const ids = this.openStreams();
    if (delta < 0) {
      // Bun leaves an open stream's window as it was when the setting drops: the drop is owed, and taken out of
      // what the client grants the stream next.
      for (const id of ids) this.debts.set(id, (this.debts.get(id) ?? 0) - delta);
      if (this.debts.size > MAX_TRACKED) this.pruneDebts(ids);
      return frame;
    }
    const grants: Buffer[] = [frame];
    for (const id of ids) {
      const increment = this.payDebt(id, delta);
      if (increment > 0) grants.push(windowUpdates([id], increment));
    }
    return grants.length === 1 ? frame : Buffer.concat(grants);
  }

  /** What a stream owes from lowered initial windows (see rewriteSettings). */
  private readonly debts = new Map<number, number>();

  /** Takes a stream's debt out of an increment granted to it; returns what is left to grant. */
  private payDebt(stream: number, increment: number): number {
    const debt = this.debts.get(stream);
    if (debt === undefined) return increment;
    if (debt > increment) {
      this.debts.set(stream, debt - increment);
      return 0;
    }
    this.debts.delete(stream);
    return increment - debt;
  }

  private pruneDebts(open: readonly number[]): void {
    const live = new Set(open);
    for (const id of this.debts.keys()) if (!live.has(id)) this.debts.delete(id);
  }

  /** A client WINDOW_UPDATE for a stream that owes window: the rest of its increment, or nothing. */
  private rewriteWindowUpdate(frame: Buffer): Buffer | undefined {
    const stream = frame.readUInt32BE(5) & MAX_WINDOW;
    const sent = frame.readUInt32BE(FRAME_HEADER) & MAX_WINDOW;
    if (sent === 0) return frame; // the client's PROTOCOL_ERROR, which the server answers itself
    const increment = this.payDebt(stream, sent);
    if (increment === 0) return undefined;
    frame.writeUInt32BE(increment, FRAME_HEADER);
    return frame;
  }
}
