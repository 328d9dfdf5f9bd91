// make bench: everything side by side on this machine, in one run.
//   bun bench/run.ts [--duration 5s] [--warmup 1s] [--concurrency 64] [--rps 1000]
//                    [--runs 10] [--only id,id] [--no-variants] [--mc-identities 10000] [--out bench/results]
//                    [--tracing-rounds 5] [--tracing-duration 3s] [--tracing-warmup 20s]
// Writes <out>/latest.json, latest.md and latest.svg; prints the Markdown.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem, type } from "node:os";
import { parseArgs } from "node:util";
import { parseDuration } from "../sdk/config/schema";
import type { BuildRecord } from "../scripts/build";
import { ROOT } from "../tests/helpers/process";
import type { ServiceName } from "../tests/helpers/services";
import { measureBuildVariants } from "./build_variants";
import { type CdcBenchResult, measureCdc } from "./cdc";
import { renderChart } from "./chart";
import { measureAllocSection, type AllocRow } from "./alloc/section";
import { measureGcPauses, type GcPauseResult } from "./gc_pauses";
import { measureLifecycles } from "./lifecycle_times";
import { measureMulticastScale, type MulticastScaleResult } from "./multicast_scale";
import { BUN, dist, missingExecutable, startPattern, startProxy } from "./processes";
import { redisBenchmark } from "./redis_benchmark";
import { benchRows, runRow, startRow, whyNot } from "./rows";
import { measureTracingRounds, TRACING_ROUND_ROWS, type TracingRoundsResult } from "./tracing_rounds";
import { shutdownUnderLoad } from "./shutdown_under_load";
import { measureQueue, type QueueBenchResult } from "./queue_throughput";
import { measureSessionStore, type SessionStoreResult } from "./session_store";
import { measureStreamRead, type StreamReadResult } from "./stream_read";
import { type LargeValueResult, measureLargeValue } from "./large_value";
import { checkProxyTargets, checkTailTargets, checkTargets, computeRatios, toMarkdown, type BenchResults, type RowResult, type SizeRow } from "./results";

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "5s" },
    warmup: { type: "string", default: "1s" },
    concurrency: { type: "string", default: "64" },
    rps: { type: "string", default: "1000" },
    runs: { type: "string", default: "10" },
    only: { type: "string" },
    "no-variants": { type: "boolean", default: false },
    "mc-identities": { type: "string", default: "10000" },
    "large-mib": { type: "string", default: "100" },
    "session-updates": { type: "string", default: "200" },
    "tracing-rounds": { type: "string", default: "5" },
    "tracing-duration": { type: "string", default: "3s" },
    "tracing-warmup": { type: "string", default: "20s" },
    out: { type: "string", default: `${ROOT}/bench/results` },
  },
});
const settings = {
  durationS: parseDuration(flags.duration)! / 1000,
  warmupS: parseDuration(flags.warmup)! / 1000,
  concurrency: Number(flags.concurrency),
  moderateRps: Number(flags.rps),
  valueSize: 100,
  keys: 1000,
  lifecycleRuns: Number(flags.runs),
};
const only = flags.only ? new Set(flags.only.split(",")) : undefined;
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

async function runRedisBenchmark(): Promise<{ row: RowResult; raw: BenchResults["redisBenchmark"] }> {
  const row: RowResult = {
    id: "redis-benchmark",
    label: "redis-benchmark GET (ceiling)",
    backend: "redis",
    via: "redis-benchmark",
    operation: "get",
    mode: "closed-loop",
    concurrency: settings.concurrency,
    rps: null,
    status: "not run",
  };
  if (!Bun.which("redis-benchmark")) return { row: { ...row, reason: "redis-benchmark not installed (make services installs Redis)" }, raw: null };
  const reason = await whyNot({ service: "redis", executables: [] });
  if (reason) return { row: { ...row, reason }, raw: null };
  try {
    const raw = await redisBenchmark({
      host: "127.0.0.1",
      port: 6379,
      clients: settings.concurrency,
      requests: Math.max(50_000, settings.durationS * 40_000),
      valueSize: settings.valueSize,
      keys: settings.keys,
    });
    const l = raw.latencyMs;
    return {
      row: {
        ...row,
        status: "ok",
        command: raw.command,
        throughput: raw.throughput,
        errors: {},
        latencyMs: { p50: l.p50, p90: null, p99: l.p99, p999: null, max: l.max, mean: l.avg },
      },
      raw,
    };
  } catch (err) {
    return { row: { ...row, status: "failed", reason: (err as Error).message.slice(0, 300) }, raw: null };
  }
}

async function lifecycleTargets() {
  const targets: Array<{ name: string; cmd: string[]; ready: RegExp }> = [];
  const notRun: Array<{ name: string; reason: string }> = [];
  const patterns: Array<[string, ServiceName | undefined]> = [
    ["memstore", undefined],
    ["redis", "redis"],
    ["nats", "nats"],
    ["kafka", "kafka"],
  ];
  for (const [name, service] of patterns) {
    const reason = await whyNot({ service, executables: [name] });
    if (reason) {
      notRun.push({ name, reason });
      continue;
    }
    const config = `bench/configs/${name}.yaml`;
    targets.push({ name, cmd: [dist(name), "--grpc-port", "0", ...(existsSync(`${ROOT}/${config}`) ? ["--config", config] : [])], ready: /grpc listening on/ });
  }
  const proxyReason = missingExecutable("proxy", "memstore");
  if (proxyReason) notRun.push({ name: "proxy", reason: proxyReason });
  else targets.push({ name: "proxy", cmd: [dist("proxy"), "--config", "bench/configs/proxy-memstore.yaml"], ready: /prism proxy listening on/ });
  return { targets, notRun };
}

function sizes(): SizeRow[] {
  return readdirSync(`${ROOT}/dist`)
    .filter((f) => f.endsWith(".meta.json"))
    .map((f) => JSON.parse(readFileSync(`${ROOT}/dist/${f}`, "utf8")) as BuildRecord)
    .map(({ name, executableBytes, embeddedBytes, bundleBytes, bytecode, minify }) => ({
      name,
      executableBytes,
      embeddedBytes,
      bundleBytes,
      bytecode,
      minify,
    }));
}

/**
 * Rewrites the section of a README between its markers with this run (only for the default output folder).
 * `chart` is the chart's path relative to that README.
 */
function updateReadme(file: string, markdown: string, outDir: string, chart: string): void {
  if (outDir !== `${ROOT}/bench/results` || !existsSync(file)) return;
  const text = readFileSync(file, "utf8");
  const begin = "<!-- bench:begin -->";
  const end = "<!-- bench:end -->";
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return;
  const section = `${begin}\n![latency and throughput, side by side](${chart})\n\n${markdown}${end}`;
  writeFileSync(file, text.slice(0, a) + section + text.slice(b + end.length));
}

const started = performance.now();
const startedAt = new Date().toISOString();
const loadAtStart = loadavg();
const rows: RowResult[] = [];
for (const spec of benchRows(settings)) {
  if (only && !only.has(spec.id)) continue;
  log(`${spec.label} ...`);
  const r = await runRow(spec, settings);
  rows.push(r);
  log(r.status === "ok" ? `  ${Math.round(r.throughput!)} ops/s, p50 ${r.latencyMs!.p50} ms, p99 ${r.latencyMs!.p99} ms` : `  ${r.status}: ${r.reason}`);
}
let redisRaw: BenchResults["redisBenchmark"] = null;
if (!only || only.has("redis-benchmark")) {
  log("redis-benchmark ...");
  const { row, raw } = await runRedisBenchmark();
  redisRaw = raw;
  // Shown right under the Redis rows.
  const at = rows.findLastIndex((r) => r.backend === "redis" && r.mode === "closed-loop");
  rows.splice(at + 1, 0, row);
}
// The profile of the latency tail: each process's garbage-collector pauses at the moderate rate.
let gcPauses: GcPauseResult[] | undefined;
if (!only || only.has("gc-pauses")) gcPauses = await measureGcPauses(settings, log);
// What tracing costs, in paired rounds of the three tracing rows: read across the side-by-side table, one pair per
// run, the cost at a ratio was 16.4 % in one run and 29.2 % in the next.
let tracingRounds: TracingRoundsResult | undefined;
if (!only || only.has("tracing-rounds")) {
  const rounds = Number(flags["tracing-rounds"]);
  log(`tracing off / at a ratio / always on through the proxy, ${rounds} paired rounds of ${flags["tracing-duration"]} ...`);
  const specs = benchRows(settings).filter((s) => (Object.values(TRACING_ROUND_ROWS) as string[]).includes(s.id));
  const short = { ...settings, durationS: parseDuration(flags["tracing-duration"]!)! / 1000 };
  const warmS = parseDuration(flags["tracing-warmup"]!)! / 1000;
  tracingRounds = await measureTracingRounds(specs, short, rounds, warmS, startRow, log);
}
// What each call allocates, tracing off and on: the count behind the CPU and tracing rows.
let alloc: AllocRow[] | undefined;
if (!only || only.has("alloc")) alloc = await measureAllocSection(log);
// The generator's floor: its pacer alone at 1 kHz, no calls (bench/pacer_lag.ts), median p99 of three runs.
let pacerAloneP99Ms: number | undefined;
if (!only || only.has("pacer")) {
  log("the pacer alone (bench/pacer_lag.ts) × 3 ...");
  const p99s: number[] = [];
  for (let i = 0; i < 3; i++) {
    const out = Bun.spawnSync([BUN, `${ROOT}/bench/pacer_lag.ts`]).stdout.toString();
    const m = out.match(/ p99 ([0-9.]+) /);
    if (m) p99s.push(Number(m[1]));
  }
  if (p99s.length > 0) pacerAloneP99Ms = p99s.sort((a, b) => a - b)[Math.floor(p99s.length / 2)];
}
let lifecycle: BenchResults["lifecycle"] = [];
let lifecycleNotRun: BenchResults["lifecycleNotRun"] = [];
const underLoad: BenchResults["shutdownUnderLoad"] = [];
if (!only || only.has("lifecycle")) {
  const { targets, notRun } = await lifecycleTargets();
  log(`start-up and shutdown: ${targets.map((t) => t.name).join(", ")} × ${settings.lifecycleRuns} ...`);
  lifecycle = await measureLifecycles(targets, settings.lifecycleRuns);
  lifecycleNotRun = notRun;
  for (const [name, start] of [
    ["memstore", () => startPattern("memstore")],
    ["proxy", () => startProxy("memstore")],
  ] as const) {
    if (missingExecutable(name, "memstore", "prism-load")) continue;
    log(`graceful shutdown of ${name} under load ...`);
    underLoad.push(await shutdownUnderLoad(name, start, settings.concurrency));
  }
}
let buildVariants: BenchResults["buildVariants"] = null;
if (!flags["no-variants"] && (!only || only.has("variants"))) {
  log("memstore built four ways (bytecode × minify), start-up of each ...");
  buildVariants = await measureBuildVariants(settings.lifecycleRuns);
}
const multicastScale: MulticastScaleResult[] = [];
if ((!only || only.has("multicast-scale")) && !missingExecutable("multicast-registry")) {
  for (const slots of ["memstore", "redis-nats"] as const) {
    log(`multicast registry at scale (${slots}, ${flags["mc-identities"]} identities) ...`);
    multicastScale.push(await measureMulticastScale(slots, Number(flags["mc-identities"]), 50, (s) => log(s)));
  }
}

const streamRead: StreamReadResult[] = [];
if (!only || only.has("stream-read")) {
  for (const backend of ["memstore", "nats", "redis"] as const) {
    if (missingExecutable(backend)) continue;
    const reason = backend === "memstore" ? undefined : await whyNot({ service: backend, executables: [backend] });
    if (reason) {
      streamRead.push({ backend, records: 0, bestMs: Number.NaN, roundsMs: [], reason });
      continue;
    }
    log(`stream Read of 8,690 records (${backend}) ...`);
    streamRead.push(await measureStreamRead(backend));
  }
}

const largeValue: LargeValueResult[] = [];
if (!only || only.has("large-value")) {
  const bytes = Number(flags["large-mib"]) * 1024 * 1024;
  const backends = [
    { backend: "memstore", executable: "memstore" },
    { backend: "redis", executable: "redis", service: "redis" },
    { backend: "postgres", executable: "postgres", service: "postgres" },
    { backend: "nats-kv", executable: "nats", service: "nats" },
  ] as const;
  for (const b of backends) {
    const reason = await whyNot({ service: "service" in b ? b.service : undefined, executables: [b.executable, "proxy"] });
    const empty = { backend: b.backend, bytes, storeMs: Number.NaN, retrieveMs: Number.NaN, peakRssMiB: [0, 0], startRssMiB: [0, 0] } as LargeValueResult;
    if (reason) {
      largeValue.push({ ...empty, reason });
      continue;
    }
    log(`one ${flags["large-mib"]} MiB value through the proxy (${b.backend}) ...`);
    largeValue.push(await measureLargeValue(b.backend, bytes, (s) => log(s)).catch((err) => ({ ...empty, reason: (err as Error).message.slice(0, 200) })));
  }
}

// Change Data Capture (issue 23): commit -> sink latency at the moderate rate, sustained changes/s into Kafka.
const cdc: CdcBenchResult[] = [];
if (!only || only.has("cdc")) {
  const reason = (await whyNot({ service: "postgres", executables: ["cdc"] })) ?? (await whyNot({ service: "kafka", executables: [] }));
  const rowsCaptured = Math.max(10_000, Math.round(settings.durationS * 10_000));
  const empty = {
    pacedChanges: 0,
    pacedRate: 0,
    commitToSinkP50Ms: null,
    commitToSinkP99Ms: null,
    readBackP50Ms: 0,
    readBackP99Ms: 0,
    sustainedRows: 0,
    sustainedPerS: 0,
    cpuUsPerChange: 0,
  };
  if (reason) cdc.push({ sink: "kafka", ...empty, reason });
  else {
    log(`cdc into Kafka: ${settings.moderateRps} changes/s paced for ${settings.durationS} s, then ${rowsCaptured} rows sustained ...`);
    try {
      cdc.push(
        await measureCdc({ seconds: settings.durationS, rate: settings.moderateRps, rows: rowsCaptured, inFlight: 512, sink: "kafka", executable: "cdc" }),
      );
    } catch (err) {
      cdc.push({ sink: "kafka", ...empty, reason: (err as Error).message.split("\n")[0]!.slice(0, 300) });
    }
  }
}

let sessionStore: SessionStoreResult | undefined;
if (!only || only.has("session-store")) {
  const reason = missingExecutable("session-store", "proxy");
  if (reason) sessionStore = { shards: "redis x3", durationMs: settings.durationS * 1000, rows: [], replicationLag: [], reason };
  else {
    log("Session Store through the proxy on three redis-servers of its own, then replication lag over NATS JetStream and Redis Streams ...");
    sessionStore = await measureSessionStore(
      {
        shards: "redis",
        durationMs: settings.durationS * 1000,
        concurrency: settings.concurrency,
        rate: settings.moderateRps,
        sessions: 2000,
        replicationUpdates: Number(flags["session-updates"]),
        replicationDrivers: ["nats", "redis"],
      },
      log,
    );
  }
}

// Producer/Consumer (issue 21): publish and consume+ack throughput, publish → delivery latency at the moderate rate,
// per backend, direct and through the proxy.
const queue: QueueBenchResult[] = [];
if (!only || only.has("queue")) {
  const backends = [
    { backend: "memstore", service: undefined },
    { backend: "redis", service: "redis" },
    { backend: "postgres", service: "postgres" },
    { backend: "nats", service: "nats" },
    { backend: "kafka", service: "kafka" },
  ] as const;
  const messages = Math.max(2_000, Math.round(settings.durationS * 4_000));
  for (const { backend, service } of backends) {
    for (const via of ["direct", "proxy"] as const) {
      const o = { backend, via, messages, consumers: 4, rate: settings.moderateRps, seconds: settings.durationS };
      const empty = { ...o, publishPerS: 0, consumeAckPerS: 0, latency: { rate: o.rate, delivered: 0, sent: 0, p50Ms: 0, p99Ms: 0 } };
      const reason = await whyNot({ service, executables: via === "proxy" ? ["queue", "proxy"] : ["queue"] });
      if (reason) {
        queue.push({ ...empty, reason });
        continue;
      }
      log(`queue over ${backend} ${via}: ${messages} messages published then drained, then ${o.rate}/s for ${o.seconds} s ...`);
      queue.push(await measureQueue(o).catch((err) => ({ ...empty, reason: (err as Error).message.split("\n")[0]!.slice(0, 300) })));
    }
  }
}

const results: BenchResults = {
  command: ["make bench", ...(process.argv.length > 2 ? [`(bun bench/run.ts ${process.argv.slice(2).join(" ")})`] : [])].join(" "),
  startedAt,
  elapsedS: (performance.now() - started) / 1000,
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadavg(),
    bun: Bun.version,
    os: type(),
  },
  settings,
  rows,
  redisBenchmark: redisRaw,
  ratios: computeRatios(rows),
  targets: checkTargets(rows, lifecycle, settings.moderateRps, underLoad),
  proxyTargets: checkProxyTargets(rows, pacerAloneP99Ms),
  tailTargets: checkTailTargets(rows, { queue, sessionStore, cdc, alloc, tracingRounds }),
  lifecycle,
  lifecycleNotRun,
  shutdownUnderLoad: underLoad,
  sizes: sizes(),
  buildVariants,
  multicastScale,
  streamRead,
  largeValue,
  cdc,
  sessionStore,
  queue,
  gcPauses,
  alloc,
  tracingRounds,
  pacerAloneP99Ms,
};
const out = flags.out!;
mkdirSync(out, { recursive: true });
const markdown = toMarkdown(results);
writeFileSync(`${out}/latest.json`, JSON.stringify(results, null, 2) + "\n");
writeFileSync(`${out}/latest.md`, markdown);
writeFileSync(`${out}/latest.svg`, await renderChart(rows, `Prism side by side, ${results.machine.cpus}-core machine, ${startedAt.slice(0, 10)}`));
updateReadme(`${ROOT}/bench/README.md`, markdown, out, "results/latest.svg");
process.stdout.write(markdown);
log(`wrote ${out}/latest.json, latest.md, latest.svg in ${results.elapsedS.toFixed(0)} s`);
