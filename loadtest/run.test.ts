import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { KeyValueBasicInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { PubSubBasicInterface, type Message } from "../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { MessageSchema } from "../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { addService } from "../sdk/grpc/server";
import { bindServer, serverOptions } from "../sdk/grpc/server_factory";
import type { LoadOptions } from "./flags";
import { parseFlags } from "./flags";
import { startProgress } from "./progress";
import { formatReport } from "./report";
import { runLoad } from "./run";
import { Stats } from "./stats";
import { connect, kvWorkload } from "./workload";
import { waitFor } from "../tests/helpers/wait";

// An in-process server that records what it receives: key-value from a Map, pub/sub fan-out.
const server = new grpc.Server(serverOptions);
const store = new Map<string, Uint8Array>();
const setKeys: string[] = [];
const namespaces = new Set<string>();
type Sink = (m: MessageInitShape<typeof MessageSchema>) => void;
const subscribers = new Set<Sink>();
let address = "";

beforeAll(async () => {
  addService(server, KeyValueBasicInterface, {
    set(req, ctx) {
      namespaces.add(ctx.namespace);
      setKeys.push(req.key);
      store.set(req.key, req.value);
      return { success: true };
    },
    get(req) {
      const value = store.get(req.key);
      return value ? { found: true, value } : { found: false };
    },
    delete: () => ({ success: true }),
    exists: () => ({ exists: false }),
  });
  addService(server, PubSubBasicInterface, {
    publish(req) {
      for (const s of subscribers) s({ topic: req.topic, payload: req.payload });
      return { success: true, messageId: "1" };
    },
    async *subscribe(_req, ctx) {
      const queue: MessageInitShape<typeof MessageSchema>[] = [];
      let wake: (() => void) | undefined;
      const sink: Sink = (m) => {
        queue.push(m);
        wake?.();
      };
      subscribers.add(sink);
      try {
        while (!ctx.signal.aborted) {
          const m = queue.shift();
          if (m) yield m as Message;
          else await new Promise<void>((r) => ((wake = r), ctx.signal.addEventListener("abort", () => r(), { once: true })));
        }
      } finally {
        subscribers.delete(sink);
      }
    },
    unsubscribe: () => ({ success: true }),
  });
  address = `127.0.0.1:${await bindServer(server, "127.0.0.1", 0)}`;
});

afterAll(() => server.forceShutdown());

function options(extra: string[]): LoadOptions {
  return parseFlags(["--direct", address, "--warmup", "0s", "--concurrency", "4", ...extra])!;
}

describe("workload", () => {
  test("reusing one request message is safe: every call carries its own key", async () => {
    setKeys.length = 0;
    const conn = connect(options([]));
    try {
      const w = kvWorkload(conn, { operation: "set", keys: 200, valueSize: 10, concurrency: 1 });
      // All 200 calls start before any reply: the shared message is rewritten 199 times while calls are in flight.
      await Promise.all(Array.from({ length: 200 }, (_, i) => w.issue(i, 0)));
    } finally {
      conn.close();
    }
    expect(new Set(setKeys).size).toBe(200);
    expect(setKeys.toSorted()).toEqual(Array.from({ length: 200 }, (_, i) => `prism-load:${i}`).toSorted());
  });
});

describe("runLoad", () => {
  test("get pre-loads the key space, then measures", async () => {
    store.clear();
    const r = await runLoad(options(["--operation", "get", "--keys", "50", "--requests", "300"]));
    expect(store.size).toBe(50);
    expect(r).toMatchObject({ operation: "get", via: "direct", mode: "closed-loop", ok: 300, errors: {}, unsent: 0 });
    expect(r.latencyMs.count).toBe(300);
    expect(r.latencyMs.p50).toBeGreaterThan(0);
    expect(r.throughput).toBeGreaterThan(0);
    expect(formatReport(r)).toContain("300 ok, 0 errors");
  });

  test("--namespace is sent as x-prism-namespace", async () => {
    namespaces.clear();
    await runLoad(options(["--operation", "set", "--namespace", "tenant-a", "--requests", "20"]));
    expect([...namespaces]).toEqual(["tenant-a"]);
  });

  test("open loop with --rps reports latency, service time and send lag", async () => {
    const r = await runLoad(options(["--operation", "mixed", "--rps", "500", "--duration", "400ms"]));
    expect(r.mode).toBe("open-loop");
    expect(r.targetRps).toBe(500);
    expect(r.ok).toBeGreaterThan(100);
    expect(r.sendLagMs).not.toBeNull();
    expect(r.latencyMs.p50).toBeGreaterThanOrEqual(r.serviceTimeMs.p50 * 0.5);
  });

  test("subscribe measures publish → receive for every message of the run", async () => {
    const r = await runLoad(options(["--operation", "subscribe", "--requests", "200", "--value-size", "64"]));
    expect(r.published).toBe(200);
    expect(r.ok).toBe(200);
    expect(r.lost).toBe(0);
    expect(r.latencyMs.count).toBe(200);
    expect(formatReport(r)).toContain("published 200, received 200, lost 0");
    // The subscription is cancelled at the end (the server learns it asynchronously).
    for (let i = 0; i < 100 && subscribers.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(subscribers.size).toBe(0);
  });

  test("an unreachable target fails fast with UNAVAILABLE", async () => {
    const started = performance.now();
    const abort = new AbortController();
    const closed = new grpc.Server();
    const port = await bindServer(closed, "127.0.0.1", 0);
    closed.forceShutdown();
    const run = runLoad(parseFlags(["--direct", `127.0.0.1:${port}`, "--requests", "1", "--warmup", "0s"])!, { signal: abort.signal });
    await expect(run).rejects.toThrow(/cannot connect/);
    expect(performance.now() - started).toBeLessThan(5_000);
  }, 15_000);
});

describe("progress line", () => {
  test("writes ops/s, p99 and errors in place when enabled; nothing when not", async () => {
    const out: string[] = [];
    const s = new Stats();
    s.success(0.5, 0.5);
    const stop = startProgress("get", () => s, true, { write: (x: string) => out.push(x) }, 20);
    await waitFor(() => out.some((l) => /ops\/s {2}p99 0\.500 ms {2}errors 0/.test(l)), "a progress line", { timeoutMs: 2_000, intervalMs: 10 });
    stop();
    expect(out.at(-1)).toBe("\r\x1b[K");
    const none: string[] = [];
    startProgress("get", () => s, false, { write: (x: string) => none.push(x) }, 20)();
    expect(none).toEqual([]);
  });
});
