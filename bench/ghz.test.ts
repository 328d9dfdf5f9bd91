import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { canonicalCode, ghzArgs, runGhz, summariseGhz } from "./ghz";
import { prismLoad } from "./load";
import { startEcho } from "./processes";

// A real ghz v0.121.0 report (-O json, histogram dropped) of Get against dist/memstore at 200/s with an 15 ms
// deadline on a loaded machine: 11 calls OK, 42 DeadlineExceeded, after --skipFirst 5.
const REPORT = JSON.parse(readFileSync(`${import.meta.dir}/testdata/ghz_memstore_get.json`, "utf8"));

describe("ghz as the bench's second client", () => {
  test("its per-call details: latency of the OK calls, errors by canonical code, the measured window", () => {
    const r = summariseGhz(REPORT);
    expect(r.ok).toBe(11);
    expect(r.errors).toEqual({ DEADLINE_EXCEEDED: 42 });
    // Nearest rank over the 11 OK latencies (ns in the report).
    expect(r.latencyMs.p50).toBeCloseTo(2.718226, 6);
    expect(r.latencyMs.p99).toBeCloseTo(17.256386, 6);
    expect(r.latencyMs.max).toBeCloseTo(17.256386, 6);
    expect(r.latencyMs.p50).toBeLessThan(r.latencyMs.p90);
    // From the first measured send (…15.607494257) to the last reply, nanoseconds kept.
    expect(r.startedAt).toBe("2026-12-06T13:33:15.607Z");
    expect(r.durationS).toBeGreaterThan(0.2);
    expect(r.durationS).toBeLessThan(0.3);
    expect(r.throughput).toBeCloseTo(11 / r.durationS, 6);
  });

  test("no measured call is an error, not a row of zeros", () => {
    expect(() => summariseGhz({ details: [] })).toThrow(/no measured calls/);
  });

  test("Go's code names as gRPC's", () => {
    expect(canonicalCode("Unavailable")).toBe("UNAVAILABLE");
    expect(canonicalCode("DeadlineExceeded")).toBe("DEADLINE_EXCEEDED");
    expect(canonicalCode("Canceled")).toBe("CANCELLED");
  });

  test("the warm-up's calls are left out, the rest of the load is the row's", () => {
    const args = ghzArgs({ target: "127.0.0.1:1", rps: 1000, concurrency: 64, durationS: 5, warmupS: 1, keys: 1000 }, "/tmp/x.json");
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag("--skipFirst")).toBe("1000");
    expect(flag("--duration")).toBe("6s");
    expect(flag("--rps")).toBe("1000");
    expect(flag("--connections")).toBe("1");
    expect(flag("--data")).toBe('{"key":"prism-load:{{mod .RequestNumber 1000}}"}');
    expect(args.at(-1)).toBe("127.0.0.1:1");
  });

  test("without a rate, a closed loop: no rate limiter, nothing skipped by count; the warm-up is left out by send time", () => {
    const args = ghzArgs({ target: "127.0.0.1:1", concurrency: 64, durationS: 5, warmupS: 1, keys: 1000 }, "/tmp/x.json");
    expect(args).not.toContain("--rps");
    expect(args).not.toContain("--skipFirst");
    expect(args[args.indexOf("--duration") + 1]).toBe("6s");
    expect(args[args.indexOf("--concurrency") + 1]).toBe("64");
    // The report's 53 calls were sent from 15.607494257 on; 31 of them (11 OK, 20 DeadlineExceeded) 0.1 s or more later.
    const late = summariseGhz(REPORT, 0.1);
    expect(late.ok).toBe(11);
    expect(late.errors).toEqual({ DEADLINE_EXCEEDED: 20 });
    expect(Date.parse(late.startedAt)).toBeGreaterThanOrEqual(Date.parse("2026-12-06T13:33:15.707Z"));
  });

  test("publish: PubSubBasicInterface.Publish of prism-load's payload, base64 as ghz's JSON takes bytes", () => {
    const args = ghzArgs(
      { target: "127.0.0.1:1", rps: 1000, concurrency: 64, durationS: 5, warmupS: 1, keys: 1000, operation: "publish", topic: "t", valueSize: 30 },
      "/tmp/x.json",
    );
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag("--call")).toBe("prism.interfaces.pubsub.PubSubBasicInterface.Publish");
    expect(flag("--proto")).toEndWith("proto/prism/interfaces/pubsub/pubsub_basic.proto");
    const data = JSON.parse(flag("--data")!) as { topic: string; payload: string };
    expect(data.topic).toBe("t");
    expect(Buffer.from(data.payload, "base64").toString()).toBe("abcdefghijklmnopqrstuvwxyzabcd");
  });

  test("against a served Get: keys pre-loaded by prism-load, every measured call OK", async () => {
    const echo = await startEcho();
    try {
      await prismLoad(["--direct", echo.address, "--operation", "get", "--requests", "1", "--warmup", "0s", "--keys", "50"]);
      const r = await runGhz({ target: echo.address, rps: 200, concurrency: 4, durationS: 0.5, warmupS: 0.1, keys: 50 });
      expect(r.errors).toEqual({});
      // 0.5 s at 200/s after 20 left out: ~100 calls (the rate limiter's first burst adds a few; never more than
      // the 120 of the whole 0.6 s); a loaded machine may send fewer, never none.
      expect(r.ok).toBeGreaterThan(10);
      expect(r.ok).toBeLessThanOrEqual(120);
      expect(r.latencyMs.p99).toBeGreaterThan(0);
      expect(r.command).toStartWith("ghz --insecure --proto proto/prism/interfaces/keyvalue/keyvalue_basic.proto");
    } finally {
      await echo.stop();
    }
  }, 30_000);
});
