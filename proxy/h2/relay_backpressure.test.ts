import { afterAll, expect, test } from "bun:test";
import http2 from "node:http2";
import { H2Listener } from "./listener";
import { relay } from "./relay";
import { STREAM_WINDOW } from "./settings";
import { Upstream } from "./upstream";

const SIZE = 48 * 1024 * 1024;
/** What the pattern takes per timer turn: slower than the client sends, so the relay pauses and resumes often. */
const PATTERN_STEP = 256 * 1024;

const closers: (() => void)[] = [];
afterAll(() => {
  for (const close of closers) close();
});

/** A pattern that reads a request body slowly from a paused stream, then answers OK with the byte count. */
async function startSlowPattern(): Promise<string> {
  const server = http2.createServer();
  server.on("stream", (s: http2.ServerHttp2Stream) => {
    s.pause();
    let got = 0;
    const timer = setInterval(() => {
      for (let step = 0; step < PATTERN_STEP && s.readableLength > 0; ) {
        const chunk: Buffer | null = s.read(Math.min(s.readableLength, 16 * 1024));
        if (chunk === null) break;
        step += chunk.length;
        got += chunk.length;
      }
      if (got < SIZE) return;
      clearInterval(timer);
      s.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      s.on("wantTrailers", () => s.sendTrailers({ "grpc-status": "0", "x-got": String(got) }));
      s.end();
    }, 1);
    s.on("close", () => clearInterval(timer));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => server.close());
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

test("a large request body is not buffered in the proxy: the client is held to the pattern's pace", async () => {
  const target = new Upstream(await startSlowPattern());
  let maxBuffered = 0;
  const listener = new H2Listener((stream, headers) => {
    stream.on("data", () => {
      maxBuffered = Math.max(maxBuffered, stream.readableLength);
    });
    relay(stream, headers, target, "slow pattern", () => undefined);
  });
  const port = await listener.listen({ host: "127.0.0.1", port: 0 });
  closers.push(
    () => listener.destroy(),
    () => target.close(),
  );

  const client = http2.connect(`http://127.0.0.1:${port}`);
  closers.push(() => client.close());
  const req = client.request({ ":method": "POST", ":path": "/test.Large/Store", "content-type": "application/grpc", te: "trailers" });
  const trailers = new Promise<http2.IncomingHttpHeaders>((r) => req.once("trailers", r));
  req.resume();
  const part = Buffer.alloc(1024 * 1024, 7);
  for (let sent = 0; sent < SIZE; sent += part.length) if (!req.write(part)) await new Promise((r) => req.once("drain", r));
  req.end();

  expect((await trailers)["x-got"]).toBe(String(SIZE));
  // At most about one stream window waits in the proxy (it was most of the body: each resume reopened the
  // client's window for what still waited in the buffer).
  expect(maxBuffered).toBeLessThanOrEqual(2 * STREAM_WINDOW);
}, 60_000);
