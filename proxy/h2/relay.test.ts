import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import http2 from "node:http2";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { addService } from "../../sdk/grpc/server";
import { bindServer, serverOptions } from "../../sdk/grpc/server_factory";
import { H2Listener } from "./listener";
import { relay } from "./relay";
import { Upstream } from "./upstream";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A gRPC server standing in for a pattern; "slow" waits until cancelled, "bad" fails. */
async function startBackend(port = 0) {
  const server = new grpc.Server(serverOptions);
  const cancelled: string[] = [];
  addService(server, KeyValueBasicInterface, {
    async get(req, ctx) {
      if (req.key === "slow") {
        await new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
        cancelled.push(req.key);
        throw new PrismError(Code.CANCELLED, "cancelled");
      }
      if (req.key === "bad") throw new PrismError(Code.INVALID_ARGUMENT, "bad key");
      const md = ctx.metadata.get("x-hello")[0];
      return { found: true, value: enc.encode(`${req.key}:${md ?? ""}`) };
    },
    set: () => ({ success: true }),
    delete: () => ({ success: true }),
    exists: () => ({ exists: true }),
  });
  addService(server, KeyValueScanInterface, {
    async *scan(req) {
      for (let i = 0; i < 5; i++) yield { key: `${req.prefix}${i}`, value: enc.encode(String(i)) };
    },
    async *scanKeys(_req, ctx) {
      yield { key: "first" };
      await new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
      cancelled.push("scanKeys");
    },
    count: () => ({ count: 5n }),
  });
  const bound = await bindServer(server, "127.0.0.1", port);
  return { server, address: `127.0.0.1:${bound}`, cancelled };
}

async function failure(call: () => Promise<unknown>): Promise<PrismError> {
  try {
    await call();
  } catch (err) {
    return PrismError.from(err);
  }
  throw new Error("the call succeeded");
}

describe("HTTP/2 relay", () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let listener: H2Listener;
  let target: Upstream;
  const settled: number[] = [];
  let kv: ReturnType<typeof createClient<typeof KeyValueBasicInterface>>;
  let scan: ReturnType<typeof createClient<typeof KeyValueScanInterface>>["client"];

  beforeAll(async () => {
    backend = await startBackend();
    target = new Upstream(backend.address);
    listener = new H2Listener((stream, headers) => relay(stream, headers, target, "test backend", (code) => settled.push(code)));
    const port = await listener.listen({ host: "127.0.0.1", port: 0 });
    kv = createClient(KeyValueBasicInterface, `127.0.0.1:${port}`);
    scan = createClient(KeyValueScanInterface, kv.raw).client;
  });
  afterAll(() => {
    kv?.close();
    listener?.destroy();
    target?.close();
    backend?.server.forceShutdown();
  });

  test("unary calls and request metadata pass through; the status is reported once", async () => {
    settled.length = 0;
    const r = await kv.client.get({ key: "k" }, { metadata: { "x-hello": "world" } });
    expect(dec.decode(r.value)).toBe("k:world");
    expect(settled).toEqual([Code.OK]);
  });

  test("a trailers-only error keeps its code and message", async () => {
    settled.length = 0;
    const e = await failure(() => kv.client.get({ key: "bad" }));
    expect([e.code, e.message]).toEqual([Code.INVALID_ARGUMENT, "bad key"]);
    expect(settled).toEqual([Code.INVALID_ARGUMENT]);
  });

  test("server streams pass through in order", async () => {
    const rows = await Array.fromAsync(scan.scan({ prefix: "p" }));
    expect(rows.map((r) => r.key)).toEqual(["p0", "p1", "p2", "p3", "p4"]);
  });

  test("client cancellation and deadlines reach the backend", async () => {
    const e = await failure(() => kv.client.get({ key: "slow" }, { timeoutMs: 200 }));
    expect(e.code).toBe(Code.DEADLINE_EXCEEDED);
    const ac = new AbortController();
    const it = scan.scanKeys({ prefix: "" }, { signal: ac.signal })[Symbol.asyncIterator]();
    expect((await it.next()).value?.key).toBe("first");
    ac.abort();
    await it.return?.();
    const deadline = Date.now() + 3_000;
    while (backend.cancelled.length < 2 && Date.now() < deadline) await Bun.sleep(10);
    expect(backend.cancelled.sort()).toEqual(["scanKeys", "slow"]);
  });

  test("the backend going away mid-call ends it UNKNOWN (it was sent: contract §5), and a dead backend answers UNAVAILABLE at once", async () => {
    const it = scan.scanKeys({ prefix: "" })[Symbol.asyncIterator]();
    expect((await it.next()).value?.key).toBe("first");
    backend.server.forceShutdown();
    const e = await failure(() => it.next());
    expect(e.code).toBe(Code.UNKNOWN);
    expect(e.message).toContain("outcome is unknown");
    const start = performance.now();
    const e2 = await failure(() => kv.client.get({ key: "k" }));
    expect(e2.code).toBe(Code.UNAVAILABLE);
    expect(e2.message).toContain("test backend is not reachable");
    expect(performance.now() - start).toBeLessThan(2_000);
  });

  test("the same upstream reconnects when the backend is back on its address", async () => {
    const port = Number(backend.address.split(":")[1]);
    const again = await startBackend(port);
    backend = again;
    // After failed dials the upstream waits a bounded while (at most 1 s) before dialling again.
    const deadline = Date.now() + 3_000;
    let r = await kv.client.get({ key: "back" }, { metadata: { "x-hello": "again" } }).catch((err) => PrismError.from(err));
    while (r instanceof PrismError && r.code === Code.UNAVAILABLE && Date.now() < deadline) {
      await Bun.sleep(50);
      r = await kv.client.get({ key: "back" }, { metadata: { "x-hello": "again" } }).catch((err) => PrismError.from(err));
    }
    if (r instanceof PrismError) throw r;
    expect(dec.decode(r.value)).toBe("back:again");
  });

  test("a backend resetting one stream (session alive) ends the call at once with an error naming it", async () => {
    const raw = http2.createServer();
    raw.on("stream", (st: http2.ServerHttp2Stream) => {
      st.respond({ ":status": 200, "content-type": "application/grpc" });
      // Half a gRPC message (a 5-byte prefix announcing 10 bytes), then the reset.
      st.write(Buffer.from([0, 0, 0, 0, 10]));
      setTimeout(() => st.close(http2.constants.NGHTTP2_CANCEL), 20);
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", () => r()));
    const rawTarget = new Upstream(`127.0.0.1:${(raw.address() as { port: number }).port}`);
    const front = new H2Listener((stream, headers) => relay(stream, headers, rawTarget, "raw backend", () => undefined));
    const port = await front.listen({ host: "127.0.0.1", port: 0 });
    const c = createClient(KeyValueBasicInterface, `127.0.0.1:${port}`);
    try {
      const e = await failure(() => c.client.get({ key: "k" }, { timeoutMs: 5_000 }));
      // CANCELLED when Bun reports the reset code (8); it does not always, and then the call ended without a status.
      expect<number[]>([Code.CANCELLED, Code.INTERNAL]).toContain(e.code);
      expect(e.message).toMatch(/^raw backend (reset the call|ended the call without a status)/);
    } finally {
      c.close();
      front.destroy();
      rawTarget.close();
      raw.close();
    }
  });
});
