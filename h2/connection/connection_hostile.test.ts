import { afterEach, describe, expect, test } from "bun:test";
import {
  ATTACK_CODES,
  ATTACKS,
  type AttackName,
  answerOk,
  FRAME,
  type HostileServer,
  type HostileServerOptions,
  SETTING,
  startHostileServer,
  u32,
} from "../../tests/helpers/hostile_h2_server";
import { H2ClientConnection } from "./connection";
import { LazyConnection } from "./lazy_connection";
import type { ConnectTarget, LostInfo, StreamListener } from "./stream";
import { ERROR } from "../codec/frames";
import { encodeHeaderBlock } from "../codec/hpack";
import { MAX_HEADER_LIST_SIZE } from "../codec/limits";

const BLOCK = encodeHeaderBlock([
  [":method", "POST"],
  [":scheme", "http"],
  [":path", "/test.Service/Call"],
  [":authority", "localhost"],
  ["content-type", "application/grpc"],
]);
const BODY = Buffer.from([0, 0, 0, 0, 0]);

/** How a stream ended, as its listener heard it. */
type Outcome =
  | { kind: "end"; fields: [string, string][]; bytes: number }
  | { kind: "reset"; code: number }
  | { kind: "lost"; reason: string; info: LostInfo | undefined };

function watch(): { listener: StreamListener; outcome: Promise<Outcome>; fields: [string, string][]; goaway: number[] } {
  const fields: [string, string][] = [];
  const goaway: number[] = [];
  let bytes = 0;
  let settle: (o: Outcome) => void = () => undefined;
  const outcome = new Promise<Outcome>((r) => (settle = r));
  const listener: StreamListener = {
    onField: (n, v) => fields.push([n, v]),
    onHeadersEnd: (end) => end && settle({ kind: "end", fields, bytes }),
    onData: (c, end) => {
      bytes += c.length;
      if (end) settle({ kind: "end", fields, bytes });
    },
    onReset: (code) => settle({ kind: "reset", code }),
    onLost: (reason, info) => settle({ kind: "lost", reason, info }),
    onGoaway: (code) => goaway.push(code),
  };
  return { listener, outcome, fields, goaway };
}

let server: HostileServer | undefined;
const conns: H2ClientConnection[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) c.close(true);
  await server?.close();
  server = undefined;
});

async function serve(opts: HostileServerOptions): Promise<HostileServer> {
  server = await startHostileServer(opts);
  return server;
}

function connect(s: HostileServer, extra: Partial<ConnectTarget> = {}): H2ClientConnection {
  const c = new H2ClientConnection({ host: "127.0.0.1", port: s.port, connectTimeoutMs: 5_000, ...extra });
  conns.push(c);
  return c;
}

/** Polls until `check` holds (bounded). */
async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await Bun.sleep(5);
  }
}

describe("a server that breaks RFC 9113 loses its connection with GOAWAY and the right code; its streams fail", () => {
  for (const [name, code] of Object.entries(ATTACK_CODES) as [AttackName, number][]) {
    test(`${name} → GOAWAY ${code}`, async () => {
      const s = await serve({ onRequest: ATTACKS[name] });
      const c = connect(s);
      const w = watch();
      const started = performance.now();
      c.open(BLOCK, BODY, w.listener);
      const o = await w.outcome;
      // The RST_STREAM flood's first frame resets the stream itself; the flood then ends the connection.
      if (name === "rstFlood") expect(o).toEqual({ kind: "reset", code: ERROR.REFUSED_STREAM });
      else expect(o.kind === "lost" && o.reason).toMatch(/protocol error from the server/);
      await until(() => c.closed, "the connection closes");
      expect(c.closeReason).toMatch(/protocol error from the server/);
      expect(c.violated).toBe(true);
      // The floods and bounds end within a bounded time, not when the attacker stops.
      expect(performance.now() - started).toBeLessThan(5_000);
      const sc = s.connections[0]!;
      // A server that stopped reading (the PING flood) cannot see the GOAWAY; the others do.
      if (name !== "pingFlood") await until(() => sc.goaways.length > 0 || sc.isClosed(), "the GOAWAY arrives");
      if (name !== "pingFlood") expect(sc.goaways).toEqual([code]);
    });
  }
});

describe("stream errors end only the stream", () => {
  test("a response header block of 100,000 one-byte fields is refused past SETTINGS_MAX_HEADER_LIST_SIZE, in linear time", async () => {
    let calls = 0;
    const s = await serve({ onRequest: (c, r) => (calls++ === 0 ? ATTACKS.manyFields(c, r) : answerOk(c, r)) });
    const c = connect(s);
    const w = watch();
    const started = performance.now();
    c.open(BLOCK, BODY, w.listener);
    const o = await w.outcome;
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(o).toMatchObject({ kind: "lost", reason: expect.stringContaining("header list"), info: { unprocessed: false, requestWritten: true } });
    // Nothing of the oversized block reached the listener.
    expect(w.fields).toEqual([]);
    await until(() => s.connections[0]!.resets.get(1) === ERROR.CANCEL, "the stream is reset");
    // The connection stays up (the HPACK state is intact): the next call works.
    const w2 = watch();
    c.open(BLOCK, BODY, w2.listener);
    expect((await w2.outcome).kind).toBe("end");
    expect(c.closed).toBe(false);
  });

  test("a header list just within the bound is delivered whole", async () => {
    // 2,000 fields of "x: yy" (1 + 2 + 32 = 35 bytes each, 70,000 > 65,536) would be too many; 1,800 fit.
    const fields: [string, string][] = [[":status", "200"]];
    for (let i = 0; i < 1_800; i++) fields.push(["x", "yy"]);
    const s = await serve({ onRequest: (c, r) => c.headers(r.id, fields, true) });
    const c = connect(s);
    const w = watch();
    c.open(BLOCK, BODY, w.listener);
    const o = await w.outcome;
    expect(o.kind).toBe("end");
    expect(w.fields.length).toBe(1_801);
    expect(1_801 * 35).toBeLessThan(MAX_HEADER_LIST_SIZE);
  });

  test("trailers without END_STREAM reset the stream; an informational (1xx) response before the real one is skipped", async () => {
    const s = await serve({
      onRequest: (c, r) => {
        if (r.id === 1) {
          c.headers(r.id, [[":status", "200"]]);
          c.headers(r.id, [["grpc-status", "0"]]);
          return;
        }
        c.headers(r.id, [[":status", "103"]]);
        answerOk(c, r);
      },
    });
    const c = connect(s);
    const bad = watch();
    c.open(BLOCK, BODY, bad.listener);
    expect(await bad.outcome).toMatchObject({ kind: "lost", reason: expect.stringContaining("trailers without END_STREAM") });
    const good = watch();
    c.open(BLOCK, BODY, good.listener);
    expect((await good.outcome).kind).toBe("end");
    expect(good.fields).toEqual([
      [":status", "200"],
      ["content-type", "application/grpc"],
      ["grpc-status", "0"],
    ]);
  });

  test("DATA beyond a held stream's receive window (4 MiB) resets the stream with FLOW_CONTROL_ERROR: at most the window is ever buffered", async () => {
    const s = await serve({
      onRequest: (c, r) => {
        c.headers(r.id, [[":status", "200"]]);
        // 5 MiB in 16 KiB DATA frames, ignoring flow control.
        const data = Buffer.concat([Buffer.from([0, 0x40, 0, FRAME.DATA, 0, 0, 0, 0, r.id]), Buffer.alloc(16_384)]);
        let sent = 0;
        c.pump(() => (sent++ < 5 * 64 ? data : undefined));
      },
    });
    const c = connect(s);
    const w = watch();
    let bytes = 0;
    const listener = { ...w.listener, onData: (chunk: Uint8Array) => void (bytes += chunk.length) };
    const st = c.open(BLOCK, BODY, listener);
    c.hold(st);
    expect(await w.outcome).toMatchObject({ kind: "lost", reason: expect.stringContaining("receive window") });
    expect(bytes).toBeLessThanOrEqual(4 * 1024 * 1024);
    await until(() => s.connections[0]!.resets.get(1) === ERROR.FLOW_CONTROL_ERROR, "the stream is reset");
  });

  test("WINDOW_UPDATE beyond 2^31-1 on a stream resets that stream with FLOW_CONTROL_ERROR", async () => {
    const s = await serve({
      onRequest: (c, r) => {
        c.frame(FRAME.WINDOW_UPDATE, 0, r.id, u32(0x7fffffff));
        c.frame(FRAME.WINDOW_UPDATE, 0, r.id, u32(0x7fffffff));
      },
    });
    const c = connect(s);
    const w = watch();
    c.open(BLOCK, BODY, w.listener);
    await until(() => s.connections[0]?.resets.get(1) === ERROR.FLOW_CONTROL_ERROR, "the stream is reset");
    expect(await w.outcome).toMatchObject({ kind: "lost", info: { unprocessed: false } });
    expect(c.closed).toBe(false);
  });
});

test("WINDOW_UPDATE and one RST_STREAM per stream after its response (as servers send them) are not a flood", async () => {
  const s = await serve({
    onRequest: (c, r) => {
      answerOk(c, r);
      c.frame(FRAME.WINDOW_UPDATE, 0, r.id, u32(40_000));
      c.frame(FRAME.RST_STREAM, 0, r.id, u32(ERROR.NO_ERROR));
    },
  });
  const c = connect(s);
  const ws = Array.from({ length: 3_000 }, () => watch());
  for (const w of ws) c.open(BLOCK, BODY, w.listener);
  const kinds = new Set((await Promise.all(ws.map((w) => w.outcome))).map((o) => o.kind));
  expect([...kinds]).toEqual(["end"]);
  expect(c.closed).toBe(false);
});

describe("streams wait for the server's SETTINGS and keep within its limits", () => {
  test("no stream goes out before the server's first SETTINGS; MAX_CONCURRENT_STREAMS 1 is honoured", async () => {
    let inflight = 0;
    let most = 0;
    const s = await serve({
      settings: null,
      // The server's SETTINGS go out a turn after the client's arrive: any HEADERS sent with the preface are counted.
      onClientSettings: (conn) => setImmediate(() => conn.settings([[SETTING.MAX_CONCURRENT_STREAMS, 1]])),
      onRequest: (conn, r) => {
        most = Math.max(most, ++inflight);
        setImmediate(() => {
          inflight--;
          answerOk(conn, r);
        });
      },
    });
    const c = connect(s);
    const ws = [watch(), watch(), watch()];
    for (const w of ws) c.open(BLOCK, BODY, w.listener);
    expect(c.queuedStreams).toBe(3);
    const outcomes = await Promise.all(ws.map((w) => w.outcome));
    expect(outcomes.map((o) => o.kind)).toEqual(["end", "end", "end"]);
    expect(s.connections[0]!.headersBeforeSettings).toBe(0);
    expect(most).toBe(1);
    expect(c.maxConcurrentStreams).toBe(1);
  });

  test("whenStreamsFull 'refuse': a stream beyond the server's limit is lost at once, unprocessed", async () => {
    const s = await serve({ settings: [[SETTING.MAX_CONCURRENT_STREAMS, 1]], onRequest: () => undefined });
    const c = connect(s, { whenStreamsFull: "refuse" });
    const first = watch();
    c.open(BLOCK, BODY, first.listener);
    await until(() => (s.connections[0]?.requests.length ?? 0) === 1, "the first request arrives");
    expect(c.hasCapacity).toBe(false);
    const second = watch();
    c.open(BLOCK, BODY, second.listener);
    expect(await second.outcome).toMatchObject({
      kind: "lost",
      reason: expect.stringContaining("limit of 1"),
      info: { unprocessed: true, requestWritten: false },
    });
  });

  test("a server that never sends SETTINGS: queued streams fail at the connect timeout, unprocessed and unwritten", async () => {
    const s = await serve({ settings: null });
    const c = connect(s, { connectTimeoutMs: 300 });
    const w = watch();
    c.open(BLOCK, BODY, w.listener);
    expect(await w.outcome).toMatchObject({ kind: "lost", reason: expect.stringContaining("SETTINGS"), info: { unprocessed: true, requestWritten: false } });
    expect(s.connections[0]!.requests).toEqual([]);
  });

  test("at most maxQueuedStreams wait; the rest are refused, unprocessed", async () => {
    const s = await serve({ settings: null });
    const c = connect(s, { maxQueuedStreams: 2 });
    const ws = [watch(), watch(), watch()];
    for (const w of ws) c.open(BLOCK, BODY, w.listener);
    expect(await ws[2]!.outcome).toMatchObject({ kind: "lost", info: { unprocessed: true, requestWritten: false } });
    expect(c.queuedStreams).toBe(2);
  });

  test("GOAWAY: streams above last-stream-id are lost unprocessed (though written), those below finish, none open after", async () => {
    const s = await serve({
      onRequest: (conn, r) => {
        if (r.id !== 3) return;
        conn.frame(FRAME.GOAWAY, 0, 0, Buffer.concat([u32(1), u32(0)]));
        answerOk(conn, conn.requests[0]!);
      },
    });
    const c = connect(s);
    const a = watch();
    const b = watch();
    c.open(BLOCK, BODY, a.listener);
    c.open(BLOCK, BODY, b.listener);
    expect(await b.outcome).toMatchObject({ kind: "lost", reason: expect.stringContaining("GOAWAY"), info: { unprocessed: true, requestWritten: true } });
    expect((await a.outcome).kind).toBe("end");
    expect(a.goaway).toEqual([0]);
    const late = watch();
    c.open(BLOCK, BODY, late.listener);
    expect(await late.outcome).toMatchObject({ kind: "lost", info: { unprocessed: true, requestWritten: false } });
    expect(s.connections[0]!.requests.map((r) => r.id)).toEqual([1, 3]);
  });

  test("REFUSED_STREAM reaches the listener as a reset with that code (the server did not process it)", async () => {
    const s = await serve({ onRequest: (conn, r) => conn.frame(FRAME.RST_STREAM, 0, r.id, u32(ERROR.REFUSED_STREAM)) });
    const c = connect(s);
    const w = watch();
    c.open(BLOCK, BODY, w.listener);
    expect(await w.outcome).toEqual({ kind: "reset", code: ERROR.REFUSED_STREAM });
  });

  test("requestWritten: false while a stream waits, true once its HEADERS went out", async () => {
    const s = await serve({ onRequest: () => undefined });
    const c = connect(s);
    const st = c.open(BLOCK, BODY, watch().listener);
    expect(c.requestWritten(st)).toBe(false);
    await until(() => (s.connections[0]?.requests.length ?? 0) === 1, "the request arrives");
    expect(c.requestWritten(st)).toBe(true);
  });
});

describe("LazyConnection", () => {
  test("reconnects with a growing, jittered backoff to a server that breaks every connection, and at once after a healthy one", async () => {
    let healthy = false;
    const s = await serve({ onRequest: (c, r) => (healthy ? answerOk(c, r) : ATTACKS.maxFrameSize0(c)) });
    const lazy = new LazyConnection({ host: "127.0.0.1", port: s.port, connectTimeoutMs: 2_000, reconnect: { initialDelayMs: 50, maxDelayMs: 400 } });
    try {
      // Calls one after another for about a second: without backoff this would be hundreds of connections.
      const stopAt = performance.now() + 1_000;
      let calls = 0;
      while (performance.now() < stopAt) {
        const w = watch();
        lazy.get()!.open(BLOCK, BODY, w.listener);
        expect((await w.outcome).kind).toBe("lost");
        calls++;
      }
      expect(calls).toBe(s.connections.length);
      // 50 + 100 + 200 + 400 + 400 … (each at least half that): at most 8 connections in a second.
      expect(s.connections.length).toBeLessThanOrEqual(8);
      expect(lazy.consecutiveFailures).toBe(s.connections.length);
      healthy = true;
      const w = watch();
      lazy.get()!.open(BLOCK, BODY, w.listener);
      expect((await w.outcome).kind).toBe("end");
      // That connection completed a call: healthy again, so a failure from now on starts the backoff over.
      expect(lazy.get()!.healthy).toBe(true);
    } finally {
      lazy.close();
    }
  });
});

describe("a server that does not read", () => {
  test("request bodies wait in the stream's queue (not the socket), and control replies queued past the bound end the connection", async () => {
    const s = await serve({
      // Windows wide open, then nothing read: a client that trusted the windows would hand all 64 MiB to the socket.
      settings: [[SETTING.INITIAL_WINDOW_SIZE, 0x7fffffff]],
      onConnection: (conn) => {
        conn.frame(FRAME.WINDOW_UPDATE, 0, 0, u32(0x7fffffff - 65_535));
        conn.socket.pause();
      },
    });
    const c = connect(s);
    const w = watch();
    const body = new Uint8Array(64 * 1024 * 1024);
    const st = c.open(BLOCK, body, w.listener, false);
    await until(() => c.ready, "the server's SETTINGS are read");
    // At most about SOCKET_HIGH_WATER (1 MiB) plus what the kernel takes went out.
    expect(st.queued).toBeGreaterThan(48 * 1024 * 1024);
    // PINGs below the flood rate (900 a second), whose ACKs cannot go out: past 1,000 queued the client gives up.
    const sc = s.connections[0]!;
    const ping = Buffer.concat(Array.from({ length: 900 }, () => Buffer.from([0, 0, 8, FRAME.PING, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])));
    for (let round = 0; round < 5 && !c.closed; round++) {
      sc.socket.write(ping);
      // The flood rate is counted per second: the next round waits for the next second (a bounded wait by design).
      const next = performance.now() + 1_050;
      await until(() => c.closed || performance.now() >= next, "the next second");
    }
    expect(await w.outcome).toMatchObject({ kind: "lost", reason: expect.stringContaining("control replies wait while the server does not read") });
    expect(st.queued).toBeGreaterThan(48 * 1024 * 1024);
  }, 15_000);

  test("a body larger than the socket water mark goes out whole to a server with wide windows that sends no WINDOW_UPDATE", async () => {
    const s = await serve({
      settings: [[SETTING.INITIAL_WINDOW_SIZE, 0x7fffffff]],
      windowUpdates: false,
      onConnection: (conn) => conn.frame(FRAME.WINDOW_UPDATE, 0, 0, u32(0x7fffffff - 65_535)),
    });
    const c = connect(s);
    const w = watch();
    c.open(BLOCK, new Uint8Array(16 * 1024 * 1024), w.listener);
    expect((await w.outcome).kind).toBe("end");
  });
});
