/**
 * An HTTP/2 client that writes frames by hand (node:net), for tests that must send exactly what a given peer
 * sends — grpc-go's frame sequence, frames a library would refuse to write — and see every frame that comes back.
 */
import net from "node:net";
import { FLAG, FRAME, frame, goawayFrame, PREFACE, rstStreamFrame, settingsFrame, windowUpdateFrame } from "../../h2/codec/frames";
import { encodeHeaderObject } from "../../h2/codec/hpack";

/** One frame received. */
export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export class RawH2 {
  readonly frames: RawFrame[] = [];
  closed = false;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 9) {
        const len = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + len) break;
        this.frames.push({ type: this.buf[3]!, flags: this.buf[4]!, streamId: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) });
        this.buf = this.buf.subarray(9 + len);
      }
      this.wake();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Connects (from localAddress when given) and sends the preface with these SETTINGS (none: defaults). */
  static async connect(address: string, settings: readonly (readonly [number, number])[] = [], localAddress?: string): Promise<RawH2> {
    const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
    const socket = net.connect({ port, host, localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const c = new RawH2(socket);
    c.send(Buffer.concat([PREFACE, settingsFrame(settings)]));
    return c;
  }

  send(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  headers(streamId: number, headers: Record<string, string>, endStream = false): void {
    this.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | (endStream ? FLAG.END_STREAM : 0), streamId, encodeHeaderObject(headers)));
  }

  /** DATA frames of at most 16 KiB carrying `bytes` zero bytes. */
  data(streamId: number, bytes: number, endStream = false): void {
    for (let left = bytes; left > 0 || (endStream && left === 0); ) {
      const n = Math.min(16_384, left);
      left -= n;
      this.send(frame(FRAME.DATA, endStream && left === 0 ? FLAG.END_STREAM : 0, streamId, new Uint8Array(n)));
      if (n === 0) break;
    }
  }

  settingsAck(): void {
    this.send(frame(FRAME.SETTINGS, FLAG.ACK, 0));
  }

  settings(pairs: readonly (readonly [number, number])[]): void {
    this.send(settingsFrame(pairs));
  }

  windowUpdate(streamId: number, increment: number): void {
    this.send(windowUpdateFrame(streamId, increment));
  }

  rst(streamId: number, code: number): void {
    this.send(rstStreamFrame(streamId, code));
  }

  goaway(code = 0): void {
    this.send(goawayFrame(0, code));
  }

  /** Half-closes the TCP connection (FIN). */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves with the first frame (from index `from`) matching `match`, or undefined when the connection closes or timeoutMs passes. */
  async waitFor(match: (f: RawFrame) => boolean, timeoutMs = 5_000, from = 0): Promise<RawFrame | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found || this.closed || Date.now() > deadline) return found;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves when the server closes the connection (true), or false after timeoutMs. */
  async waitClosed(timeoutMs = 5_000): Promise<boolean> {
    await this.waitFor(() => false, timeoutMs);
    return this.closed;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Request headers of a gRPC call. */
export function grpcRequest(path: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ":method": "POST", ":scheme": "http", ":path": path, ":authority": "localhost", "content-type": "application/grpc", te: "trailers", ...extra };
}
