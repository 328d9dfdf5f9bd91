import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http2 from "node:http2";
import type net from "node:net";
import { watchRequestBody } from "./request_body_timeout";

// Wide enough that a trickle every 100 ms never looks stalled on a loaded machine.
const TIMEOUT_MS = 600;

describe("watchRequestBody", () => {
  let server: http2.Http2Server;
  const sessions: http2.ClientHttp2Session[] = [];
  const resets: string[] = [];
  beforeAll(async () => {
    server = http2.createServer();
    server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      const name = String(headers["x-name"]);
      stream.on("error", () => undefined);
      watchRequestBody(stream, TIMEOUT_MS, () => resets.push(name));
      stream.on("data", () => undefined);
      stream.on("end", () => stream.respond({ ":status": 200 }, { endStream: true }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  });
  afterAll(() => {
    for (const s of sessions) s.destroy();
    server?.close();
  });

  // A connection per call: how a reset ends one stream must not touch the others.
  const open = (name: string) => {
    const session = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    session.on("error", () => undefined);
    sessions.push(session);
    const req = session.request({ ":method": "POST", ":path": "/", "x-name": name });
    req.on("error", () => undefined);
    req.on("response", () => undefined);
    const closed = new Promise<number>((r) => req.on("close", () => r(req.rstCode ?? 0)));
    return { req, closed };
  };

  test("a body that stops is reset after the timeout, not before; one that trickles or ends is left alone", async () => {
    const t0 = performance.now();
    const stalled = open("stalled");
    stalled.req.write("a");
    const trickling = open("trickling");
    const tick = setInterval(() => trickling.req.write("b"), 100);
    const ended = open("ended");
    ended.req.end("c");

    // Reset (the server sends CANCEL: tests/proxy/pattern_listener_limits.test.ts reads the frame; Bun's client reports 2).
    expect(await stalled.closed).not.toBe(0);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 2_000);
    expect(await ended.closed).toBe(0);

    // Three timeouts of trickling data: never reset; once it ends, answered.
    await Bun.sleep(TIMEOUT_MS * 3);
    clearInterval(tick);
    trickling.req.end();
    expect(await trickling.closed).toBe(0);
    expect(resets).toEqual(["stalled"]);
  });
});
