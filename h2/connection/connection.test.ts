import { afterAll, beforeAll, expect, test } from "bun:test";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { H2ClientConnection } from "./connection";
import { LOCAL_STREAM_WINDOW as WINDOW } from "./frame_dispatch";
import type { StreamListener } from "./stream";
import { encodeHeaderBlock } from "../codec/hpack";
import { waitFor } from "../../tests/helpers/wait";

// A node:http2 server: /big answers 12 MiB in 64 KiB writes; /echo answers with what it received, once the request ends.
const BIG = 12 * 1024 * 1024;
const server = http2.createServer();
let port = 0;

beforeAll(async () => {
  server.on("stream", (stream: http2.ServerHttp2Stream, headers) => {
    stream.on("error", () => undefined);
    if (headers[":path"] === "/big") {
      stream.respond({ ":status": 200 });
      const chunk = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const pump = () => {
        while (sent < BIG) {
          sent += chunk.length;
          if (!stream.write(chunk)) return void stream.once("drain", pump);
        }
        stream.end();
      };
      pump();
      stream.resume();
      return;
    }
    const parts: Buffer[] = [];
    stream.on("data", (c: Buffer) => parts.push(c));
    stream.on("end", () => {
      stream.respond({ ":status": 200 });
      stream.end(Buffer.concat(parts));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => server.close());

const block = (path: string) =>
  encodeHeaderBlock([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "localhost"],
  ]);

/** Collects one stream; a reset or a lost connection rejects `ended` (and `failure` says why) instead of throwing into the connection. */
function collector() {
  let bytes = 0;
  const parts: Uint8Array[] = [];
  let failure: Error | undefined;
  let done: () => void = () => undefined;
  let fail: (e: Error) => void = () => undefined;
  const ended = new Promise<void>((resolve, reject) => {
    done = resolve;
    fail = (e) => {
      failure = e;
      reject(e);
    };
  });
  ended.catch(() => undefined); // handled: awaiting `ended` still rejects
  const listener: StreamListener = {
    onField: () => undefined,
    onHeadersEnd: (end) => end && done(),
    onData: (c, end) => {
      bytes += c.length;
      parts.push(c);
      if (end) done();
    },
    onReset: (code) => fail(new Error(`reset ${code}`)),
    onLost: (why) => fail(new Error(`lost: ${why}`)),
  };
  const bytesSoFar = () => {
    if (failure) throw failure;
    return bytes;
  };
  return { listener, ended, bytes: bytesSoFar, body: () => Buffer.concat(parts) };
}

test("a held stream stops the server at the stream window; release lets the rest through", async () => {
  const conn = new H2ClientConnection({ host: "127.0.0.1", port });
  try {
    const c = collector();
    const s = conn.open(block("/big"), undefined, c.listener);
    conn.hold(s);
    // Nothing is credited back while held: the server stops at exactly the stream window.
    await waitFor(() => c.bytes() === WINDOW, "the held stream received its whole 4 MiB window", { timeoutMs: 3_000 });
    // Marker: a round trip on the same connection after it; had the server gone on, more would have arrived by now.
    const echo = collector();
    conn.open(block("/echo"), new Uint8Array([9]), echo.listener);
    await echo.ended;
    expect(echo.body()).toEqual(Buffer.from([9]));
    expect(c.bytes()).toBe(WINDOW);
    conn.release(s);
    await c.ended;
    expect(c.bytes()).toBe(BIG);
  } finally {
    conn.close(true);
  }
});

test("a streamed request body (write, write, end) beyond the server's 64 KiB window arrives whole and in order", async () => {
  const conn = new H2ClientConnection({ host: "127.0.0.1", port });
  try {
    const c = collector();
    let drained = 0;
    const listener = { ...c.listener, onDrain: () => drained++ };
    const s = conn.open(block("/echo"), new Uint8Array([1, 2, 3]), listener, false);
    const part = new Uint8Array(600 * 1024).map((_, i) => i % 256);
    const accepted = [conn.write(s, part), conn.write(s, part)];
    conn.end(s);
    await c.ended;
    expect(c.body()).toEqual(Buffer.concat([Buffer.from([1, 2, 3]), part, part]));
    // Past the 1 MiB high-water mark write() asks the caller to wait, and onDrain says when to go on.
    expect(accepted).toEqual([true, false]);
    expect(drained).toBe(1);
  } finally {
    conn.close(true);
  }
});
