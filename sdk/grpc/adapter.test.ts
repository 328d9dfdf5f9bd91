import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { createClient } from "./client";
import { Code, PrismError } from "./errors";
import type { Interceptor } from "./interceptor";
import { addService } from "./server";
import { bindServer, serverOptions } from "./server_factory";

// One server exercising the generic adapter: unary, server streaming, errors, metadata, cancellation.
const server = new grpc.Server(serverOptions);
const store = new Map<string, Uint8Array>();
const seen: string[] = [];
let streamCancelled = false;
let address = "";

const recordPath: Interceptor = (next) => (call) => {
  seen.push(`${call.ctx.namespace} ${call.ctx.path}`);
  return next(call);
};

beforeAll(async () => {
  addService(
    server,
    KeyValueBasicInterface,
    {
      set(req) {
        if (req.key === "boom") throw new Error("handler crashed");
        store.set(req.key, req.value);
        return { success: true };
      },
      async get(req) {
        const value = store.get(req.key);
        return value ? { found: true, value } : { found: false };
      },
      delete(req) {
        throw new PrismError(Code.UNIMPLEMENTED, `delete of ${req.key} is not supported`);
      },
      async exists(_req, ctx) {
        await new Promise((r) => setTimeout(r, 200));
        return { exists: ctx.signal.aborted };
      },
    },
    [recordPath],
  );
  addService(server, KeyValueScanInterface, {
    async *scan(req, ctx) {
      for (let i = 0; i < req.limit; i++) {
        if (ctx.signal.aborted) {
          streamCancelled = true;
          return;
        }
        yield { key: `${req.prefix}${i}` };
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    // biome-ignore lint/correctness/useYield: a stream that fails before its first item
    async *scanKeys() {
      throw new PrismError(Code.INVALID_ARGUMENT, "bad prefix");
    },
    count: () => ({ count: 42n }),
  });
  const port = await bindServer(server, "127.0.0.1", 0);
  address = `127.0.0.1:${port}`;
});

afterAll(() => server.forceShutdown());

describe("generic grpc-js adapter", () => {
  test("unary round trip with binary data and plain-object replies", async () => {
    const { client, close } = createClient(KeyValueBasicInterface, address);
    const bytes = new Uint8Array(256).map((_, i) => i);
    expect((await client.set({ key: "k", value: bytes })).success).toBe(true);
    const got = await client.get({ key: "k" });
    expect(got.found).toBe(true);
    expect([...got.value]).toEqual([...bytes]);
    expect((await client.get({ key: "missing" })).found).toBe(false);
    close();
  });

  test("thrown PrismError keeps its code; other errors become INTERNAL", async () => {
    const { client, close } = createClient(KeyValueBasicInterface, address);
    const e1 = await client.delete({ key: "x" }).catch((e) => e);
    expect(e1).toBeInstanceOf(PrismError);
    expect(e1.code).toBe(Code.UNIMPLEMENTED);
    expect(e1.message).toContain("delete of x");
    const e2 = await client.set({ key: "boom" }).catch((e) => e);
    expect(e2.code).toBe(Code.INTERNAL);
    expect(e2.message).toContain("handler crashed");
    close();
  });

  test("interceptors see the namespace from x-prism-namespace, default otherwise", async () => {
    const { client, close } = createClient(KeyValueBasicInterface, address);
    seen.length = 0;
    await client.get({ key: "a" });
    await client.get({ key: "a" }, { metadata: { "x-prism-namespace": "orders" } });
    expect(seen).toEqual(["default /prism.interfaces.keyvalue.KeyValueBasicInterface/Get", "orders /prism.interfaces.keyvalue.KeyValueBasicInterface/Get"]);
    close();
  });

  test("deadline exceeded is DEADLINE_EXCEEDED", async () => {
    const { client, close } = createClient(KeyValueBasicInterface, address);
    const err = await client.exists({ key: "slow" }, { timeoutMs: 50 }).catch((e) => e);
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
    close();
  });

  test("a call whose signal is already aborted is CANCELLED and never reaches the server", async () => {
    const { client, close } = createClient(KeyValueBasicInterface, address);
    const ac = new AbortController();
    ac.abort();
    const err = await client.set({ key: "never-written", value: new Uint8Array([1]) }, { signal: ac.signal }).catch((e) => e);
    expect(err.code).toBe(Code.CANCELLED);
    expect(store.has("never-written")).toBe(false);
    close();
  });

  test("server streaming delivers every message in order", async () => {
    const { client, close } = createClient(KeyValueScanInterface, address);
    const keys: string[] = [];
    for await (const r of client.scan({ prefix: "p", limit: 5 })) keys.push(r.key);
    expect(keys).toEqual(["p0", "p1", "p2", "p3", "p4"]);
    expect((await client.count({})).count).toBe(42n);
    close();
  });

  test("breaking out of a stream cancels it on the server", async () => {
    const { client, close } = createClient(KeyValueScanInterface, address);
    streamCancelled = false;
    let n = 0;
    for await (const _ of client.scan({ prefix: "c", limit: 10_000 })) if (++n === 3) break;
    const until = Date.now() + 2000;
    while (!streamCancelled && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(streamCancelled).toBe(true);
    close();
  });

  test("errors thrown inside a stream reach the client with their code", async () => {
    const { client, close } = createClient(KeyValueScanInterface, address);
    const err = await (async () => {
      for await (const _ of client.scanKeys({})) {
        /* nothing arrives */
      }
    })().catch((e) => e);
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toContain("bad prefix");
    close();
  });
});
