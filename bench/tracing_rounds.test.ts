import { describe, expect, test } from "bun:test";
import { checkTailTargets, type RowResult } from "./results";
import { row } from "./row_fixture";
import type { RowSession, RowSpec } from "./rows";
import { measureTracingRounds, pairedCost, pairedCpu, spread, tracingRoundsMarkdown, type TracingRoundsResult } from "./tracing_rounds";

const round = (off: number, ratio: number, always: number, cpu?: { off: number; ratio: number }): TracingRoundsResult["rounds"][number] => ({
  order: ["off", "ratio", "always"],
  throughput: { off, ratio, always },
  cpuUsPerCall: cpu ? { off: { proxy: cpu.off, pattern: cpu.off }, ratio: { proxy: cpu.ratio, pattern: cpu.ratio } } : {},
});

describe("tracing in paired rounds", () => {
  test("the cost is taken per round, then its median and spread", () => {
    // Round 2 ran while the machine slowed down: both sides of the pair fell, the cost did not move.
    const r: TracingRoundsResult = { durationS: 3, rounds: [round(10_000, 9_600, 7_000), round(5_000, 4_850, 3_500), round(10_000, 9_000, 7_200)] };
    const cost = pairedCost(r, "ratio")!;
    expect(cost.median).toBeCloseTo(0.04, 5);
    expect([cost.min, cost.max].map((x) => Number(x.toFixed(3)))).toEqual([0.03, 0.1]);
    expect(pairedCost(r, "always")!.median).toBeCloseTo(0.3, 5);
    expect(pairedCpu(r, "ratio", "proxy")).toBeUndefined();
    expect(spread([])).toBeUndefined();
    expect(spread([1, 3])!.median).toBe(2);
    expect(tracingRoundsMarkdown(r)).toContain("| parentbased_traceidratio 0.01 | 3 | 4.0 % | 3.0 % – 10.0 % | 4.0 %, 3.0 %, 10.0 % | – | – |");
  });

  test("the tracing targets read the paired median, the single pair of the table beside it", () => {
    const proxied = (id: string, throughput: number) => row(id, { via: "proxy", throughput });
    const rows = [proxied("memstore-proxy", 10_000), proxied("memstore-proxy-traced-ratio", 7_000), proxied("memstore-proxy-traced", 6_000)];
    const tracingRounds: TracingRoundsResult = {
      durationS: 3,
      rounds: [
        round(10_000, 9_700, 8_000, { off: 40, ratio: 41 }),
        round(9_000, 8_800, 7_000, { off: 42, ratio: 43 }),
        round(9_500, 9_100, 7_700, { off: 41, ratio: 44 }),
      ],
    };
    const t = checkTailTargets(rows, { tracingRounds }).find((x) => x.target.startsWith("tracing on, parentbased_traceidratio"))!;
    expect(t.measured).toBe(
      "3.0 %, median of 3 paired rounds (2.2 % – 4.2 %); CPU per call traced / off proxy ×1.02, pattern ×1.02; the single pair in the table above: 30.0 %",
    );
    expect(t.met).toBe(true);
    const always = checkTailTargets(rows, { tracingRounds }).find((x) => x.target.startsWith("tracing on, always on"))!;
    expect(always.met).toBe(true);
    expect(always.measured.startsWith("20.0 %, median of 3 paired rounds (18.9 % – 22.2 %)")).toBe(true);
  });

  test("each set-up is started once and warmed; rounds alternate the order; a failed run is left out; all are stopped", async () => {
    const spec = (id: string) => ({ id }) as RowSpec;
    const settings = { durationS: 1, warmupS: 0, concurrency: 1, moderateRps: 1, valueSize: 1, keys: 1 };
    const seen: string[] = [];
    const start = async (s: RowSpec): Promise<RowSession> => {
      seen.push(`start ${s.id}`);
      return {
        measure: async (m) => {
          seen.push(`${m.durationS} s ${s.id}`);
          const failed = s.id === "memstore-proxy-traced" && seen.length > 9;
          return {
            id: s.id,
            status: failed ? "failed" : "ok",
            reason: failed ? "boom" : undefined,
            throughput: 100,
            processCpuUsPerCall: { proxy: 1 },
          } as unknown as RowResult;
        },
        stop: async () => {
          seen.push(`stop ${s.id}`);
        },
      };
    };
    const result = await measureTracingRounds(
      [spec("memstore-proxy"), spec("memstore-proxy-traced-ratio"), spec("memstore-proxy-traced")],
      settings,
      2,
      20,
      start,
      () => undefined,
    );
    expect(seen).toEqual([
      "start memstore-proxy",
      "20 s memstore-proxy",
      "start memstore-proxy-traced-ratio",
      "20 s memstore-proxy-traced-ratio",
      "start memstore-proxy-traced",
      "20 s memstore-proxy-traced",
      "1 s memstore-proxy",
      "1 s memstore-proxy-traced-ratio",
      "1 s memstore-proxy-traced",
      "1 s memstore-proxy-traced",
      "1 s memstore-proxy-traced-ratio",
      "1 s memstore-proxy",
      "stop memstore-proxy",
      "stop memstore-proxy-traced-ratio",
      "stop memstore-proxy-traced",
    ]);
    expect(result.rounds[0]!.throughput).toEqual({ off: 100, ratio: 100, always: 100 });
    expect(result.rounds[1]!.throughput).toEqual({ ratio: 100, off: 100 });
    expect(result.warmS).toBe(20);
    expect((await measureTracingRounds([], settings, 1, 0, start, () => undefined)).reason).toBe("no row memstore-proxy");
  });

  test("a set-up that fails to start stops the ones already started", async () => {
    const stopped: string[] = [];
    const start = async (s: RowSpec): Promise<RowSession> => {
      if (s.id === "memstore-proxy-traced-ratio") throw new Error("no port");
      return { measure: async () => ({ status: "ok", throughput: 1 }) as RowResult, stop: async () => void stopped.push(s.id) };
    };
    const specs = ["memstore-proxy", "memstore-proxy-traced-ratio"].map((id) => ({ id }) as RowSpec);
    const settings = { durationS: 1, warmupS: 0, concurrency: 1, moderateRps: 1, valueSize: 1, keys: 1 };
    await expect(measureTracingRounds(specs, settings, 1, 0, start, () => undefined)).rejects.toThrow("no port");
    expect(stopped).toEqual(["memstore-proxy"]);
  });
});
