import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { anyPausedShare, GcLineParser, pauseOnlyWait, GcLogReader, parseGcLog, summarizeGc, type GcEvent } from "./gc_log";
import { gcPausesMarkdown } from "./gc_pauses";

// The first 38 lines of dist/prism-load's stderr under BUN_JSC_logGC=1 (open loop at 1000/s against dist/memstore,
// Bun 1.4.4): its main thread's heap, then its pacer Worker's (0x48da6280118), whose full collection is cut by a
// second Worker's "starting" line and finishes on a line of its own ("=> 130kb, p=3.123305ms …").
const LOG = readFileSync(`${import.meta.dir}/testdata/jsc_loggc_prism_load.txt`, "utf8");
const MAIN = "0x48d9d46c118";
const WORKER = "0x48da6280118";
const MAIN_PAUSES = [
  1.20579, 0.366353, 0.247797, 2.894475, 4.015338, 0.316019, 3.985093, 5.43885, 0.741711, 0.315748, 2.383416, 1.791388, 0.951933, 1.224257, 1.096257,
];

const of = (events: GcEvent[], heap: string, kind: GcEvent["kind"]) => events.filter((e) => e.heap === heap && e.kind === kind);

describe("JavaScriptCore GC log (BUN_JSC_logGC=1)", () => {
  test("a collection on one line: its start, scope and pause", () => {
    const line = LOG.split("\n")[22]!;
    expect(new GcLineParser().parse(line)).toEqual([
      { heap: MAIN, kind: "collection", scope: "eden" },
      { heap: MAIN, kind: "pause", ms: 1.791388 },
    ]);
    expect(new GcLineParser().parse("Requesting GC because bytes allocated this cycle: 8389034 exceed bytes allowed: 8388608")).toEqual([]);
    expect(new GcLineParser().parse("GC END!")).toEqual([]);
  });

  test("a real excerpt: collections by scope, every stop-the-world pause, per heap, Workers apart", () => {
    const events = parseGcLog(LOG);
    expect([...new Set(events.map((e) => e.heap))]).toEqual([MAIN, WORKER, "0x48da74a0118"]);
    const main = of(events, MAIN, "collection");
    expect(main.filter((e) => e.kind === "collection" && e.scope === "eden")).toHaveLength(5);
    expect(main.filter((e) => e.kind === "collection" && e.scope === "full")).toHaveLength(1);
    expect(of(events, MAIN, "pause").map((e) => (e.kind === "pause" ? e.ms : 0))).toEqual(MAIN_PAUSES);
    expect(of(events, MAIN, "epilogue")).toHaveLength(6);
    // The Worker's pause came on the line after its START, with no prefix: still the Worker's, not the main thread's.
    expect(of(events, WORKER, "collection")).toEqual([{ heap: WORKER, kind: "collection", scope: "full", at: 0 }]);
    expect(of(events, WORKER, "pause")).toEqual([{ heap: WORKER, kind: "pause", ms: 3.123305, at: 0 }]);
  });

  test("summary over a window: rates per second, pause percentiles, time paused; Workers in one line, only when they collected", () => {
    const events = parseGcLog(LOG, (i) => i * 100); // line i arrives at i × 100 ms
    const all = summarizeGc(events, 0, 3_800);
    expect(all.map((h) => [h.thread, h.heaps])).toEqual([
      ["main", [MAIN]],
      ["worker", [WORKER, "0x48da74a0118"]],
    ]);
    const main = all[0]!;
    const paused = MAIN_PAUSES.reduce((a, b) => a + b, 0);
    expect(main.windowS).toBe(3.8);
    expect(main.edenPerS).toBeCloseTo(5 / 3.8, 9);
    expect(main.fullPerS).toBeCloseTo(1 / 3.8, 9);
    expect(main.pausesPerS).toBeCloseTo(15 / 3.8, 9);
    expect(main.pauseMs).toEqual({ p50: 1.20579, p99: 5.43885, max: 5.43885 });
    expect(main.pausedMsPerS).toBeCloseTo(paused / 3.8, 9);
    expect(main.pausedShare).toBeCloseTo(paused / 3_800, 12);
    expect(all[1]!.pauseMs).toEqual({ p50: 3.123305, p99: 3.123305, max: 3.123305 });

    // Lines 10–15 only: the main thread's full collection and its three pauses; a Worker only started, not listed.
    const part = summarizeGc(events, 900, 1_500);
    expect(part.map((h) => h.thread)).toEqual(["main"]);
    expect(part[0]!.edenPerS).toBe(0);
    expect(part[0]!.fullPerS).toBeCloseTo(1 / 0.6, 9);
    expect(part[0]!.pausedMsPerS).toBeCloseTo((4.015338 + 0.316019 + 3.985093) / 0.6, 9);
  });

  test("time with some thread paused: pauses end at their line's arrival, overlaps across processes counted once, clipped to the window", () => {
    const pause = (heap: string, at: number, ms: number): GcEvent => ({ heap, kind: "pause", ms, at });
    const a = [pause("0xa", 110, 10), pause("0xa", 500, 4)]; // 100–110, 496–500
    const b = [pause("0xb", 115, 10), pause("0xb", 1_002, 5)]; // 105–115 (overlaps a's), 997–1002 (past the window)
    expect(anyPausedShare([a, b], 0, 1_000)).toBeCloseTo((15 + 4 + 3) / 1_000, 12);
    expect(anyPausedShare([a], 0, 1_000)).toBeCloseTo(14 / 1_000, 12);
    expect(anyPausedShare([[]], 0, 1_000)).toBe(0);
  });

  test("the wait pauses alone would add at a percentile: the rest of the stopped span a random send lands in", () => {
    const pause = (at: number, ms: number): GcEvent => ({ heap: "0xa", kind: "pause", ms, at });
    // 1,000 ms with two spans, 4 ms and 2 ms: 0.6 % of the time stopped.
    const two = [[pause(100, 4), pause(600, 2)]];
    expect(pauseOnlyWait(two, 0, 1_000, 0.99)).toBe(0); // under 1 % stopped: the p99 send meets no pause
    // p99.5: exceeded during 5 ms of the 1,000: (4 − w) + (2 − w) = 5 → w = 0.5 ms.
    expect(pauseOnlyWait(two, 0, 1_000, 0.995)).toBeCloseTo(0.5, 6);
    // p99.9: exceeded during 1 ms: only the 4 ms span can, 4 − w = 1 → w = 3 ms.
    expect(pauseOnlyWait(two, 0, 1_000, 0.999)).toBeCloseTo(3, 6);
    // 100 ms with one 3 ms span: p99 → 3 − w = 1 → w = 2 ms.
    expect(pauseOnlyWait([[pause(50, 3)]], 0, 100, 0.99)).toBeCloseTo(2, 6);
  });

  test("the reader stamps lines as they arrive, whole lines even when chunks cut them", async () => {
    const bytes = new TextEncoder().encode(LOG + "\n");
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 97) c.enqueue(bytes.slice(i, i + 97));
        c.close();
      },
    });
    const before = performance.timeOrigin + performance.now();
    const reader = new GcLogReader(stream);
    await reader.done;
    expect(reader.events.map(({ at: _, ...r }) => r)).toEqual(parseGcLog(LOG).map(({ at: _, ...r }) => r));
    expect(reader.events.every((e) => e.at >= before)).toBe(true);
    expect(reader.otherLines()).toBe(""); // every line of the excerpt is the collector's
  });

  test("the table: one line per process, one for its Workers when they collected; set-ups that did not run say why", () => {
    const heaps = summarizeGc(
      parseGcLog(LOG, (i) => i * 100),
      0,
      3_800,
    );
    const md = gcPausesMarkdown([
      {
        id: "echo",
        label: "bare gRPC echo, direct (floor)",
        status: "ok",
        windowS: 3.8,
        load: { throughput: 1000, latencyP99Ms: 2.8, latencyP999Ms: 4.6, serviceP99Ms: 1.9, sendLagP99Ms: 1.5 },
        processes: [{ name: "prism-load", heaps, cpuCores: 0.973 }],
        anyPausedShare: 0.0123,
        pauseOnlyP99Ms: 0.41,
        pauseOnlyP999Ms: 2.2,
      },
      { id: "memstore-proxy", label: "memstore, through the proxy", status: "not run", reason: "dist/proxy not built (make build-plugins)", processes: [] },
    ]);
    expect(md).toContain("| bare gRPC echo, direct (floor) | prism-load | 0.97 | 1.3 / 0.3 | 3.9 | 1.21 | 5.44 | 5.44 | 7.10 | 0.71 % |");
    expect(md).toContain("| bare gRPC echo, direct (floor) | prism-load (Workers) | ″ | 0.0 / 0.3 | 0.3 | 3.12 | 3.12 | 3.12 | 0.82 | 0.08 % |");
    expect(md).toContain("| memstore, through the proxy | not run (dist/proxy not built (make build-plugins)) |");
    expect(md).toContain(
      "- bare gRPC echo, direct (floor): some thread of the set-up paused during 1.23 % of the window, so the pauses alone would add 0.410 ms at p99 and 2.20 ms at p99.9 to a call sent at a random moment; prism-load latency p99 2.80 ms, p99.9 4.60 ms, service time p99 1.90 ms, send lag p99 1.50 ms",
    );
  });
});
