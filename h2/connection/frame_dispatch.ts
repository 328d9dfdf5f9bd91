import {
  DEFAULT_MAX_FRAME,
  ERROR,
  FLAG,
  FRAME,
  frame,
  MAX_FRAME_SIZE_LIMIT,
  MAX_STREAM_ID,
  MAX_WINDOW,
  rstStreamFrame,
  SETTING,
  windowUpdateFrame,
} from "../codec/frames";
import { HpackDecoder, type OnHeaderField } from "../codec/hpack";
import { HEADER_TABLE_SIZE, MAX_CONTINUATION_FRAMES, MAX_HEADER_BLOCK_BYTES, MAX_HEADER_LIST_SIZE } from "../codec/limits";
import { MAX_IDLE_FRAMES_PER_SECOND } from "./limits";
import { type ClientStream, PROCESSED, UNSENT } from "./stream";
import { StreamState } from "./streams";

/** Receive windows this side announces: wide, so a peer rarely waits for WINDOW_UPDATE frames. */
export const LOCAL_STREAM_WINDOW = 4 * 1024 * 1024;
export const LOCAL_CONNECTION_WINDOW = 16 * 1024 * 1024;

/** A header block being received over HEADERS and CONTINUATION frames. */
interface PartialBlock {
  stream: number;
  endStream: boolean;
  parts: Uint8Array[];
  bytes: number;
  frames: number;
}

/**
 * What the server sends, frame by frame (RFC 9113 §6): DATA and the receive windows, header blocks over HEADERS
 * and CONTINUATION decoded with HPACK and bounded, SETTINGS, WINDOW_UPDATE, RST_STREAM, PING, GOAWAY. Every
 * connection error ends the connection (protocolError), stream errors reset the stream, and frames that carry no
 * response are counted against a flood.
 */
export abstract class FrameDispatch extends StreamState {
  private readonly decoder = new HpackDecoder(HEADER_TABLE_SIZE);
  private goawayLast = MAX_STREAM_ID;
  private unackedReceive = 0;
  protected continuation: PartialBlock | undefined;
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
  /** The delayed dial, then the connect timeout (connection.ts); the server's first SETTINGS clears it. */
  protected timer: ReturnType<typeof setTimeout> | undefined;
  private idleFrames = 0;
  private idleSince = 0;
  private closedResets = 0;
  /** When the server's first SETTINGS was read (connection.ts's healthy). */
  protected readyAt = 0;
  /** The server broke a protocol rule or a bound, and the connection was closed for it. */
  violated = false;
  /** The error code of the server's GOAWAY, if one came. */
  goawayCode: number | undefined;

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

  protected frame(type: number, flags: number, id: number, payload: Buffer): void {
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
