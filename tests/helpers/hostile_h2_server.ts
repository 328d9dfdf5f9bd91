/**
 * A hostile HTTP/2 server for tests: a net.Server speaking frames written by hand, so a test can send exactly
 * what a broken or malicious peer would (illegal SETTINGS, floods, endless CONTINUATION, oversized headers, frames
 * on the wrong streams) and see what the client does about it. It reads the client's frames (preface, SETTINGS,
 * HEADERS, DATA, RST_STREAM, GOAWAY) and calls a script per request; `answerUnary` and `lifecycleScript` make it
 * a well-behaved gRPC server where a test needs one (the proxy's Initialize/Start/HealthCheck of a remote pattern).
 */
import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import net from "node:net";
import {
  DrainResponseSchema,
  HealthCheckResponseSchema,
  HealthStatus,
  InitializeResponseSchema,
  StartResponseSchema,
  StopResponseSchema,
} from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { FrameReader } from "../../h2/codec/frame_reader";
import { FLAG, FRAME, FRAME_HEADER_BYTES, frame, PREFACE, SETTING, settingsFrame, windowUpdateFrame } from "../../h2/codec/frames";
import { encodeHeaderBlock, HpackDecoder } from "../../h2/codec/hpack";

export { FLAG, FRAME, SETTING };

/** A request the client sent, once its END_STREAM arrived. */
export interface ReceivedRequest {
  readonly id: number;
  readonly path: string;
  readonly fields: readonly [string, string][];
}

/** One client connection, as the script sees it. */
export interface HostileConnection {
  readonly socket: net.Socket;
  /** Error codes of the GOAWAY frames the client sent. */
  readonly goaways: number[];
  /** RST_STREAM codes the client sent, by stream. */
  readonly resets: Map<number, number>;
  /** Requests seen on this connection. */
  readonly requests: ReceivedRequest[];
  /** Request HEADERS that arrived before this server had sent its SETTINGS. */
  readonly headersBeforeSettings: number;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
  /** Writes one frame. */
  frame(type: number, flags: number, id: number, payload?: Uint8Array): void;
  settings(pairs: readonly (readonly [number, number])[]): void;
  /** A header block in one HEADERS frame (END_HEADERS), with END_STREAM when asked. */
  headers(id: number, fields: readonly (readonly [string, string])[], endStream?: boolean): void;
  data(id: number, payload: Uint8Array, endStream?: boolean): void;
  /** Writes what `next()` returns as fast as the client reads it, until it returns undefined or the socket closes. */
  pump(next: () => Uint8Array | undefined): void;
}

/** What the server does with a request. */
export type Script = (conn: HostileConnection, req: ReceivedRequest) => void;

export interface HostileServerOptions {
  /** The server's first SETTINGS on each connection (default: an empty SETTINGS); null sends none. */
  settings?: readonly (readonly [number, number])[] | null;
  /** Called with each connection once the client's preface arrived. */
  onConnection?: (conn: HostileConnection) => void;
  /** Called when the client's SETTINGS (not an ACK) arrive. */
  onClientSettings?: (conn: HostileConnection) => void;
  /** Return receive window for the DATA it reads (default true). */
  windowUpdates?: boolean;
  /** Called for each request (default: answers every call OK with an empty message). */
  onRequest?: Script;
}

export interface HostileServer {
  readonly port: number;
  readonly address: string;
  readonly connections: HostileConnection[];
  close(): Promise<void>;
}

const CLIENT_PREFACE_BYTES = PREFACE.length;

/** Starts the server on 127.0.0.1 (a free port). */
export async function startHostileServer(opts: HostileServerOptions = {}): Promise<HostileServer> {
  const connections: HostileConnection[] = [];
  const server = net.createServer((socket) => {
    socket.on("error", () => undefined);
    const conn = accept(socket, opts);
    connections.push(conn);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    connections,
    close: async () => {
      for (const c of connections) c.socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function accept(socket: net.Socket, opts: HostileServerOptions): HostileConnection {
  let closed = false;
  let settingsSent = false;
  const closedP = new Promise<void>((r) => socket.once("close", () => r()));
  closedP.then(() => (closed = true));
  const write = (buf: Uint8Array) => {
    if (!closed && !socket.destroyed) socket.write(buf);
  };
  const conn: HostileConnection = {
    socket,
    goaways: [],
    resets: new Map(),
    requests: [],
    headersBeforeSettings: 0,
    closed: closedP,
    isClosed: () => closed,
    frame: (type, flags, id, payload) => write(frame(type, flags, id, payload)),
    settings: (pairs) => {
      settingsSent = true;
      write(settingsFrame(pairs));
    },
    headers: (id, fields, endStream = false) =>
      write(frame(FRAME.HEADERS, FLAG.END_HEADERS | (endStream ? FLAG.END_STREAM : 0), id, encodeHeaderBlock(fields))),
    data: (id, payload, endStream = false) => write(frame(FRAME.DATA, endStream ? FLAG.END_STREAM : 0, id, payload)),
    pump: (next) => {
      const go = () => {
        while (!closed && !socket.destroyed) {
          const buf = next();
          if (buf === undefined) return;
          if (!socket.write(buf)) return void socket.once("drain", go);
        }
      };
      go();
    },
  };
  const decoder = new HpackDecoder();
  const open = new Map<number, { fields: [string, string][] }>();
  let block: { id: number; endStream: boolean; parts: Buffer[] } | undefined;
  const ended = (id: number) => {
    const s = open.get(id);
    if (s === undefined) return;
    open.delete(id);
    const req: ReceivedRequest = { id, path: s.fields.find(([n]) => n === ":path")?.[1] ?? "", fields: s.fields };
    conn.requests.push(req);
    (opts.onRequest ?? answerOk)(conn, req);
  };
  const headerBlock = (id: number, endStream: boolean, bytes: Buffer) => {
    const fields: [string, string][] = [];
    decoder.decode(bytes, (n, v) => fields.push([n, v]));
    if (!open.has(id)) open.set(id, { fields });
    if (endStream) ended(id);
  };
  const reader = new FrameReader(
    1 << 24,
    (type, flags, id, payload) => {
      if (closed) return false;
      switch (type) {
        case FRAME.SETTINGS:
          if (!(flags & FLAG.ACK)) {
            write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
            opts.onClientSettings?.(conn);
          }
          break;
        case FRAME.PING:
          if (!(flags & FLAG.ACK)) write(frame(FRAME.PING, FLAG.ACK, 0, payload));
          break;
        case FRAME.HEADERS: {
          if (!settingsSent) (conn as { headersBeforeSettings: number }).headersBeforeSettings++;
          let start = flags & FLAG.PADDED ? 1 : 0;
          if (flags & FLAG.PRIORITY) start += 5;
          const frag = payload.subarray(start, payload.length - (flags & FLAG.PADDED ? payload[0]! : 0));
          if (flags & FLAG.END_HEADERS) headerBlock(id, (flags & FLAG.END_STREAM) !== 0, frag);
          else block = { id, endStream: (flags & FLAG.END_STREAM) !== 0, parts: [frag] };
          break;
        }
        case FRAME.CONTINUATION:
          if (block !== undefined) {
            block.parts.push(payload);
            if (flags & FLAG.END_HEADERS) {
              const b = block;
              block = undefined;
              headerBlock(b.id, b.endStream, Buffer.concat(b.parts));
            }
          }
          break;
        case FRAME.DATA:
          if (payload.length > 0 && opts.windowUpdates !== false) {
            write(windowUpdateFrame(0, payload.length));
            if (!(flags & FLAG.END_STREAM)) write(windowUpdateFrame(id, payload.length));
          }
          if (flags & FLAG.END_STREAM) ended(id);
          break;
        case FRAME.RST_STREAM:
          conn.resets.set(id, payload.readUInt32BE(0));
          open.delete(id);
          break;
        case FRAME.GOAWAY:
          conn.goaways.push(payload.readUInt32BE(4));
          break;
      }
      return !closed;
    },
    () => socket.destroy(),
  );
  let preface = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    if (preface.length < CLIENT_PREFACE_BYTES) {
      preface = Buffer.concat([preface, chunk]);
      if (preface.length < CLIENT_PREFACE_BYTES) return;
      if (!preface.subarray(0, CLIENT_PREFACE_BYTES).equals(PREFACE)) return void socket.destroy();
      chunk = preface.subarray(CLIENT_PREFACE_BYTES);
      if (opts.settings !== null) conn.settings(opts.settings ?? []);
      opts.onConnection?.(conn);
    }
    if (chunk.length > 0) reader.push(chunk);
  };
  socket.on("data", onData);
  return conn;
}

/** A gRPC message with its 5-byte length prefix. */
export function grpcMessage<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Buffer {
  const bytes = toBinary(schema, create(schema, init));
  const out = Buffer.allocUnsafe(5 + bytes.length);
  out[0] = 0;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

/** Answers a unary call: headers, the message, trailers with `status`. */
export function answerUnary(conn: HostileConnection, id: number, message: Uint8Array, status = 0): void {
  conn.headers(id, [
    [":status", "200"],
    ["content-type", "application/grpc"],
  ]);
  if (message.length > 0) conn.data(id, message);
  conn.headers(id, [["grpc-status", String(status)]], true);
}

/** Answers any call OK with an empty message. */
export const answerOk: Script = (conn, req) => answerUnary(conn, req.id, Buffer.from([0, 0, 0, 0, 0]));

const LIFECYCLE = "/prism.interfaces.LifecycleInterface/";

/**
 * A well-behaved remote pattern's LifecycleInterface (Initialize names it "hostile" with KeyValueBasicInterface;
 * Start, HealthCheck healthy, Drain, Stop); other paths go to `otherwise`, read at each request so a test can
 * switch the attack while the server runs.
 */
export function lifecycleScript(otherwise: () => Script): Script {
  return (conn, req) => {
    if (!req.path.startsWith(LIFECYCLE)) return otherwise()(conn, req);
    const method = req.path.slice(LIFECYCLE.length);
    const reply =
      method === "Initialize"
        ? grpcMessage(InitializeResponseSchema, {
            success: true,
            metadata: {
              name: "hostile",
              version: "6.6.6",
              interfaces: [{ name: KeyValueBasicInterface.typeName, protoFile: "prism/interfaces/keyvalue/keyvalue_basic.proto", version: "v1" }],
            },
          })
        : method === "Start"
          ? grpcMessage(StartResponseSchema, { success: true, dataEndpoint: "203.0.113.1:1" })
          : method === "HealthCheck"
            ? grpcMessage(HealthCheckResponseSchema, { status: HealthStatus.HEALTHY, message: "", details: {} })
            : method === "Drain"
              ? grpcMessage(DrainResponseSchema, { success: true })
              : grpcMessage(StopResponseSchema, { success: true });
    answerUnary(conn, req.id, reply);
  };
}

/** A frame header and payload, for scripts that build frames byte by byte. */
export function rawFrame(type: number, flags: number, id: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  return frame(type, flags, id, payload);
}

/** `n` frames of the same bytes, as one buffer (for floods). */
export function repeated(one: Uint8Array, n: number): Buffer {
  const out = Buffer.allocUnsafe(one.length * n);
  for (let i = 0; i < n; i++) out.set(one, i * one.length);
  return out;
}

/** A 32-bit big-endian payload (WINDOW_UPDATE increments, RST_STREAM codes). */
export function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

export const FRAME_HEADER = FRAME_HEADER_BYTES;

const MAX_FRAME = 16_384;

/** Frames of `frameBytes` payload each, `total` bytes in all, produced lazily for pump(). */
function frames(total: number, make: (i: number) => Buffer): () => Buffer | undefined {
  let sent = 0;
  let i = 0;
  return () => {
    if (sent >= total) return undefined;
    const b = make(i++);
    sent += b.length;
    return b;
  };
}

/** One response header block of 100,000 one-byte fields (":status: 200", indexed), in HEADERS + CONTINUATION frames. */
export function manyFieldsBlock(id: number, fields = 100_000): Buffer {
  const block = Buffer.alloc(fields, 0x88);
  const out: Buffer[] = [];
  for (let off = 0; off < block.length; off += MAX_FRAME) {
    const last = off + MAX_FRAME >= block.length;
    out.push(frame(off === 0 ? FRAME.HEADERS : FRAME.CONTINUATION, last ? FLAG.END_HEADERS : 0, id, block.subarray(off, off + MAX_FRAME)));
  }
  return Buffer.concat(out);
}

/**
 * Attacks a remote pattern could make on the connection a request came on, each answering that request with
 * it. The RFC 9113 connection errors end the client's connection with the GOAWAY code named in `ATTACK_CODES`.
 */
export const ATTACKS = {
  maxFrameSize0: (c) => c.settings([[SETTING.MAX_FRAME_SIZE, 0]]),
  maxFrameSize1: (c) => c.settings([[SETTING.MAX_FRAME_SIZE, 1]]),
  maxFrameSizeAboveLimit: (c) => c.settings([[SETTING.MAX_FRAME_SIZE, 1 << 24]]),
  initialWindowAbove2p31: (c) => c.settings([[SETTING.INITIAL_WINDOW_SIZE, 2 ** 31]]),
  enablePush1: (c) => c.settings([[SETTING.ENABLE_PUSH, 1]]),
  connectionWindowOverflow: (c) => {
    c.frame(FRAME.WINDOW_UPDATE, 0, 0, u32(0x7fffffff));
    c.frame(FRAME.WINDOW_UPDATE, 0, 0, u32(0x7fffffff));
  },
  connectionWindowUpdate0: (c) => c.frame(FRAME.WINDOW_UPDATE, 0, 0, u32(0)),
  settingsOnStream: (c, r) => c.frame(FRAME.SETTINGS, 0, r.id),
  settingsWrongLength: (c) => c.frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(5)),
  settingsAckWithPayload: (c) => c.frame(FRAME.SETTINGS, FLAG.ACK, 0, Buffer.alloc(6)),
  pingOnStream: (c, r) => c.frame(FRAME.PING, 0, r.id, Buffer.alloc(8)),
  pingWrongLength: (c) => c.frame(FRAME.PING, 0, 0, Buffer.alloc(7)),
  goawayOnStream: (c, r) => c.frame(FRAME.GOAWAY, 0, r.id, Buffer.alloc(8)),
  rstOnStream0: (c) => c.frame(FRAME.RST_STREAM, 0, 0, u32(8)),
  rstWrongLength: (c, r) => c.frame(FRAME.RST_STREAM, 0, r.id, Buffer.alloc(3)),
  rstOnIdleStream: (c, r) => c.frame(FRAME.RST_STREAM, 0, r.id + 200, u32(8)),
  windowUpdateWrongLength: (c, r) => c.frame(FRAME.WINDOW_UPDATE, 0, r.id, Buffer.alloc(5)),
  dataOnStream0: (c) => c.frame(FRAME.DATA, 0, 0, Buffer.alloc(4)),
  dataOnIdleStream: (c, r) => c.frame(FRAME.DATA, 0, r.id + 200, Buffer.alloc(4)),
  headersOnStream0: (c) => c.frame(FRAME.HEADERS, FLAG.END_HEADERS, 0, Buffer.from([0x88])),
  headersOnEvenStream: (c) => c.frame(FRAME.HEADERS, FLAG.END_HEADERS, 2, Buffer.from([0x88])),
  priorityOnStream0: (c) => c.frame(FRAME.PRIORITY, 0, 0, Buffer.alloc(5)),
  pushPromise: (c, r) => c.frame(FRAME.PUSH_PROMISE, FLAG.END_HEADERS, r.id, Buffer.from([0, 0, 0, 2, 0x82])),
  continuationWithoutHeaders: (c, r) => c.frame(FRAME.CONTINUATION, FLAG.END_HEADERS, r.id, Buffer.from([0x88])),
  continuationInterleaved: (c, r) => {
    c.frame(FRAME.HEADERS, 0, r.id, Buffer.from([0x88]));
    c.frame(FRAME.DATA, 0, r.id, Buffer.alloc(4));
  },
  continuationOtherStream: (c, r) => {
    c.frame(FRAME.HEADERS, 0, r.id, Buffer.from([0x88]));
    c.frame(FRAME.CONTINUATION, FLAG.END_HEADERS, r.id + 200, Buffer.from([0x88]));
  },
  headersPaddingTooLong: (c, r) => c.frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.PADDED, r.id, Buffer.from([9, 0x88])),
  oversizedFrame: (c, r) => c.frame(FRAME.DATA, 0, r.id, Buffer.alloc(MAX_FRAME + 1)),
  hpackTableSizeAboveAnnounced: (c, r) => c.frame(FRAME.HEADERS, FLAG.END_HEADERS, r.id, Buffer.from([0x3f, 0xe1, 0xff, 0x03, 0x88])),
  hpackBadIndex: (c, r) => c.frame(FRAME.HEADERS, FLAG.END_HEADERS, r.id, Buffer.from([0xff, 0x40])),
  /** A header block that never ends: CONTINUATION after CONTINUATION (up to 1 GiB) while the client reads. */
  endlessContinuation: (c, r) => {
    c.frame(FRAME.HEADERS, 0, r.id, Buffer.from([0x88]));
    const payload = Buffer.alloc(MAX_FRAME, 0x88);
    c.pump(frames(1 << 30, () => frame(FRAME.CONTINUATION, 0, r.id, payload)));
  },
  /** One header of 64 MiB (a literal "x-big"), in HEADERS + CONTINUATION frames. */
  hugeHeader: (c, r) => {
    const size = 64 * 1024 * 1024;
    const prefix = Buffer.from([0x00, 0x05, ...Buffer.from("x-big"), 0x7f, ...varint(size - 127)]);
    const first = Buffer.alloc(MAX_FRAME, 0x61);
    prefix.copy(first);
    const rest = Buffer.alloc(MAX_FRAME, 0x61);
    c.frame(FRAME.HEADERS, 0, r.id, first);
    c.pump(frames(size, (i) => frame(FRAME.CONTINUATION, (i + 1) * MAX_FRAME >= size ? FLAG.END_HEADERS : 0, r.id, rest)));
  },
  /** PINGs as fast as the socket takes them (up to 4 million), the server reading nothing for half a second (a slow reader). */
  pingFlood: (c) => {
    c.socket.pause();
    setTimeout(() => c.socket.resume(), 500);
    const batch = repeated(frame(FRAME.PING, 0, 0, Buffer.alloc(8)), 4096);
    c.pump(frames(4_000_000 * 17, () => batch));
  },
  settingsFlood: (c) => {
    const batch = repeated(frame(FRAME.SETTINGS, 0, 0), 4096);
    c.pump(frames(4_000_000 * 9, () => batch));
  },
  /** RST_STREAM REFUSED_STREAM for the request's stream, then for it again and again (a closed stream). */
  rstFlood: (c, r) => {
    const batch = repeated(frame(FRAME.RST_STREAM, 0, r.id, u32(7)), 4096);
    c.pump(frames(4_000_000 * 13, () => batch));
  },
  /** Response headers of 100,000 one-byte fields in one 100 KB block. */
  manyFields: (c, r) => c.socket.write(manyFieldsBlock(r.id)),
} satisfies Record<string, Script>;

export type AttackName = keyof typeof ATTACKS;

/** The GOAWAY error code each attack that is a connection error earns (RFC 9113; ENHANCE_YOUR_CALM for floods and bounds). */
export const ATTACK_CODES: Partial<Record<AttackName, number>> = {
  maxFrameSize0: 0x1,
  maxFrameSize1: 0x1,
  maxFrameSizeAboveLimit: 0x1,
  initialWindowAbove2p31: 0x3,
  enablePush1: 0x1,
  connectionWindowOverflow: 0x3,
  connectionWindowUpdate0: 0x1,
  settingsOnStream: 0x1,
  settingsWrongLength: 0x6,
  settingsAckWithPayload: 0x6,
  pingOnStream: 0x1,
  pingWrongLength: 0x6,
  goawayOnStream: 0x1,
  rstOnStream0: 0x1,
  rstWrongLength: 0x6,
  rstOnIdleStream: 0x1,
  windowUpdateWrongLength: 0x6,
  dataOnStream0: 0x1,
  dataOnIdleStream: 0x1,
  headersOnStream0: 0x1,
  headersOnEvenStream: 0x1,
  priorityOnStream0: 0x1,
  pushPromise: 0x1,
  continuationWithoutHeaders: 0x1,
  continuationInterleaved: 0x1,
  continuationOtherStream: 0x1,
  headersPaddingTooLong: 0x1,
  oversizedFrame: 0x6,
  hpackTableSizeAboveAnnounced: 0x9,
  hpackBadIndex: 0x9,
  endlessContinuation: 0xb,
  hugeHeader: 0xb,
  pingFlood: 0xb,
  settingsFlood: 0xb,
  rstFlood: 0xb,
};

/** An HPACK integer continuation (the bytes after a full prefix). */
function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
