import { allocMarkdown, tracingAdds, type AllocRow } from "./alloc/section";
import { pairedCost, pairedCpu, pct, tracingRoundsMarkdown, type TracingRoundsResult } from "./tracing_rounds";
import { gcPausesMarkdown, type GcPauseResult } from "./gc_pauses";
import { multicastScaleMarkdown, type MulticastScaleResult } from "./multicast_scale";
import { type CdcBenchResult, cdcMarkdown } from "./cdc";
import { type QueueBenchResult, pacedCpuText, queueMarkdown } from "./queue_throughput";
import { sessionStoreMarkdown, type SessionStoreResult } from "./session_store";
import { streamReadMarkdown, type StreamReadResult } from "./stream_read";
import { largeValueMarkdown, type LargeValueResult } from "./large_value";
import type { BuildVariant } from "./build_variants";
import type { LifecycleTimes } from "./lifecycle_times";
import type { RedisBenchmarkResult } from "./redis_benchmark";
import type { ShutdownUnderLoad } from "./shutdown_under_load";

/** One row of the side-by-side table. */
export interface RowResult {
  id: string;
  label: string;
  backend: "echo" | "memstore" | "redis" | "nats" | "kafka" | "postgres";
  via: "bare" | "direct" | "proxy" | "relay" | "redis-benchmark";
  operation: string;
  mode: "closed-loop" | "open-loop";
  concurrency: number;
  rps: number | null;
  status: "ok" | "not run" | "failed";
  /** Why a row did not run or failed. */
  reason?: string;
  /** How the row was measured (addresses are chosen at run time). */
  command?: string;
  throughput?: number;
  ok?: number;
  errors?: Record<string, number>;
  unsent?: number;
  /** p90 / p99.9 are null where the tool does not report them (redis-benchmark). */
  latencyMs?: { p50: number; p90: number | null; p99: number; p999: number | null; max: number; mean: number };
  /** Open loop: the generator's own pacing error (part of the latency). */
  sendLagP99Ms?: number;
  /** Open loop: send → reply, without the wait for a scheduled send. */
  serviceTimeMs?: { p50: number; p99: number };
  /** Proxy and bare relay rows: their process's CPU time per call relayed (user + system, over the whole prism-load run). */
  cpuUsPerCall?: number;
  /** Each server process's CPU µs per call completed, over the client's measured window (bench/rows.ts windowCpuPerCall). */
  processCpuUsPerCall?: Record<string, number>;
  /** The client, when not prism-load: ghz (bench/ghz.ts), whose latency runs from each call's actual send. */
  client?: "ghz";
}

/** A headline ratio between two rows. */
export interface Ratio {
  name: string;
  value: number | null;
  of: string;
}

/** A seed 002 target and what was measured against it. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
  source: string;
}

/** Binary sizes from dist/<name>.meta.json. */
export interface SizeRow {
  name: string;
  executableBytes: number;
  embeddedBytes: number;
  bundleBytes: number;
  bytecode: boolean;
  minify: boolean;
}

/** Everything one `make bench` run measured: bench/results/latest.json. */
export interface BenchResults {
  command: string;
  startedAt: string;
  elapsedS: number;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; loadAverageAtStart: number[]; loadAverageAtEnd: number[]; bun: string; os: string };
  settings: { durationS: number; warmupS: number; concurrency: number; moderateRps: number; valueSize: number; keys: number; lifecycleRuns: number };
  rows: RowResult[];
  redisBenchmark: RedisBenchmarkResult | null;
  ratios: Ratio[];
  targets: TargetCheck[];
  /** Issue 12's targets for the proxy hop (absent in results written before them). */
  proxyTargets?: TargetCheck[];
  /** Issue 26's targets, with the floor beside each (absent in results written before them). */
  tailTargets?: TargetCheck[];
  lifecycle: LifecycleTimes[];
  lifecycleNotRun: Array<{ name: string; reason: string }>;
  shutdownUnderLoad: ShutdownUnderLoad[];
  sizes: SizeRow[];
  buildVariants: BuildVariant[] | null;
  /** The Multicast Registry at scale (bench/multicast_scale.ts); absent in results written before it. */
  multicastScale?: MulticastScaleResult[];
  /** Whole-stream Read of 8,690 records per backend (bench/stream_read.ts); absent in results written before it. */
  streamRead?: StreamReadResult[];
  /** One large value (StoreStream / RetrieveStream) through the proxy per backend (bench/large_value.ts); absent in results written before it. */
  largeValue?: LargeValueResult[];
  /** Change Data Capture into Kafka (bench/cdc.ts); absent in results written before it. */
  cdc?: CdcBenchResult[];
  /** The Session Store through the proxy and its replication lag (bench/session_store.ts); absent in results written before it. */
  sessionStore?: SessionStoreResult;
  /** The Producer/Consumer pattern per backend (bench/queue_throughput.ts); absent in results written before it. */
  queue?: QueueBenchResult[];
  /** Garbage-collector pauses per process at the moderate rate (bench/gc_pauses.ts); absent in results written before it. */
  gcPauses?: GcPauseResult[];
  /** Heap bytes and objects allocated per call, tracing off and on (bench/alloc/section.ts); absent in results written before it. */
  alloc?: AllocRow[];
  /** Tracing off / at a ratio / always on through the proxy, in paired rounds (bench/tracing_rounds.ts); absent in results written before it. */
  tracingRounds?: TracingRoundsResult;
  /** prism-load's pacer alone at the moderate rate, no calls (bench/pacer_lag.ts): its lag p99, median of the runs. */
  pacerAloneP99Ms?: number;
}

const find = (rows: RowResult[], id: string) => rows.find((r) => r.id === id && r.status === "ok");

/** The headline ratios: through-proxy / direct, pattern / bare gRPC, Redis pattern / redis-benchmark. */
export function computeRatios(rows: RowResult[]): Ratio[] {
  const ratio = (name: string, a: string, b: string, metric: (r: RowResult) => number | undefined): Ratio => {
    const x = find(rows, a);
    const y = find(rows, b);
    const vx = x && metric(x);
    const vy = y && metric(y);
    return { name, value: vx !== undefined && vy ? vx / vy : null, of: `${a} / ${b}` };
  };
  const tput = (r: RowResult) => r.throughput;
  const p50 = (r: RowResult) => r.latencyMs?.p50;
  const out: Ratio[] = [];
  for (const b of ["memstore", "redis", "nats", "kafka"]) {
    out.push(ratio(`${b}: through proxy / direct, throughput`, `${b}-proxy`, `${b}-direct`, tput));
    out.push(ratio(`${b}: through proxy / direct, p50 latency`, `${b}-proxy`, `${b}-direct`, p50));
  }
  out.push(ratio("memstore through proxy: tracing on / off, throughput", "memstore-proxy-traced", "memstore-proxy", tput));
  out.push(ratio("memstore through proxy: tracing on / off, p50 latency", "memstore-proxy-traced", "memstore-proxy", p50));
  out.push(
    ratio("memstore through proxy: KeyValuePattern.Retrieve / KeyValueBasicInterface.Get, throughput", "memstore-proxy-retrieve", "memstore-proxy", tput),
  );
  out.push(ratio("memstore through proxy: Retrieve / Get, p50 latency", "memstore-proxy-retrieve", "memstore-proxy", p50));
  out.push(ratio("redis through proxy: Retrieve / Get, throughput", "redis-proxy-retrieve", "redis-proxy", tput));
  out.push(ratio("memstore scan page (100 of 1000 keys): emulated / native, throughput", "memstore-scan-emulated", "memstore-scan-native", tput));
  out.push(ratio("memstore direct / bare gRPC, throughput", "memstore-direct", "echo", tput));
  out.push(ratio("memstore through proxy / bare gRPC, throughput", "memstore-proxy", "echo", tput));
  out.push(ratio("memstore through bare relay (floor) / direct, throughput", "memstore-relay", "memstore-direct", tput));
  out.push(ratio("memstore through proxy / through bare relay (floor), throughput", "memstore-proxy", "memstore-relay", tput));
  out.push(ratio("redis direct / bare gRPC, throughput", "redis-direct", "echo", tput));
  out.push(ratio("redis pattern direct / redis-benchmark, throughput", "redis-direct", "redis-benchmark", tput));
  out.push(ratio("redis through proxy / redis-benchmark, throughput", "redis-proxy", "redis-benchmark", tput));
  return out;
}

const fmtMs = (v: number | null) => (v === null ? "–" : v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1));
/** A latency difference with its sign: "+0.080", "−0.376". */
const signedMs = (x: number) => `${x >= 0 ? "+" : "−"}${fmtMs(Math.abs(x))}`;
/** Every call of the row answered OK and sent on time: a latency target is met only then. */
const clean = (r: RowResult) => !r.unsent && Object.keys(r.errors ?? {}).length === 0;

/**
 * The p99 floors beside the through-proxy p99 at the moderate rate, from rows of the same run and rate: the bare
 * HTTP/2 relay (the proxy's stack without the proxy), memstore direct (no hop) and the bare gRPC echo (no SDK, no
 * hop: what the generator and runtime alone reach). Empty when none of them ran.
 */
export function moderateFloors(rows: RowResult[]): string {
  const floors = [
    ["bare relay", "memstore-relay-moderate"],
    ["memstore direct", "memstore-direct-moderate"],
    ["bare gRPC echo", "echo-moderate"],
  ]
    .map(([name, id]) => [name, find(rows, id!)?.latencyMs?.p99] as const)
    .filter(([, v]) => v !== undefined)
    .map(([name, v]) => `${name} ${fmtMs(v!)} ms`);
  return floors.length ? `; floors at that rate, p99: ${floors.join(", ")}` : "";
}

/** Seed 002's targets against this run's figures. */
export function checkTargets(rows: RowResult[], lifecycle: LifecycleTimes[], moderateRps: number, underLoad: ShutdownUnderLoad[] = []): TargetCheck[] {
  const p99 = (target: string, id: string, limitMs: number, floor = ""): TargetCheck => {
    const r = find(rows, id);
    if (!r?.latencyMs) return { target, measured: `not measured (${rows.find((x) => x.id === id)?.reason ?? "row missing"})`, met: null, source: id };
    return {
      target,
      measured: `p99 ${fmtMs(r.latencyMs.p99)} ms at ${moderateRps} req/s${clean(r) ? "" : ` (${r.unsent ?? 0} unsent, errors ${JSON.stringify(r.errors)})`}${floor}`,
      met: r.latencyMs.p99 < limitMs && clean(r),
      source: id,
    };
  };
  const out = [
    p99("in-memory P99 < 1 ms through the proxy at moderate load", "memstore-proxy-moderate", 1, moderateFloors(rows)),
    p99("Redis P99 < 5 ms through the proxy at moderate load", "redis-proxy-moderate", 5),
    p99("Kafka P99 < 10 ms through the proxy at moderate load (publish)", "kafka-proxy-moderate", 10),
  ];
  const t = find(rows, "memstore-proxy");
  out.push({
    target: "≥ 10,000 requests/s through the proxy",
    measured: t ? `${Math.round(t.throughput!)} req/s (memstore Get, ${t.concurrency} in flight)` : "not measured",
    met: t ? t.throughput! >= 10_000 : null,
    source: "memstore-proxy",
  });
  const patterns = lifecycle.filter((l) => l.name !== "proxy");
  if (patterns.length) {
    const worst = patterns.reduce((a, b) => (b.startupMs.median > a.startupMs.median ? b : a));
    out.push({
      target: "pattern start-up < 100 ms",
      measured: patterns.map((l) => `${l.name} ${Math.round(l.startupMs.median)} ms`).join(", ") + " (median, spawn → listening)",
      met: worst.startupMs.median < 100,
      source: "lifecycle",
    });
  }
  if (lifecycle.length) {
    const worst = lifecycle.reduce((a, b) => (b.shutdownMs.max > a.shutdownMs.max ? b : a));
    const loaded = underLoad.map((u) => `${u.name} ${Math.round(u.shutdownMs)} ms`).join(", ");
    out.push({
      target: "graceful shutdown < 1 s",
      measured:
        lifecycle.map((l) => `${l.name} ${Math.round(l.shutdownMs.max)} ms`).join(", ") +
        " (max, SIGTERM → exit, idle)" +
        (loaded ? `; under load: ${loaded}` : ""),
      met:
        worst.shutdownMs.max < 1000 &&
        lifecycle.every((l) => l.exitCodes.every((c) => c === 0)) &&
        underLoad.every((u) => u.shutdownMs < 1000 && u.exitCode === 0),
      source: "lifecycle",
    });
  }
  return out;
}

/** Issue 12's targets for the proxy hop, from this run's rows. */
export function checkProxyTargets(rows: RowResult[], pacerAloneP99Ms?: number): TargetCheck[] {
  const proxy = find(rows, "memstore-proxy");
  const direct = find(rows, "memstore-direct");
  const relay = find(rows, "memstore-relay");
  const viaMod = find(rows, "memstore-proxy-moderate");
  const directMod = find(rows, "memstore-direct-moderate");
  const echoMod = find(rows, "echo-moderate");
  const relayMod = find(rows, "memstore-relay-moderate");
  const missing = (...ids: string[]) => `not measured (${ids.filter((id) => !find(rows, id)).join(", ")} missing)`;
  const out: TargetCheck[] = [];
  const floor = relay?.cpuUsPerCall !== undefined ? `; bare relay (floor) ${relay.cpuUsPerCall.toFixed(0)} µs` : "";
  out.push(
    proxy?.cpuUsPerCall !== undefined
      ? {
          target: "proxy CPU per forwarded unary call (64 in flight) ≤ 50 µs",
          measured: `${proxy.cpuUsPerCall.toFixed(0)} µs${floor}`,
          met: proxy.cpuUsPerCall <= 50,
          source: "memstore-proxy",
        }
      : { target: "proxy CPU per forwarded unary call (64 in flight) ≤ 50 µs", measured: missing("memstore-proxy"), met: null, source: "memstore-proxy" },
  );
  const relayRatio = relay && direct ? `; bare relay (floor) / direct ${(relay.throughput! / direct.throughput!).toFixed(2)}` : "";
  out.push(
    proxy && direct
      ? {
          target: "through proxy / direct, memstore Get, 64 in flight ≥ 0.75",
          measured: `${(proxy.throughput! / direct.throughput!).toFixed(2)}${relayRatio}`,
          met: proxy.throughput! / direct.throughput! >= 0.75,
          source: "memstore-proxy / memstore-direct",
        }
      : {
          target: "through proxy / direct, memstore Get, 64 in flight ≥ 0.75",
          measured: missing("memstore-proxy", "memstore-direct"),
          met: null,
          source: "memstore-proxy / memstore-direct",
        },
  );
  out.push(
    proxy
      ? {
          target: "through-proxy memstore Get throughput ≥ 12,000/s",
          measured: `${Math.round(proxy.throughput!).toLocaleString("en-US")}/s${relay ? `; bare relay (floor) ${Math.round(relay.throughput!).toLocaleString("en-US")}/s` : ""}`,
          met: proxy.throughput! >= 12_000,
          source: "memstore-proxy",
        }
      : { target: "through-proxy memstore Get throughput ≥ 12,000/s", measured: missing("memstore-proxy"), met: null, source: "memstore-proxy" },
  );
  if (viaMod?.serviceTimeMs && directMod?.serviceTimeMs) {
    const added = (a: RowResult, b: RowResult) => [a.serviceTimeMs!.p50 - b.serviceTimeMs!.p50, a.serviceTimeMs!.p99 - b.serviceTimeMs!.p99] as const;
    const [a50, a99] = added(viaMod, directMod);
    // The floor: what a bare HTTP/2 relay on the same stack adds, and the proxy's distance to it.
    let floor = "";
    if (relayMod?.serviceTimeMs) {
      const [r50, r99] = added(relayMod, directMod);
      const [d50, d99] = added(viaMod, relayMod);
      floor = `; bare relay (floor) ${signedMs(r50)} ms p50 / ${signedMs(r99)} ms p99; proxy − bare relay ${signedMs(d50)} ms p50 / ${signedMs(d99)} ms p99`;
    }
    out.push({
      target: "proxy-added latency at the moderate rate (service time, through proxy − direct) ≤ +0.10 ms p50 / ≤ +0.40 ms p99",
      measured: `${signedMs(a50)} ms p50 / ${signedMs(a99)} ms p99${floor}`,
      met: a50 <= 0.1 && a99 <= 0.4,
      source: "memstore-proxy-moderate − memstore-direct-moderate",
    });
  } else
    out.push({
      target: "proxy-added latency at the moderate rate ≤ +0.10 ms p50 / ≤ +0.40 ms p99",
      measured: missing("memstore-proxy-moderate", "memstore-direct-moderate"),
      met: null,
      source: "memstore-proxy-moderate − memstore-direct-moderate",
    });
  if (viaMod?.latencyMs) {
    out.push({
      target: "memstore Get through the proxy at the moderate rate, p99 < 1 ms",
      measured: `${fmtMs(viaMod.latencyMs.p99)} ms${clean(viaMod) ? "" : ` (${viaMod.unsent ?? 0} unsent, errors ${JSON.stringify(viaMod.errors)})`}${moderateFloors(rows)}`,
      met: viaMod.latencyMs.p99 < 1 && clean(viaMod),
      source: "memstore-proxy-moderate",
    });
  } else
    out.push({
      target: "memstore Get through the proxy at the moderate rate, p99 < 1 ms",
      measured: missing("memstore-proxy-moderate"),
      met: null,
      source: "memstore-proxy-moderate",
    });
  out.push(
    echoMod?.sendLagP99Ms !== undefined
      ? {
          target: "load generator's own send lag at the moderate rate, p99 ≤ 0.2 ms (against the bare echo)",
          measured: `${fmtMs(echoMod.sendLagP99Ms)} ms${pacerAloneP99Ms !== undefined ? `; the pacer alone, no calls (floor): ${fmtMs(pacerAloneP99Ms)} ms` : ""}`,
          met: echoMod.sendLagP99Ms <= 0.2,
          source: "echo-moderate",
        }
      : { target: "load generator's own send lag at the moderate rate, p99 ≤ 0.2 ms", measured: missing("echo-moderate"), met: null, source: "echo-moderate" },
  );
  return out;
}

/** What the issue 26 targets read beyond the rows: the queue, Session Store and CDC sections of the same run. */
export interface TailTargetSections {
  /** Allocation per call with tracing off and on (bench/alloc/section.ts): what a tracing row's cost is made of. */
  alloc?: AllocRow[];
  /** The tracing rows in paired rounds: the tracing targets read their median cost when present. */
  tracingRounds?: TracingRoundsResult;
  queue?: QueueBenchResult[];
  sessionStore?: SessionStoreResult;
  cdc?: CdcBenchResult[];
}

/**
 * Issue 26's targets (performance round 3), each with prism-load and ghz as the client where the issue asks for
 * both, and beside each the floor measured in the same run that explains a miss: the bare gRPC echo (no SDK, no
 * hop), the bare HTTP/2 relay (the proxy's stack without the proxy), or the row without the backend.
 */
export function checkTailTargets(rows: RowResult[], sections: TailTargetSections = {}): TargetCheck[] {
  const troubles = (r: RowResult) => (clean(r) ? "" : ` (${r.unsent ? `${r.unsent} unsent, ` : ""}errors ${JSON.stringify(r.errors ?? {})})`);
  const missing = (ids: string[]) => `not measured (${ids.filter((id) => !find(rows, id)).join(", ")} missing)`;
  const floorList = (floors: Array<[string, string]>) => {
    const parts = floors.flatMap(([name, id]) => {
      const r = find(rows, id);
      return r?.latencyMs ? [`${name} ${fmtMs(r.latencyMs.p99)} ms`] : [];
    });
    return parts.length ? `; floors, p99: ${parts.join(", ")}` : "";
  };
  /** A p99 limit met by each client's row (prism-load's from the scheduled send, ghz's from the actual send). */
  const p99Both = (target: string, ids: { prismLoad: string; ghz: string }, limitMs: number, floors: Array<[string, string]>): TargetCheck => {
    const a = find(rows, ids.prismLoad);
    const b = find(rows, ids.ghz);
    const source = `${ids.prismLoad}, ${ids.ghz}`;
    if (!a?.latencyMs || !b?.latencyMs) return { target, measured: missing([ids.prismLoad, ids.ghz]), met: null, source };
    const service = a.serviceTimeMs ? ` (service time ${fmtMs(a.serviceTimeMs.p99)} ms)` : "";
    return {
      target,
      measured: `prism-load ${fmtMs(a.latencyMs.p99)} ms${service}${troubles(a)}, ghz ${fmtMs(b.latencyMs.p99)} ms${troubles(b)}${floorList(floors)}`,
      met: a.latencyMs.p99 < limitMs && b.latencyMs.p99 < limitMs && clean(a) && clean(b),
      source,
    };
  };
  const out: TargetCheck[] = [
    p99Both("memstore Get at the moderate rate, direct: p99 < 0.5 ms", { prismLoad: "memstore-direct-moderate", ghz: "memstore-direct-moderate-ghz" }, 0.5, [
      ["bare gRPC echo, prism-load", "echo-moderate"],
      ["bare gRPC echo, ghz", "echo-moderate-ghz"],
    ]),
    p99Both(
      "memstore Get at the moderate rate, through the proxy: p99 < 1 ms",
      { prismLoad: "memstore-proxy-moderate", ghz: "memstore-proxy-moderate-ghz" },
      1,
      [
        ["bare relay, prism-load", "memstore-relay-moderate"],
        ["direct, prism-load", "memstore-direct-moderate"],
        ["direct, ghz", "memstore-direct-moderate-ghz"],
        ["bare gRPC echo, ghz", "echo-moderate-ghz"],
      ],
    ),
  ];
  // Proxy-added latency: prism-load's service times (no scheduled-send wait), ghz's latencies (send → reply).
  const via = find(rows, "memstore-proxy-moderate");
  const direct = find(rows, "memstore-direct-moderate");
  const relay = find(rows, "memstore-relay-moderate");
  const viaGhz = find(rows, "memstore-proxy-moderate-ghz");
  const directGhz = find(rows, "memstore-direct-moderate-ghz");
  const addedTarget = "proxy-added latency at the moderate rate (through proxy − direct): ≤ +0.10 ms p50 / ≤ +0.40 ms p99";
  const addedSource = "memstore-proxy-moderate[-ghz] − memstore-direct-moderate[-ghz]";
  if (via?.serviceTimeMs && direct?.serviceTimeMs && viaGhz?.latencyMs && directGhz?.latencyMs) {
    const pl = [via.serviceTimeMs.p50 - direct.serviceTimeMs.p50, via.serviceTimeMs.p99 - direct.serviceTimeMs.p99];
    const gz = [viaGhz.latencyMs.p50 - directGhz.latencyMs.p50, viaGhz.latencyMs.p99 - directGhz.latencyMs.p99];
    const floor = relay?.serviceTimeMs
      ? `; bare relay (floor), prism-load ${signedMs(relay.serviceTimeMs.p50 - direct.serviceTimeMs.p50)} ms p50 / ${signedMs(relay.serviceTimeMs.p99 - direct.serviceTimeMs.p99)} ms p99`
      : "";
    out.push({
      target: addedTarget,
      measured: `prism-load ${signedMs(pl[0]!)} ms p50 / ${signedMs(pl[1]!)} ms p99, ghz ${signedMs(gz[0]!)} ms p50 / ${signedMs(gz[1]!)} ms p99${floor}`,
      met: [pl, gz].every(([p50, p99]) => p50! <= 0.1 && p99! <= 0.4),
      source: addedSource,
    });
  } else
    out.push({
      target: addedTarget,
      measured: missing(["memstore-proxy-moderate", "memstore-direct-moderate", "memstore-proxy-moderate-ghz", "memstore-direct-moderate-ghz"]),
      met: null,
      source: addedSource,
    });
  out.push(
    p99Both("Redis Get through the proxy at the moderate rate: p99 < 2 ms", { prismLoad: "redis-proxy-moderate", ghz: "redis-proxy-moderate-ghz" }, 2, [
      ["memstore through the proxy, prism-load", "memstore-proxy-moderate"],
      ["memstore through the proxy, ghz", "memstore-proxy-moderate-ghz"],
    ]),
    p99Both("Kafka publish through the proxy at the moderate rate: p99 < 10 ms", { prismLoad: "kafka-proxy-moderate", ghz: "kafka-proxy-moderate-ghz" }, 10, [
      ["kafka direct, prism-load", "kafka-direct-moderate"],
      ["memstore through the proxy, prism-load", "memstore-proxy-moderate"],
    ]),
  );
  // CPU per call over the client's measured window, 64 in flight, with each client (ghz's rows end in -ghz).
  const cpu = (id: string, process: string) => find(rows, id)?.processCpuUsPerCall?.[process];
  const clients = [
    ["prism-load", ""],
    ["ghz", "-ghz"],
  ] as const;
  const cpuTarget = (target: string, id: string, process: string, limitUs: number, floorName: string, floorId: string, floorProcess: string): TargetCheck => {
    const source = `${id}, ${id}-ghz`;
    const parts: string[] = [];
    let met = true;
    for (const [client, suffix] of clients) {
      const v = cpu(id + suffix, process);
      if (v === undefined) return { target, measured: `not measured (${id}${suffix}: no ${process} CPU sampled)`, met: null, source };
      const f = cpu(floorId + suffix, floorProcess);
      parts.push(`${client} ${v.toFixed(0)} µs${f === undefined ? "" : ` (${floorName}, the floor: ${f.toFixed(0)} µs)`}`);
      met &&= v <= limitUs;
    }
    return { target, measured: parts.join("; "), met, source };
  };
  out.push(
    cpuTarget("proxy CPU per forwarded call (memstore Get, 64 in flight) ≤ 40 µs", "memstore-proxy", "proxy", 40, "bare relay", "memstore-relay", "relay"),
    cpuTarget("memstore pattern CPU per call served directly (Get, 64 in flight) ≤ 40 µs", "memstore-direct", "pattern", 40, "bare gRPC echo", "echo", "echo"),
  );
  const throughTarget = "through proxy / direct, memstore Get, 64 in flight ≥ 0.85";
  const throughSource = "memstore-proxy[-ghz] / memstore-direct[-ghz]";
  const through = clients.map(([client, suffix]) => {
    const via = find(rows, `memstore-proxy${suffix}`)?.throughput;
    const direct = find(rows, `memstore-direct${suffix}`)?.throughput;
    const relay = find(rows, `memstore-relay${suffix}`)?.throughput;
    if (!via || !direct) return undefined;
    return { client, ratio: via / direct, floor: relay ? relay / direct : undefined };
  });
  out.push(
    through.every((t) => t !== undefined)
      ? {
          target: throughTarget,
          measured: through
            .map((t) => `${t!.client} ${t!.ratio.toFixed(2)}${t!.floor === undefined ? "" : ` (bare relay / direct, the floor: ${t!.floor.toFixed(2)})`}`)
            .join("; "),
          met: through.every((t) => t!.ratio >= 0.85),
          source: throughSource,
        }
      : {
          target: throughTarget,
          measured: missing(["memstore-proxy", "memstore-direct", "memstore-proxy-ghz", "memstore-direct-ghz"]),
          met: null,
          source: throughSource,
        },
  );
  const proxy = find(rows, "memstore-proxy");
  for (const [target, id, maxCost] of [
    ["tracing on, parentbased_traceidratio 0.01: costs ≤ 5 % of throughput", "memstore-proxy-traced-ratio", 0.05],
    ["tracing on, always on (every call sampled and exported): costs ≤ 25 % of throughput", "memstore-proxy-traced", 0.25],
  ] as const) {
    const traced = find(rows, id);
    const variant = id === "memstore-proxy-traced" ? "always" : "ratio";
    const allocated = (["proxy", "memstore"] as const).flatMap((p) => {
      const added = sections.alloc && tracingAdds(sections.alloc, p, variant === "always" ? "always_on" : "ratio");
      return added === undefined ? [] : [`${p} +${Math.round(added.bytes).toLocaleString("en-US")} B`];
    });
    const allocation = allocated.length
      ? `; heap allocated per call, added by tracing${variant === "always" ? " (spans recorded, not exported)" : ""}: ${allocated.join(", ")}`
      : "";
    // Paired rounds when the run has them: one pair read across rows measured half a minute apart drifts.
    const paired = sections.tracingRounds && pairedCost(sections.tracingRounds, variant);
    if (paired) {
      const cpu = (["proxy", "pattern"] as const).flatMap((p) => {
        const c = pairedCpu(sections.tracingRounds!, variant, p);
        return c ? [`${p} ×${c.median.toFixed(2)}`] : [];
      });
      const single = traced && proxy ? `; the single pair in the table above: ${pct(1 - traced.throughput! / proxy.throughput!)}` : "";
      out.push({
        target,
        measured: `${pct(paired.median)}, median of ${paired.each.length} paired rounds (${pct(paired.min)} – ${pct(paired.max)})${cpu.length ? `; CPU per call traced / off ${cpu.join(", ")}` : ""}${allocation}${single}`,
        met: paired.median <= maxCost,
        source: `${id} / memstore-proxy, paired rounds (bench/tracing_rounds.ts)`,
      });
      continue;
    }
    if (!traced || !proxy) {
      out.push({ target, measured: missing([id, "memstore-proxy"]), met: null, source: `${id} / memstore-proxy` });
      continue;
    }
    const cost = 1 - traced.throughput! / proxy.throughput!;
    const cpu = (["proxy", "pattern"] as const).flatMap((p) => {
      const on = traced.processCpuUsPerCall?.[p];
      const off = proxy.processCpuUsPerCall?.[p];
      return on === undefined || off === undefined ? [] : [`${p} ${on.toFixed(0)} vs ${off.toFixed(0)} µs`];
    });
    out.push({
      target,
      measured: `${pct(cost)} (${Math.round(traced.throughput!).toLocaleString("en-US")} vs ${Math.round(proxy.throughput!).toLocaleString("en-US")} calls/s)${cpu.length ? `; CPU per call ${cpu.join(", ")}` : ""}${allocation}`,
      met: cost <= maxCost,
      source: `${id} / memstore-proxy`,
    });
  }
  out.push(...sectionTargets(sections));
  return out;
}

/** Item 4 of issue 26: the new patterns' rows meet their own issues' targets (queue 21, Session Store 22, CDC 23). */
function sectionTargets({ queue, sessionStore, cdc }: TailTargetSections): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const backend of ["kafka", "nats"]) {
    const target = `queue over ${backend} through the proxy (issue 21): consume+ack ≥ 10,000 msg/s, publish → delivery p99 < 20 ms at 1,000/s`;
    const r = queue?.find((x) => x.backend === backend && x.via === "proxy");
    if (!r || r.reason) {
      out.push({ target, measured: `not measured (${r?.reason ?? "no queue section"})`, met: null, source: "queue" });
      continue;
    }
    const lost = r.latency.sent - r.latency.delivered;
    // The floor: the same queue served directly, no proxy, in the same run.
    const direct = queue?.find((x) => x.backend === backend && x.via === "direct" && !x.reason);
    const floor = direct ? `; served directly (the floor): p99 ${direct.latency.p99Ms} ms` : "";
    out.push({
      target,
      measured: `${r.consumeAckPerS.toLocaleString("en-US")} msg/s; p99 ${r.latency.p99Ms} ms at ${r.latency.rate}/s${lost > 0 ? `; ${lost} not delivered` : ""}${floor}${r.latency.cpu ? `; machine CPU busy while paced ${pacedCpuText(r.latency.cpu)} cores (bench client in brackets)` : ""}`,
      met: r.consumeAckPerS >= 10_000 && r.latency.rate >= 1000 && r.latency.p99Ms < 20 && lost === 0,
      source: "queue",
    });
  }
  const paced = sessionStore?.rows.find((x) => x.mode.startsWith("paced"));
  const sessionTarget = "Session Store GetSession through the proxy on Redis shards (issue 22): p99 < 5 ms at 1,000/s";
  out.push(
    paced && sessionStore?.shards.startsWith("redis")
      ? {
          target: sessionTarget,
          measured: `${paced.p99Ms} ms (${paced.mode}, ${paced.errors} errors)`,
          met: paced.errors === 0 && paced.p99Ms < 5,
          source: "session-store",
        }
      : { target: sessionTarget, measured: `not measured (${sessionStore?.reason ?? "no Session Store section"})`, met: null, source: "session-store" },
  );
  const kafka = cdc?.find((x) => x.sink === "kafka");
  const cdcTarget = "CDC into Kafka (issue 23): ≥ 10,000 changes/s sustained";
  out.push(
    kafka && !kafka.reason
      ? {
          target: cdcTarget,
          measured: `${Math.round(kafka.sustainedPerS).toLocaleString("en-US")} changes/s (${kafka.sustainedRows.toLocaleString("en-US")} rows)`,
          met: kafka.sustainedPerS >= 10_000,
          source: "cdc",
        }
      : { target: cdcTarget, measured: `not measured (${kafka?.reason ?? "no CDC section"})`, met: null, source: "cdc" },
  );
  return out;
}

const processCpu = (r: RowResult) =>
  r.processCpuUsPerCall
    ? Object.entries(r.processCpuUsPerCall)
        .map(([name, us]) => `${name} ${us.toFixed(0)}`)
        .join(" · ")
    : "–";

function rowTable(rows: RowResult[]): string[] {
  const lines = [
    "| row | ops/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | relay CPU µs/call | CPU µs/call per process (measured window) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
  ];
  for (const r of rows) {
    if (r.status !== "ok" || !r.latencyMs) {
      lines.push(`| ${r.label} | ${r.status} (${r.reason ?? ""}) | | | | | | | | |`);
      continue;
    }
    const l = r.latencyMs;
    const errs = Object.entries(r.errors ?? {}).map(([c, n]) => `${c} ${n}`);
    if (r.unsent) errs.push(`${r.unsent} unsent`);
    lines.push(
      `| ${r.label} | ${Math.round(r.throughput!).toLocaleString("en-US")} | ${fmtMs(l.p50)} | ${fmtMs(l.p90)} | ${fmtMs(l.p99)} | ${fmtMs(l.p999)} | ${fmtMs(l.max)} | ${errs.join(", ") || "0"} | ${r.cpuUsPerCall === undefined ? "–" : r.cpuUsPerCall.toFixed(0)} | ${processCpu(r)} |`,
    );
  }
  return lines;
}

const mb = (n: number) => (n / 1e6).toFixed(1);

/** The whole run as Markdown: what README and bench/README.md show. */
export function toMarkdown(b: BenchResults): string {
  const s = b.settings;
  const closed = b.rows.filter((r) => r.mode === "closed-loop");
  const open = b.rows.filter((r) => r.mode === "open-loop");
  const out: string[] = [
    `Measured by \`${b.command}\` on ${b.startedAt.slice(0, 16).replace("T", " ")} UTC: ${b.machine.cpus} cores (${b.machine.cpuModel}), ${b.machine.memoryGiB} GiB, Bun ${b.machine.bun}; load average ${b.machine.loadAverageAtStart.map((x) => x.toFixed(1)).join(" ")} at start (a shared machine: figures move between runs). Client, proxy, pattern and backend all on this machine.`,
    "",
    `**Side by side**: closed loop, ${s.concurrency} calls in flight on one connection, ${s.valueSize}-byte values over ${s.keys} keys (Get; Publish for NATS and Kafka), ${s.durationS} s each after ${s.warmupS} s warm-up. redis-benchmark: ${s.concurrency} connections, one request each (it reports no p90 or p99.9: –).`,
    "",
    ...rowTable(closed),
    ...(closed.some((r) => r.client === "ghz")
      ? [
          `- (ghz) rows: the same set-up with ghz (Go, grpc-go; bench/ghz.ts) as the client instead of prism-load: ${s.concurrency} workers on one connection, each sending its next call when the last is answered; the calls sent in the first ${s.warmupS} s left out; keys pre-loaded by prism-load.`,
        ]
      : []),
    "",
    `**At moderate load**: open loop at ${s.moderateRps} req/s (≤ ${s.concurrency} in flight), latency measured from each call's scheduled send time (coordinated omission corrected). It includes the generator's own send lag (its thread not running when a send is due, on these two shared cores); service time and send lag are listed under the table.`,
    "",
    ...rowTable(open),
    ...open
      .filter((r) => r.sendLagP99Ms !== undefined && r.serviceTimeMs)
      .map(
        (r) =>
          `- ${r.label}: service time (send → reply) p50 ${fmtMs(r.serviceTimeMs!.p50)} ms, p99 ${fmtMs(r.serviceTimeMs!.p99)} ms; send lag p99 ${fmtMs(r.sendLagP99Ms!)} ms`,
      ),
    ...(open.some((r) => r.client === "ghz")
      ? [
          `- (ghz) rows: the same set-up with ghz (Go, grpc-go; bench/ghz.ts) as the client instead of prism-load: ${s.concurrency} workers on one connection sharing a ${s.moderateRps}/s rate limiter, the warm-up's calls left out (--skipFirst), each call timed from its actual send (ghz does not correct for coordinated omission: compare it with prism-load's service time); keys pre-loaded by prism-load.`,
        ]
      : []),
    "",
    "**Headline ratios**",
    "",
    "| ratio | value |",
    "| --- | ---: |",
    ...b.ratios.map((r) => `| ${r.name} | ${r.value === null ? "n/a" : r.value.toFixed(2)} |`),
    "",
    "**Seed 002 targets**",
    "",
    "| target | measured | met |",
    "| --- | --- | --- |",
    ...b.targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met === null ? "not measured" : t.met ? "yes" : "**no**"} |`),
    ...(b.proxyTargets
      ? [
          "",
          "**Proxy hop targets** (issue 12; relay CPU = the proxy's or bare relay's process CPU per call relayed)",
          "",
          "| target | measured | met |",
          "| --- | --- | --- |",
          ...b.proxyTargets.map((t) => `| ${t.target} | ${t.measured} | ${t.met === null ? "not measured" : t.met ? "yes" : "**no**"} |`),
        ]
      : []),
    ...(b.tailTargets
      ? [
          "",
          "**Latency tail and CPU targets** (issue 26; prism-load and ghz as the client, at the moderate rate and at 64 in flight; CPU per call = the process's user + system time over the client's measured window / calls completed in it; a floor is the same measure on a set-up without the part under test)",
          "",
          "| target | measured | met |",
          "| --- | --- | --- |",
          ...b.tailTargets.map((t) => `| ${t.target} | ${t.measured} | ${t.met === null ? "not measured" : t.met ? "yes" : "**no**"} |`),
        ]
      : []),
    ...(b.gcPauses && b.gcPauses.length > 0
      ? [
          "",
          `**Garbage-collector pauses at ${s.moderateRps}/s** (the profile behind the latency tail; bench/gc_pauses.ts: prism-load open loop at ${s.moderateRps}/s, ${s.durationS} s after ${s.warmupS} s warm-up, with \`BUN_JSC_logGC=1\` on every process and each process's stderr read apart; a pause is one of JavaScriptCore's stop-the-world stops, during which that thread runs nothing, counted when it ends within prism-load's measured window; process CPU = the process's user + system time over the window per second, all its threads (collector helpers, JIT, Workers: ″) together)`,
          "",
          gcPausesMarkdown(b.gcPauses).trimEnd(),
        ]
      : []),
    ...(b.tracingRounds
      ? [
          "",
          `**Tracing in paired rounds** (bench/tracing_rounds.ts: memstore through the proxy with tracing off, at a ratio and always on, back to back in each round, the order reversed every other round${b.tracingRounds.warmS ? `; each set-up started once and warmed under load for ${b.tracingRounds.warmS} s before the first round` : ""}, ${b.tracingRounds.durationS} s each after ${s.warmupS} s warm-up; cost = 1 − traced / off calls/s of the same round; the tracing targets read the median)`,
          "",
          tracingRoundsMarkdown(b.tracingRounds).trimEnd(),
        ]
      : []),
    ...(b.alloc && b.alloc.length > 0
      ? [
          "",
          "**Allocation per call** (bench/alloc/section.ts: JavaScript heap bytes and cells allocated per Get, counted with the collector off, the server run from its sources with bench/alloc/probe.ts preloaded; median of 3 rounds; a count, not a timing, so the load on the machine does not move it. The pattern gets the traceparent the proxy would send it)",
          "",
          allocMarkdown(b.alloc).trimEnd(),
        ]
      : []),
    "",
    `**Start-up and graceful shutdown** (${s.lifecycleRuns} runs each, round-robin; start-up = spawn → "listening" line, shutdown = SIGTERM → exit)`,
    "",
    "| executable | start-up median ms | p90 | max | shutdown median ms | max | exit codes |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ...b.lifecycle.map(
      (l) =>
        `| ${l.name} | ${Math.round(l.startupMs.median)} | ${Math.round(l.startupMs.p90)} | ${Math.round(l.startupMs.max)} | ${Math.round(l.shutdownMs.median)} | ${Math.round(l.shutdownMs.max)} | ${l.exitCodes.join(", ")} |`,
    ),
    ...b.lifecycleNotRun.map((l) => `| ${l.name} | not run (${l.reason}) | | | | | |`),
    ...(b.shutdownUnderLoad.length
      ? [
          "",
          `Graceful shutdown with ${s.concurrency} calls in flight (prism-load running; SIGTERM after 1.5 s):`,
          "",
          "| executable | SIGTERM → exit ms | exit code | calls the client completed | client errors by code (calls sent after SIGTERM are refused UNAVAILABLE) |",
          "| --- | ---: | --- | ---: | --- |",
          ...b.shutdownUnderLoad.map(
            (u) =>
              `| ${u.name} | ${Math.round(u.shutdownMs)} | ${u.exitCode} | ${u.clientOk.toLocaleString("en-US")} | ${
                Object.entries(u.clientErrors)
                  .map(([c, n]) => `${c} ${n}`)
                  .join(", ") || "none"
              } |`,
          ),
        ]
      : []),
    "",
    "**Executables** (`bun build --compile`; the Bun runtime is most of each file, the embedded program is the rest)",
    "",
    "| executable | file MB | embedded program MB | JavaScript bundle MB | bytecode | minify |",
    "| --- | ---: | ---: | ---: | --- | --- |",
    ...b.sizes.map(
      (z) =>
        `| ${z.name} | ${mb(z.executableBytes)} | ${mb(z.embeddedBytes)} | ${mb(z.bundleBytes)} | ${z.bytecode ? "yes" : "no"} | ${z.minify ? "yes" : "no"} |`,
    ),
  ];
  /** A measured section after the tables: its bold title with how it was measured, then its table. */
  const section = (title: string, markdown: string) => out.push("", title, "", markdown.trimEnd());
  if (b.buildVariants) {
    out.push(
      "",
      `**Build options** (memstore built four ways by scripts/build.ts, ${s.lifecycleRuns} start-ups each, round-robin)`,
      "",
      "| build | start-up median ms | p90 | embedded program MB |",
      "| --- | ---: | ---: | ---: |",
      ...b.buildVariants.map((v) => `| ${v.variant} | ${Math.round(v.startupMs.median)} | ${Math.round(v.startupMs.p90)} | ${mb(v.embeddedBytes)} |`),
    );
  }
  if (b.multicastScale && b.multicastScale.length > 0) {
    section(
      "**Multicast Registry at scale** (bench/multicast_scale.ts: identities registered with 64 in flight, one Subscribe stream each over 50 connections, then one multicast to all and one to a filtered tenth; latency = multicast sent → message received, per delivery; lost = delivered_count − distinct subscribers that received it)",
      multicastScaleMarkdown(b.multicastScale),
    );
  }
  if (b.streamRead && b.streamRead.length > 0) {
    section(
      "**Stream Read of 8,690 records** (bench/stream_read.ts: 100-byte records appended, then one non-following Read of the whole stream, directly, best of 3; memstore is the in-process reference for the SDK's streaming cost)",
      streamReadMarkdown(b.streamRead),
    );
  }
  if (b.largeValue && b.largeValue.length > 0) {
    section(
      "**One large value through the proxy** (bench/large_value.ts: StoreStream in 1 MiB messages, then RetrieveStream, checked by SHA-256; stored chunked by the SDK; peak RSS = VmHWM of the proxy and the pattern it launched; memstore keeps the value in its own memory)",
      largeValueMarkdown(b.largeValue),
    );
  }
  if (b.cdc && b.cdc.length > 0) {
    section(
      "**Change Data Capture** (bench/cdc.ts: dist/cdc on a table of its own, Kafka sink of one partition; single-row transactions paced at the moderate rate — commit → sink acknowledged from the pattern's histogram, as bucket bounds, and commit → read back through Subscribe; then 1,000-row transactions as fast as one connection commits, changes/s until the sink acknowledged the last, and the pattern's CPU time per change over that span)",
      cdcMarkdown(b.cdc),
    );
  }
  if (b.sessionStore) {
    const d = Math.round(b.sessionStore.durationMs / 100) / 10;
    section(
      `**Session Store** (bench/session_store.ts: CreateSession / GetSession / UpdateSession through dist/proxy on ${b.sessionStore.shards} shards (redis-servers of its own), ${d} s per row, 2,000 sessions of a 64-byte attribute; replication lag = an update in one region until the other serves its version, updates one after another, two dist/session-store regions on those servers)`,
      sessionStoreMarkdown(b.sessionStore),
    );
  }
  if (b.queue && b.queue.length > 0) {
    const q = b.queue.find((r) => !r.reason) ?? b.queue[0]!;
    section(
      `**Producer/Consumer** (bench/queue_throughput.ts: dist/queue per backend, direct and through dist/proxy; ${q.messages} messages of 100 bytes published in batches of 100 (4 in flight), then drained by ${q.consumers} consumers of one group acking in batches; then single publishes paced at the moderate rate, publish → delivery measured in the client; CPU busy while paced = the machine's user + system time over the paced phase (/proc/stat, every process on it) in cores, and in brackets the bench client's own)`,
      queueMarkdown(b.queue),
    );
  }
  return out.join("\n") + "\n";
}
