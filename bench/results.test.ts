import { describe, expect, test } from "bun:test";
import { renderChart } from "./chart";
import type { LifecycleTimes } from "./lifecycle_times";
import { checkProxyTargets, checkTailTargets, checkTargets, computeRatios, toMarkdown, type BenchResults, type RowResult } from "./results";
import { queueMarkdown } from "./queue_throughput";
import { row } from "./row_fixture";
import { sessionStoreMarkdown } from "./session_store";

const lat = (p50: number, p99: number) => ({ p50, p90: p50 * 2, p99, p999: p99 * 1.5, max: p99 * 2, mean: p50 });
const rows: RowResult[] = [
  row("echo", { backend: "echo", via: "bare", throughput: 20_000, latencyMs: lat(0.2, 1) }),
  row("memstore-direct", { throughput: 15_000, latencyMs: lat(0.3, 1.2) }),
  row("memstore-proxy", { via: "proxy", throughput: 10_500, latencyMs: lat(0.6, 2) }),
  row("redis-direct", { backend: "redis", status: "not run", reason: "redis is not reachable" }),
  row("memstore-proxy-moderate", { via: "proxy", mode: "open-loop", rps: 1000, throughput: 1000, latencyMs: lat(0.3, 0.8) }),
  row("kafka-proxy-moderate", { backend: "kafka", via: "proxy", mode: "open-loop", rps: 1000, throughput: 990, unsent: 10, latencyMs: lat(2, 6) }),
];
const spread = (v: number) => ({ runs: 3, min: v, median: v, p90: v, max: v });
const lifecycle: LifecycleTimes[] = [
  { name: "memstore", command: "dist/memstore", startupMs: spread(60), shutdownMs: spread(20), exitCodes: [0] },
  { name: "proxy", command: "dist/proxy", startupMs: spread(300), shutdownMs: spread(1200), exitCodes: [0] },
];

describe("bench results", () => {
  test("issue 26 targets: each p99 with prism-load and ghz as the client and its floors beside it; CPU per call; tracing cost; not measured when a row is missing", () => {
    const open = (id: string, p50: number, p99: number, extra: Partial<RowResult> = {}) =>
      row(id, { mode: "open-loop", rps: 1000, throughput: 1000, latencyMs: lat(p50, p99), serviceTimeMs: { p50, p99 }, ...extra });
    const ghz = (id: string, p50: number, p99: number, extra: Partial<RowResult> = {}) =>
      row(id, { mode: "open-loop", rps: 1000, throughput: 1000, latencyMs: lat(p50, p99), client: "ghz", ...extra });
    const measured = [
      open("echo-moderate", 0.2, 0.3, { backend: "echo", via: "bare" }),
      ghz("echo-moderate-ghz", 0.25, 0.35, { backend: "echo", via: "bare" }),
      open("memstore-direct-moderate", 0.3, 0.45),
      ghz("memstore-direct-moderate-ghz", 0.44, 0.45),
      open("memstore-relay-moderate", 0.4, 0.7, { via: "relay" }),
      open("memstore-proxy-moderate", 0.38, 0.8, { via: "proxy" }),
      ghz("memstore-proxy-moderate-ghz", 0.52, 0.8, { via: "proxy" }),
      open("redis-proxy-moderate", 0.5, 1.5, { backend: "redis", via: "proxy" }),
      ghz("redis-proxy-moderate-ghz", 0.5, 2.5, { backend: "redis", via: "proxy" }),
      row("echo", { backend: "echo", via: "bare", throughput: 20_000, latencyMs: lat(3, 8), processCpuUsPerCall: { echo: 30 } }),
      row("memstore-direct", { throughput: 15_000, latencyMs: lat(3, 9), processCpuUsPerCall: { pattern: 45 } }),
      row("memstore-relay", { via: "relay", throughput: 15_000, latencyMs: lat(3, 9), processCpuUsPerCall: { relay: 35, pattern: 44 } }),
      row("memstore-proxy", { via: "proxy", throughput: 13_500, latencyMs: lat(3, 9), processCpuUsPerCall: { proxy: 38, pattern: 46 } }),
      row("echo-ghz", { backend: "echo", via: "bare", client: "ghz", throughput: 12_000, latencyMs: lat(4, 9), processCpuUsPerCall: { echo: 36 } }),
      row("memstore-direct-ghz", { client: "ghz", throughput: 10_000, latencyMs: lat(4, 9), processCpuUsPerCall: { pattern: 39 } }),
      row("memstore-relay-ghz", { via: "relay", client: "ghz", throughput: 9_000, latencyMs: lat(4, 9), processCpuUsPerCall: { relay: 41, pattern: 44 } }),
      row("memstore-proxy-ghz", { via: "proxy", client: "ghz", throughput: 8_000, latencyMs: lat(5, 9), processCpuUsPerCall: { proxy: 52, pattern: 46 } }),
      row("memstore-proxy-traced-ratio", { via: "proxy", throughput: 13_000, latencyMs: lat(3, 9) }),
      row("memstore-proxy-traced", { via: "proxy", throughput: 9_000, latencyMs: lat(6, 19) }),
    ];
    const t = Object.fromEntries(checkTailTargets(measured).map((x) => [x.target.split(":")[0], x]));
    const direct = t["memstore Get at the moderate rate, direct"]!;
    expect(direct.met).toBe(true);
    expect(direct.measured).toBe(
      "prism-load 0.450 ms (service time 0.450 ms), ghz 0.450 ms; floors, p99: bare gRPC echo, prism-load 0.300 ms, bare gRPC echo, ghz 0.350 ms",
    );
    expect(t["memstore Get at the moderate rate, through the proxy"]!.met).toBe(true);
    const added = t["proxy-added latency at the moderate rate (through proxy − direct)"]!;
    expect(added.measured).toBe(
      "prism-load +0.080 ms p50 / +0.350 ms p99, ghz +0.080 ms p50 / +0.350 ms p99; bare relay (floor), prism-load +0.100 ms p50 / +0.250 ms p99",
    );
    expect(added.met).toBe(true);
    // ghz's p99 misses Redis's limit: the target is not met even though prism-load's is.
    expect(t["Redis Get through the proxy at the moderate rate"]!.met).toBe(false);
    expect(t["Kafka publish through the proxy at the moderate rate"]!.met).toBeNull();
    expect(t["Kafka publish through the proxy at the moderate rate"]!.measured).toBe("not measured (kafka-proxy-moderate, kafka-proxy-moderate-ghz missing)");
    const proxyCpu = t["proxy CPU per forwarded call (memstore Get, 64 in flight) ≤ 40 µs"]!;
    // Each client's figure with its floor; ghz's proxy CPU misses the limit, so the target does although prism-load's meets it.
    expect([proxyCpu.measured, proxyCpu.met]).toEqual(["prism-load 38 µs (bare relay, the floor: 35 µs); ghz 52 µs (bare relay, the floor: 41 µs)", false]);
    const patternCpu = t["memstore pattern CPU per call served directly (Get, 64 in flight) ≤ 40 µs"]!;
    expect([patternCpu.measured, patternCpu.met]).toEqual([
      "prism-load 45 µs (bare gRPC echo, the floor: 30 µs); ghz 39 µs (bare gRPC echo, the floor: 36 µs)",
      false,
    ]);
    const through = t["through proxy / direct, memstore Get, 64 in flight ≥ 0.85"]!;
    expect([through.measured, through.met]).toEqual([
      "prism-load 0.90 (bare relay / direct, the floor: 1.00); ghz 0.80 (bare relay / direct, the floor: 0.90)",
      false,
    ]);
    const ratio = t["tracing on, parentbased_traceidratio 0.01"]!;
    expect([ratio.measured, ratio.met]).toEqual(["3.7 % (13,000 vs 13,500 calls/s)", true]);
    expect(t["tracing on, always on (every call sampled and exported)"]!.met).toBe(false);
    // With the allocation section and the traced row's CPU: what the cost is made of, beside it.
    const alloc = (subject: "memstore" | "proxy", tracing: "off" | "ratio" | "always_on", bytesPerCall: number) => ({
      subject,
      tracing,
      status: "ok" as const,
      bytesPerCall,
      objectsPerCall: 100,
      top: [],
    });
    const tracedCpu = measured.map((r) => (r.id === "memstore-proxy-traced-ratio" ? { ...r, processCpuUsPerCall: { proxy: 40, pattern: 47 } } : r));
    const explained = checkTailTargets(tracedCpu, {
      alloc: [alloc("memstore", "off", 19_000), alloc("memstore", "ratio", 20_500), alloc("proxy", "off", 10_000), alloc("proxy", "ratio", 10_900)],
    }).find((x) => x.target.startsWith("tracing on, parentbased_traceidratio"))!;
    expect(explained.measured).toBe(
      "3.7 % (13,000 vs 13,500 calls/s); CPU per call proxy 40 vs 38 µs, pattern 47 vs 46 µs; heap allocated per call, added by tracing: proxy +900 B, memstore +1,500 B",
    );
    // The new patterns' sections: not measured without them.
    expect(t["queue over kafka through the proxy (issue 21)"]!.met).toBeNull();
    expect(t["Session Store GetSession through the proxy on Redis shards (issue 22)"]!.met).toBeNull();
    const withSections = checkTailTargets(measured, {
      queue: [
        {
          backend: "nats",
          via: "proxy",
          messages: 20_000,
          consumers: 4,
          publishPerS: 30_000,
          consumeAckPerS: 21_000,
          latency: { rate: 1000, delivered: 5000, sent: 5000, p50Ms: 1, p99Ms: 6.5, cpu: { machineBusy: 1.1, cores: 2, client: 0.4 } },
        },
        {
          backend: "nats",
          via: "direct",
          messages: 20_000,
          consumers: 4,
          publishPerS: 40_000,
          consumeAckPerS: 25_000,
          latency: { rate: 1000, delivered: 5000, sent: 5000, p50Ms: 0.5, p99Ms: 4.2 },
        },
      ],
      cdc: [
        {
          sink: "kafka",
          pacedChanges: 1000,
          pacedRate: 1000,
          commitToSinkP50Ms: 5,
          commitToSinkP99Ms: 250,
          readBackP50Ms: 3,
          readBackP99Ms: 170,
          sustainedRows: 20_000,
          sustainedPerS: 9_000,
          cpuUsPerChange: 90,
        },
      ],
    });
    const byTarget = Object.fromEntries(withSections.map((x) => [x.target.split(":")[0], x]));
    expect(byTarget["queue over nats through the proxy (issue 21)"]!.met).toBe(true);
    expect(byTarget["queue over nats through the proxy (issue 21)"]!.measured).toBe(
      "21,000 msg/s; p99 6.5 ms at 1000/s; served directly (the floor): p99 4.2 ms; machine CPU busy while paced 1.10 of 2 (0.40) cores (bench client in brackets)",
    );
    expect(byTarget["CDC into Kafka (issue 23)"]!.measured).toBe("9,000 changes/s (20,000 rows)");
    expect(byTarget["CDC into Kafka (issue 23)"]!.met).toBe(false);
  });

  test("ratios: through proxy / direct and pattern / bare gRPC; n/a when a row did not run", () => {
    const r = Object.fromEntries(computeRatios(rows).map((x) => [x.name, x.value]));
    expect(r["memstore: through proxy / direct, throughput"]).toBeCloseTo(0.7, 5);
    expect(r["memstore: through proxy / direct, p50 latency"]).toBeCloseTo(2, 5);
    expect(r["memstore direct / bare gRPC, throughput"]).toBeCloseTo(0.75, 5);
    expect(r["redis pattern direct / redis-benchmark, throughput"]).toBeNull();
  });

  test("the seed 002 in-memory p99 names the floors measured at the same rate: bare relay, memstore direct, bare echo", () => {
    const moderate = (id: string, p99: number, extra: Partial<RowResult> = {}) =>
      row(id, { mode: "open-loop", rps: 1000, throughput: 1000, latencyMs: lat(0.3, p99), ...extra });
    const withFloors = [
      moderate("memstore-proxy-moderate", 5.36, { via: "proxy" }),
      moderate("memstore-relay-moderate", 3.1, { via: "relay" }),
      moderate("memstore-direct-moderate", 2.4),
      moderate("echo-moderate", 1.9, { backend: "echo", via: "bare" }),
    ];
    const t = checkTargets(withFloors, [], 1000).find((x) => x.source === "memstore-proxy-moderate")!;
    expect(t.measured).toBe("p99 5.36 ms at 1000 req/s; floors at that rate, p99: bare relay 3.10 ms, memstore direct 2.40 ms, bare gRPC echo 1.90 ms");
    expect(t.met).toBe(false);
    // A floor row that did not run is left out, not invented.
    const noRelay = checkTargets(
      withFloors.filter((r) => r.id !== "memstore-relay-moderate"),
      [],
      1000,
    )[0]!;
    expect(noRelay.measured).toBe("p99 5.36 ms at 1000 req/s; floors at that rate, p99: memstore direct 2.40 ms, bare gRPC echo 1.90 ms");
  });

  test("targets: met, missed, not measured; unsent calls or errors fail a latency target", () => {
    const t = Object.fromEntries(checkTargets(rows, lifecycle, 1000).map((x) => [x.target, x]));
    expect(t["in-memory P99 < 1 ms through the proxy at moderate load"]!.met).toBe(true);
    expect(t["Kafka P99 < 10 ms through the proxy at moderate load (publish)"]!.met).toBe(false);
    expect(t["Kafka P99 < 10 ms through the proxy at moderate load (publish)"]!.measured).toContain("10 unsent");
    expect(t["Redis P99 < 5 ms through the proxy at moderate load"]!.met).toBeNull();
    expect(t["≥ 10,000 requests/s through the proxy"]!.met).toBe(true);
    expect(t["pattern start-up < 100 ms"]!.met).toBe(true); // the proxy is not a pattern
    expect(t["graceful shutdown < 1 s"]!.met).toBe(false); // the proxy took 1.2 s
  });

  test("Markdown shows every row, including those not run and why", () => {
    const b: BenchResults = {
      command: "make bench",
      startedAt: "2026-01-01T00:00:00.000Z",
      elapsedS: 1,
      machine: { cpus: 2, cpuModel: "cpu", memoryGiB: 24, loadAverageAtStart: [0.5, 0.5, 0.5], loadAverageAtEnd: [1, 1, 1], bun: "1.4.4", os: "Linux" },
      settings: { durationS: 5, warmupS: 1, concurrency: 64, moderateRps: 1000, valueSize: 100, keys: 1000, lifecycleRuns: 3 },
      rows,
      redisBenchmark: null,
      ratios: computeRatios(rows),
      targets: checkTargets(rows, lifecycle, 1000),
      lifecycle,
      lifecycleNotRun: [{ name: "kafka", reason: "kafka is not reachable" }],
      shutdownUnderLoad: [{ name: "memstore", shutdownMs: 40, exitCode: 0, clientOk: 9000, clientErrors: { UNAVAILABLE: 12 } }],
      sizes: [],
      buildVariants: null,
      gcPauses: [
        {
          id: "echo",
          label: "bare gRPC echo, direct (floor)",
          status: "ok",
          windowS: 5,
          load: { throughput: 1000, latencyP99Ms: 2.8, serviceP99Ms: 1.9, sendLagP99Ms: 1.5 },
          processes: [
            {
              name: "prism-load",
              heaps: [
                {
                  thread: "main",
                  heaps: ["0x1"],
                  windowS: 5,
                  edenPerS: 2.8,
                  fullPerS: 0,
                  pausesPerS: 3.2,
                  pauseMs: { p50: 1.5, p99: 4.2, max: 4.2 },
                  pausedMsPerS: 6.1,
                  pausedShare: 0.0061,
                  epilogueMsPerS: 0.1,
                },
              ],
            },
          ],
        },
      ],
    };
    const md = toMarkdown(b);
    expect(md).toContain("**Garbage-collector pauses at 1000/s**");
    expect(md).toContain("| bare gRPC echo, direct (floor) | prism-load | – | 2.8 / 0.0 | 3.2 | 1.50 | 4.20 | 4.20 | 6.10 | 0.61 % |");
    expect(md).toContain("| memstore-proxy | 10,500 | 0.600 |");
    expect(md).toContain("| redis-direct | not run (redis is not reachable) |");
    expect(md).toContain("| kafka | not run (kafka is not reachable) |");
    expect(md).toContain("| graceful shutdown < 1 s |");
    expect(md).toContain("| memstore | 40 | 0 | 9,000 | UNAVAILABLE 12 |");
  });

  test("the Session Store section: rows, replication lag per stream, the Get p99 target at the paced rate, and why a run stopped", () => {
    const sessionRow = (operation: string, mode: string, p99Ms: number, errors = 0) => ({ operation, mode, calls: 1000, errors, perS: 1000, p50Ms: 1, p99Ms });
    const base = { durationMs: 5000, shards: "redis x3" };
    const met = sessionStoreMarkdown({
      ...base,
      rows: [sessionRow("CreateSession", "closed loop, 64 in flight", 9), sessionRow("GetSession", "paced at 1000/s", 4.2)],
      replicationLag: [
        { driver: "nats", updates: 200, p50Ms: 3, p99Ms: 8, maxMs: 9 },
        { driver: "redis", updates: 200, p50Ms: 2, p99Ms: 6, maxMs: 7 },
      ],
    });
    expect(met).toContain("| CreateSession | closed loop, 64 in flight | 1000 | 0 | 1000 | 1 | 9 |");
    expect(met).toContain("| Redis Streams | 200 | 2 | 6 | 7 |");
    expect(met).toContain("| NATS JetStream | 200 | 3 | 8 | 9 |");
    expect(met).toContain("GetSession p99 < 5 ms paced at 1000/s on Redis shards: met (4.2 ms, 0 errors)");
    const missed = sessionStoreMarkdown({ ...base, rows: [sessionRow("GetSession", "paced at 1000/s", 4.2, 3)], replicationLag: [], reason: "boom" });
    expect(missed).toContain("not met (4.2 ms, 3 errors)");
    expect(missed).toContain("Not complete: boom");
    expect(missed).not.toContain("replication over");
  });

  test("the Producer/Consumer section: a row per backend and mode, issue 21's target for Kafka and NATS through the proxy, and why a row did not run", () => {
    const qrow = (backend: string, via: string, consumeAckPerS: number, p99Ms: number, delivered = 5000) => ({
      backend,
      via,
      messages: 20000,
      consumers: 4,
      publishPerS: 30000,
      consumeAckPerS,
      latency: { rate: 1000, delivered, sent: 5000, p50Ms: 1.5, p99Ms, ...(backend === "kafka" && { cpu: { machineBusy: 1.8249, cores: 2, client: 0.5 } }) },
    });
    const md = queueMarkdown([
      qrow("redis", "proxy", 8000, 30),
      qrow("nats", "proxy", 12000, 9),
      qrow("nats", "direct", 12000, 9),
      qrow("kafka", "proxy", 9000, 25, 4990),
      { ...qrow("postgres", "direct", 0, 0), reason: "postgres is not reachable" },
    ]);
    expect(md).toContain("| redis | proxy | 30000 | 8000 | 1000/s | 1.5 ms | 30 ms | 5000 of 5000 |  |  |");
    expect(md).toContain("| nats | proxy | 30000 | 12000 | 1000/s | 1.5 ms | 9 ms | 5000 of 5000 |  | met |");
    expect(md).toContain("| nats | direct | 30000 | 12000 | 1000/s | 1.5 ms | 9 ms | 5000 of 5000 |  |  |");
    expect(md).toContain(
      "| kafka | proxy | 30000 | 9000 | 1000/s | 1.5 ms | 25 ms | 4990 of 5000 | 1.82 of 2 (0.50) | not met (9000/s < 10k/s, p99 25 ms ≥ 20 ms, 10 not delivered) |",
    );
    expect(md).toContain("| postgres | direct | not run: postgres is not reachable |");
    const all = toMarkdown({
      command: "make bench",
      startedAt: "2026-01-01T00:00:00.000Z",
      elapsedS: 1,
      machine: { cpus: 2, cpuModel: "cpu", memoryGiB: 24, loadAverageAtStart: [0.5, 0.5, 0.5], loadAverageAtEnd: [1, 1, 1], bun: "1.4.4", os: "Linux" },
      settings: { durationS: 5, warmupS: 1, concurrency: 64, moderateRps: 1000, valueSize: 100, keys: 1000, lifecycleRuns: 3 },
      rows,
      redisBenchmark: null,
      ratios: computeRatios(rows),
      targets: checkTargets(rows, lifecycle, 1000),
      lifecycle,
      lifecycleNotRun: [],
      shutdownUnderLoad: [],
      sizes: [],
      buildVariants: null,
      queue: [qrow("nats", "proxy", 12000, 9)],
    });
    expect(all).toContain("**Producer/Consumer**");
    expect(all).toContain("| nats | proxy |");
  });

  test("the chart is an SVG naming every row that ran", async () => {
    const svg = await renderChart(rows, "test chart");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("memstore-proxy-moderate");
    expect(svg).not.toContain(">redis-direct<");
  });

  test("issue 12's proxy targets: CPU per call, ratios, proxy-added service time and the generator's send lag, with the floor beside them", () => {
    const t = Object.fromEntries(
      checkProxyTargets(
        [
          row("memstore-direct", { throughput: 16_000, latencyMs: lat(0.3, 1.2) }),
          row("memstore-proxy", { via: "proxy", throughput: 12_800, cpuUsPerCall: 48, latencyMs: lat(0.6, 2) }),
          row("memstore-relay", { via: "relay", throughput: 14_000, cpuUsPerCall: 30, latencyMs: lat(0.5, 2) }),
          row("memstore-direct-moderate", { mode: "open-loop", rps: 1000, throughput: 1000, latencyMs: lat(0.2, 0.5), serviceTimeMs: { p50: 0.2, p99: 0.5 } }),
          row("memstore-relay-moderate", {
            via: "relay",
            mode: "open-loop",
            rps: 1000,
            throughput: 1000,
            latencyMs: lat(0.28, 0.9),
            serviceTimeMs: { p50: 0.27, p99: 0.7 },
          }),
          row("echo-moderate", { backend: "echo", via: "bare", mode: "open-loop", rps: 1000, throughput: 1000, latencyMs: lat(0.15, 0.4), sendLagP99Ms: 0.3 }),
          row("memstore-proxy-moderate", {
            via: "proxy",
            mode: "open-loop",
            rps: 1000,
            throughput: 1000,
            latencyMs: lat(0.35, 1),
            serviceTimeMs: { p50: 0.35, p99: 0.8 },
          }),
        ],
        0.07,
      ).map((x) => [x.target.split(" ")[0] === "proxy" && x.target.includes("CPU") ? "cpu" : x.source, x]),
    );
    expect(t.cpu!.measured).toBe("48 µs; bare relay (floor) 30 µs");
    expect(t.cpu!.met).toBe(true);
    expect(t["memstore-proxy"]!.measured).toBe("12,800/s; bare relay (floor) 14,000/s");
    expect(t["memstore-proxy / memstore-direct"]!.measured).toBe("0.80; bare relay (floor) / direct 0.88");
    expect(t["memstore-proxy-moderate − memstore-direct-moderate"]!.measured).toBe(
      "+0.150 ms p50 / +0.300 ms p99; bare relay (floor) +0.070 ms p50 / +0.200 ms p99; proxy − bare relay +0.080 ms p50 / +0.100 ms p99",
    );
    expect(t["memstore-proxy-moderate − memstore-direct-moderate"]!.met).toBe(false);
    expect(t["memstore-proxy-moderate"]!.measured).toBe(
      "1.00 ms; floors at that rate, p99: bare relay 0.900 ms, memstore direct 0.500 ms, bare gRPC echo 0.400 ms",
    );
    expect(t["memstore-proxy-moderate"]!.met).toBe(false);
    expect(t["echo-moderate"]!.measured).toBe("0.300 ms; the pacer alone, no calls (floor): 0.070 ms");
    expect(t["echo-moderate"]!.met).toBe(false);
  });

  test("issue 12's latency rows without their floors: the proxy's figures alone, the missing rows named", () => {
    const t = checkProxyTargets([
      row("memstore-direct-moderate", { mode: "open-loop", rps: 1000, throughput: 1000, latencyMs: lat(0.2, 0.5), serviceTimeMs: { p50: 0.2, p99: 0.5 } }),
      row("memstore-proxy-moderate", {
        via: "proxy",
        mode: "open-loop",
        rps: 1000,
        throughput: 1000,
        latencyMs: lat(0.3, 0.9),
        serviceTimeMs: { p50: 0.25, p99: 0.6 },
      }),
    ]);
    const bySource = Object.fromEntries(t.map((x) => [x.source, x]));
    expect(bySource["memstore-proxy-moderate − memstore-direct-moderate"]!.measured).toBe("+0.050 ms p50 / +0.100 ms p99");
    expect(bySource["memstore-proxy-moderate − memstore-direct-moderate"]!.met).toBe(true);
    expect(bySource["memstore-proxy-moderate"]!.measured).toBe("0.900 ms; floors at that rate, p99: memstore direct 0.500 ms");
    expect(bySource["memstore-proxy-moderate"]!.met).toBe(true);
    expect(bySource["echo-moderate"]!.measured).toBe("not measured (echo-moderate missing)");
  });
});
