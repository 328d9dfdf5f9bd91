import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../sdk/grpc/errors";
import { Stats, summarise, toMicros } from "./stats";

describe("Stats", () => {
  test("percentiles come from the HDR histogram, in ms", () => {
    const s = new Stats();
    for (let i = 1; i <= 1000; i++) s.success(i / 100, i / 100); // 0.01 .. 10 ms
    const l = summarise(s.latency);
    expect(l.count).toBe(1000);
    expect(l.p50).toBeCloseTo(5, 1);
    expect(l.p90).toBeCloseTo(9, 1);
    expect(l.p99).toBeCloseTo(9.9, 1);
    expect(l.max).toBeCloseTo(10, 1);
    expect(l.percentiles.at(-1)).toEqual([100, l.max]);
    expect(s.ok).toBe(1000);
  });

  test("errors are counted by gRPC code name, with a sample message", () => {
    const s = new Stats();
    s.failure(new PrismError(Code.UNAVAILABLE, "backend down"));
    s.failure(new PrismError(Code.UNAVAILABLE, "again"));
    s.failure(Object.assign(new Error("no"), { code: Code.NOT_FOUND, details: "namespace x", metadata: {} }));
    s.failure(new Error("plain"));
    expect(Object.fromEntries(s.errors)).toEqual({ UNAVAILABLE: 2, NOT_FOUND: 1, INTERNAL: 1 });
    expect(s.errorSamples.get("UNAVAILABLE")).toBe("backend down");
    expect(s.errorCount).toBe(4);
  });

  test("sub-microsecond latencies still count", () => {
    expect(toMicros(0.0001)).toBe(1);
    expect(toMicros(1.2345)).toBe(1235);
    const empty = summarise(new Stats().latency);
    expect(empty).toMatchObject({ count: 0, p99: 0, max: 0 });
  });
});
