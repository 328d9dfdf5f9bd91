/**
 * The proxy → pattern side of the relay against raw HTTP/2 servers playing a pattern: calls spread over several
 * connections within the pattern's stream limit, a bound past which calls are refused at once, unary calls
 * answered while the limit is held by streams, the health Watch on a connection of its own (ended on GOAWAY),
 * REFUSED_STREAM and GOAWAY'd calls sent once more, and a connection lost after the request was sent → UNKNOWN.
 */
import { afterEach, describe, expect, test } from "bun:test";
import http2 from "node:http2";
import { Code } from "../../sdk/grpc/errors";
import { watchServing } from "./health_watch";
import { H2Listener } from "./listener";
import { relay } from "./relay";
import { startFramedPattern } from "./testing/framed_pattern";
import { Upstream, type UpstreamOptions } from "./upstream";

type Behaviour = (st: http2.ServerHttp2Stream, session: http2.ServerHttp2Session, path: string) => void;

const GET = "/prism.interfaces.keyvalue.KeyValueBasicInterface/Get";
const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);

function ok(st: http2.ServerHttp2Stream): void {
  if (!st.closed) st.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "0" }, { endStream: true });
}

/** A raw HTTP/2 server standing in for a pattern; records the sessions streams arrived on. */
async function rawPattern(behaviour: Behaviour, settings: http2.Settings = {}) {
  const server = http2.createServer({ settings });
  const sessions = new Set<http2.ServerHttp2Session>();
  const streamsPerSession = new Map<http2.ServerHttp2Session, number>();
  server.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on("error", () => undefined);
  });
  server.on("stream", (st: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    st.on("error", () => undefined);
    const session = st.session as http2.ServerHttp2Session;
    streamsPerSession.set(session, (streamsPerSession.get(session) ?? 0) + 1);
    behaviour(st, session, String(headers[":path"]));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    sessions,
    streamsPerSession,
    close() {
      for (const s of sessions) s.destroy();
      server.close();
    },
  };
}

/** The proxy's relay in front of an Upstream to `address`. */
async function front(address: string, opts: UpstreamOptions = {}) {
  const upstream = new Upstream(address, opts);
  const listener = new H2Listener((stream, headers) => relay(stream, headers, upstream, "pattern", () => undefined));
  const port = await listener.listen({ host: "127.0.0.1", port: 0 });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => undefined);
  return {
    upstream,
    /** One gRPC call: `done` resolves with its status; `opened` when response headers came (true: without a status, the call goes on). */
    call(path: string, timeoutMs = 10_000): { done: Promise<{ code: number; message: string }>; opened: Promise<boolean>; cancel(): void } {
      const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
      req.on("error", () => undefined);
      let opened!: (open: boolean) => void;
      const openedP = new Promise<boolean>((r) => (opened = r));
      const done = new Promise<{ code: number; message: string }>((resolve) => {
        const timer = setTimeout(() => resolve({ code: Code.DEADLINE_EXCEEDED, message: "test deadline" }), timeoutMs);
        const finish = (h: http2.IncomingHttpHeaders) => {
          if (h["grpc-status"] === undefined) return false;
          clearTimeout(timer);
          resolve({ code: Number(h["grpc-status"]), message: decodeURIComponent(String(h["grpc-message"] ?? "")) });
          return true;
        };
        req.on("response", (h) => opened(!finish(h)));
        req.on("trailers", finish);
        req.on("close", () => {
          clearTimeout(timer);
          resolve({ code: -1, message: `closed (${req.rstCode})` });
        });
      });
      req.end(EMPTY_MESSAGE);
      req.resume();
      return { done, opened: openedP, cancel: () => req.close(http2.constants.NGHTTP2_CANCEL) };
    },
    /** Another client connection to the same listener. */
    another(): http2.ClientHttp2Session {
      const other = http2.connect(`http://127.0.0.1:${port}`);
      other.on("error", () => undefined);
      return other;
    },
    session,
    close() {
      session.destroy();
      listener.destroy();
      upstream.close();
    },
  };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

describe("the upstream pool", () => {
  test("calls spread over connections within the pattern's stream limit; past max_streams streams are refused at once, naming it, while unary calls still pass", async () => {
    const pattern = await rawPattern(
      (st, _s, path) => {
        if (path === GET) ok(st);
        else st.respond({ ":status": 200, "content-type": "application/grpc" }); // held open
      },
      { maxConcurrentStreams: 5 },
    );
    cleanups.push(pattern.close);
    const f = await front(pattern.address, { maxStreams: 12 });
    cleanups.push(f.close);
    // The first call teaches the proxy the pattern's limit (its SETTINGS come before its first answer).
    const held = [f.call("/t/hold")];
    await held[0]!.opened;
    for (let i = 0; i < 11; i++) held.push(f.call("/t/hold"));
    const opened = await Promise.all(held.map((h) => h.opened));
    expect(opened).toEqual(held.map(() => true));
    // Twelve streams on a pattern that takes five per connection: three connections, none over its limit.
    expect(f.upstream.connections).toBe(3);
    for (const n of pattern.streamsPerSession.values()) expect(n).toBeLessThanOrEqual(5);
    const refused = await f.call("/t/hold").done;
    expect(refused.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(refused.message).toContain("max_streams 12");
    // Unary calls have headroom above the streams' bound: answered, on a fourth connection.
    for (let i = 0; i < 3; i++) expect((await f.call(GET).done).code).toBe(Code.OK);
    // One stream ending frees its place.
    held[0]!.cancel();
    const deadline = Date.now() + 5_000;
    while (f.upstream.callsInFlight > 11 && Date.now() < deadline) await Bun.sleep(5);
    expect(await f.call("/t/hold").opened).toBe(true);
  }, 20_000);

  test("a client's calls past its first 100 go to connections of its own: when it vanishes, other clients' calls live on", async () => {
    const pattern = await rawPattern((st) => st.respond({ ":status": 200, "content-type": "application/grpc" }));
    cleanups.push(pattern.close);
    const f = await front(pattern.address);
    cleanups.push(f.close);
    const quiet = f.call("/t/hold", 30_000);
    await quiet.opened;
    const greedy = f.another();
    const greedyOpened: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const req = greedy.request({ ":method": "POST", ":path": "/t/hold", "content-type": "application/grpc", te: "trailers" });
      req.on("error", () => undefined);
      greedyOpened.push(new Promise((r) => req.once("response", () => r())));
      req.end(EMPTY_MESSAGE);
    }
    await Promise.all(greedyOpened);
    // One shared connection; the greedy client's 200 more on its own (more than one while the pattern's limit is unknown).
    expect(f.upstream.connections).toBeGreaterThanOrEqual(2);
    const shared = [...pattern.sessions][0]!;
    expect(pattern.streamsPerSession.get(shared)).toBe(101);
    greedy.destroy();
    const deadline = Date.now() + 5_000;
    while (f.upstream.connections > 1 && Date.now() < deadline) await Bun.sleep(10);
    // The greedy client's own connection is gone; the shared one, and the quiet client's call on it, are not.
    expect(f.upstream.connections).toBe(1);
    expect(shared.closed || shared.destroyed).toBe(false);
    expect(f.upstream.callsInFlight).toBe(1);
  }, 20_000);

  test("with one stream per connection, the health Watch does not take the stream data calls need", async () => {
    const pattern = await rawPattern(
      (st, _s, path) => {
        if (path === "/grpc.health.v1.Health/Watch") st.respond({ ":status": 200, "content-type": "application/grpc" });
        else ok(st);
      },
      { maxConcurrentStreams: 1 },
    );
    cleanups.push(pattern.close);
    const f = await front(pattern.address);
    cleanups.push(f.close);
    const stop = new AbortController();
    cleanups.push(() => stop.abort());
    void watchServing(f.upstream, () => undefined, stop.signal);
    const deadline = Date.now() + 5_000;
    while (pattern.streamsPerSession.size === 0 && Date.now() < deadline) await Bun.sleep(5);
    for (let i = 0; i < 3; i++) expect((await f.call(GET, 5_000).done).code).toBe(Code.OK);
  }, 20_000);

  test("the health Watch ends when its connection gets GOAWAY, so the pattern can finish a graceful stop", async () => {
    let watchClosed = false;
    const pattern = await rawPattern((st, session, path) => {
      if (path !== "/grpc.health.v1.Health/Watch") return ok(st);
      st.respond({ ":status": 200, "content-type": "application/grpc" });
      st.once("close", () => (watchClosed = true));
      // A graceful stop: GOAWAY naming this stream as the last one taken, which the pattern still serves.
      setTimeout(() => session.goaway(http2.constants.NGHTTP2_NO_ERROR, st.id!), 50);
    });
    cleanups.push(pattern.close);
    const upstream = new Upstream(pattern.address);
    cleanups.push(() => upstream.close());
    const stop = new AbortController();
    cleanups.push(() => stop.abort());
    void watchServing(upstream, () => undefined, stop.signal, 60_000);
    const deadline = Date.now() + 5_000;
    while (!watchClosed && Date.now() < deadline) await Bun.sleep(10);
    expect(watchClosed).toBe(true);
  }, 20_000);

  test("a call the pattern refused unprocessed (REFUSED_STREAM) is sent once more, on another connection", async () => {
    const seen: number[] = [];
    const pattern = await startFramedPattern((_id, reply) => {
      seen.push(reply.connection);
      if (seen.length === 1) reply.refuse();
      else reply.ok();
    });
    cleanups.push(pattern.close);
    const f = await front(pattern.address);
    cleanups.push(f.close);
    expect((await f.call(GET).done).code).toBe(Code.OK);
    expect(seen).toEqual([1, 2]);
  }, 20_000);

  test("a call above GOAWAY's last stream is sent once more; a call lost after it was sent is UNKNOWN, not UNAVAILABLE", async () => {
    const seen: number[] = [];
    const pattern = await startFramedPattern((_id, reply) => {
      seen.push(reply.connection);
      if (seen.length === 1) reply.goaway(0);
      else if (seen.length === 2) reply.ok();
      else reply.drop();
    });
    cleanups.push(pattern.close);
    const f = await front(pattern.address);
    cleanups.push(f.close);
    expect((await f.call("/t/goaway").done).code).toBe(Code.OK);
    expect(seen).toEqual([1, 2]);
    const lost = await f.call("/t/crash").done;
    expect(lost.code).toBe(Code.UNKNOWN);
    expect(lost.message).toContain("outcome is unknown");
    // Not sent again: it may have been applied.
    expect(seen).toHaveLength(3);
  }, 20_000);

  test("a pattern not listening: every call UNAVAILABLE at once", async () => {
    const pattern = await rawPattern(ok);
    const address = pattern.address;
    pattern.close();
    const f = await front(address);
    cleanups.push(f.close);
    const results = await Promise.all(Array.from({ length: 20 }, () => f.call(GET).done));
    for (const r of results) expect(r.code).toBe(Code.UNAVAILABLE);
  }, 20_000);
});
