// make bench: everything side by side on this machine, in one run.
//   bun bench/run.ts [--duration 5s] [--warmup 1s] [--concurrency 64] [--rps 1000]
//                    [--runs 10] [--only id,id] [--no-variants] [--mc-identities 10000] [--out bench/results]
// Writes <out>/latest.json, latest.md and latest.svg; prints the Markdown.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem, type } from "node:os";
import { parseArgs } from "node:util";
import { parseDuration } from "../sdk/config/schema";
import type { BuildRecord } from "../scripts/build";
import { OtlpCollector } from "../tests/helpers/otlp_collector";
import { ROOT } from "../tests/helpers/process";
import { requireService, type ServiceName } from "../tests/helpers/services";
import { measureBuildVariants } from "./build_variants";
import { renderChart } from "./chart";
import { measureGcPauses, type GcPauseResult } from "./gc_pauses";
import { measureLifecycles } from "./lifecycle_times";
import { measureMulticastScale, type MulticastScaleResult } from "./multicast_scale";
import { prismLoad } from "./load";
import { BUN, cpuSeconds, dist, missingExecutable, startBareRelay, startEcho, startPattern, startProxy, type Server } from "./processes";
import { redisBenchmark } from "./redis_benchmark";
import { startSecuredProxy } from "./secured_proxy";
import { shutdownUnderLoad } from "./shutdown_under_load";
import { measureStreamRead, type StreamReadResult } from "./stream_read";
import { checkProxyTargets, checkTargets, computeRatios, toMarkdown, type BenchResults, type RowResult, type SizeRow } from "./results";

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

/** One row: what serves, what load, what it needs. */
interface RowSpec {
  id: string;
  label: string;
  backend: RowResult["backend"];
  via: "bare" | "direct" | "proxy" | "relay";
  operation: "get" | "publish" | "scan" | "capabilities";
  /** prism-load --service: interface (Set/Get, the default) or pattern (KeyValuePattern). */
  loadService?: "interface" | "pattern";
  rps?: number;
  service?: ServiceName;
  executables: string[];
  start(): Promise<Server>;
}

function rowsToRun(): RowSpec[] {
  const kv = (backend: "memstore" | "redis", service?: ServiceName): RowSpec[] => [
    {
      id: `${backend}-direct`,
      label: `${backend} pattern, direct`,
      backend,
      via: "direct",
      operation: "get",
      service,
      executables: [backend],
      start: () => startPattern(backend),
    },
    {
      id: `${backend}-proxy`,
      label: `${backend} pattern, through proxy`,
      backend,
      via: "proxy",
      operation: "get",
      service,
      executables: [backend, "proxy"],
      start: () => startProxy(backend),
    },
  ];
  const pub = (backend: "nats" | "kafka"): RowSpec[] => [
    {
      id: `${backend}-direct`,
      label: `${backend} publish, direct`,
      backend,
      via: "direct",
      operation: "publish",
      service: backend,
      executables: [backend],
      start: () => startPattern(backend),
    },
    {
      id: `${backend}-proxy`,
      label: `${backend} publish, through proxy`,
      backend,
      via: "proxy",
      operation: "publish",
      service: backend,
      executables: [backend, "proxy"],
      start: () => startProxy(backend),
    },
  ];
  const moderate = (backend: "memstore" | "redis" | "kafka", operation: "get" | "publish", service?: ServiceName): RowSpec => ({
    id: `${backend}-proxy-moderate`,
    label: `${backend} ${operation === "get" ? "Get" : "publish"}, through proxy, ${settings.moderateRps}/s`,
    backend,
    via: "proxy",
    operation,
    rps: settings.moderateRps,
    service,
    executables: [backend, "proxy"],
    start: () => startProxy(backend),
  });
  const rps = settings.moderateRps;
  // The floor of the proxy's stack, and the references the proxy-added latency and the generator's send lag are read from.
  const relay: RowSpec = {
    id: "memstore-relay",
    label: "memstore pattern, through a bare HTTP/2 relay (floor)",
    backend: "memstore",
    via: "relay",
    operation: "get",
    executables: ["memstore"],
    start: () => startBareRelay("memstore"),
  };
  const echoModerate: RowSpec = {
    id: "echo-moderate",
    label: `bare gRPC echo, ${rps}/s (the generator's own send lag)`,
    backend: "echo",
    via: "bare",
    operation: "get",
    rps,
    executables: [],
    start: startEcho,
  };
  const directModerate: RowSpec = {
    id: "memstore-direct-moderate",
    label: `memstore Get, direct, ${rps}/s`,
    backend: "memstore",
    via: "direct",
    operation: "get",
    rps,
    executables: ["memstore"],
    start: () => startPattern("memstore"),
  };
  // The bare relay at the same rate: the floor of the proxy-added latency (relay − direct service time).
  const relayModerate: RowSpec = { ...relay, id: "memstore-relay-moderate", label: `memstore Get, through a bare HTTP/2 relay, ${rps}/s`, rps };
  return [
    { id: "echo", label: "bare gRPC echo (ceiling)", backend: "echo", via: "bare", operation: "get", executables: [], start: startEcho },
    ...kv("memstore"),
    relay,
    {
      id: "memstore-proxy-traced",
      label: "memstore pattern, through proxy, tracing on (OTLP/HTTP)",
      backend: "memstore",
      via: "proxy",
      operation: "get",
      executables: ["memstore", "proxy"],
      start: tracedProxy,
    },
    ...kv("redis", "redis"),
    ...pub("nats"),
    ...pub("kafka"),
    // KeyValuePattern (issue 9): Retrieve beside Get on the same proxy set-up, GetCapabilities, and one scan
    // page native vs emulated over key listing on the same pattern and keys.
    { ...kv("memstore")[1]!, id: "memstore-proxy-retrieve", label: "memstore KeyValuePattern.Retrieve, through proxy", loadService: "pattern" },
    { ...kv("redis", "redis")[1]!, id: "redis-proxy-retrieve", label: "redis KeyValuePattern.Retrieve, through proxy", loadService: "pattern" },
    { ...kv("memstore")[1]!, id: "memstore-proxy-capabilities", label: "memstore KeyValuePattern.GetCapabilities, through proxy", operation: "capabilities" },
    { ...kv("memstore")[0]!, id: "memstore-scan-native", label: "memstore Scan page (100 keys + values), native, direct", operation: "scan" },
    {
      ...kv("memstore")[0]!,
      id: "memstore-scan-emulated",
      label: "memstore Scan page (100 keys + values), emulated over key listing, direct",
      operation: "scan",
      start: () => startPattern("memstore", "memstore-emulated-scan"),
    },
    // Issue 11: the cost of a TLS client listener, and of authentication + authorization (API key, one rule),
    // against memstore-proxy (plaintext, auth off) in the same run.
    { ...kv("memstore")[1]!, id: "memstore-proxy-tls", label: "memstore pattern, through proxy, TLS listener", start: () => startSecuredProxy("tls") },
    {
      ...kv("memstore")[1]!,
      id: "memstore-proxy-auth",
      label: "memstore pattern, through proxy, auth (API key) + authz on",
      start: () => startSecuredProxy("auth"),
    },
    // The two key-value backends of issue 9 that have no direct row: Get through the proxy.
    {
      id: "postgres-proxy",
      label: "postgres pattern, through proxy",
      backend: "postgres",
      via: "proxy",
      operation: "get",
      service: "postgres",
      executables: ["postgres", "proxy"],
      start: () => startProxy("postgres"),
    },
    {
      id: "nats-kv-proxy",
      label: "nats KV Get, through proxy",
      backend: "nats",
      via: "proxy",
      operation: "get",
      service: "nats",
      executables: ["nats", "proxy"],
      start: () => startProxy("nats-kv"),
    },
    echoModerate,
    directModerate,
    relayModerate,
    moderate("memstore", "get"),
    moderate("redis", "get", "redis"),
    moderate("kafka", "publish", "kafka"),
  ];
}

/**
 * The proxy and its memstore with tracing on, every span exported over OTLP/HTTP (protobuf, the default
 * protocol) to a collector stand-in in this process that only counts requests: the cost of tracing as an
 * operator runs it (sampler parentbased_always_on, batch export), against memstore-proxy (tracing off).
 */
async function tracedProxy(): Promise<Server> {
  const collector = await new OtlpCollector(false).start();
  try {
    const server = await startProxy("memstore", {
      args: ["--enable-tracing", "--trace-exporter", "otlp"],
      env: { OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf", OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.httpPort}` },
    });
    return {
      ...server,
      stop: async () => {
        await server.stop();
        log(`memstore-proxy-traced: the collector stand-in received ${collector.requests} OTLP export requests`);
        collector.stop();
      },
    };
  } catch (err) {
    collector.stop();
    throw err;
  }
}

async function whyNot(spec: { service?: ServiceName; executables: string[] }): Promise<string | undefined> {
  const missing = missingExecutable(...spec.executables);
  if (missing) return missing;
  if (spec.service) {
    try {
      await requireService(spec.service);
    } catch (err) {
      return (err as Error).message;
    }
  }
  return undefined;
}

async function runRow(spec: RowSpec): Promise<RowResult> {
  const base: RowResult = {
    id: spec.id,
    label: spec.label,
    backend: spec.backend,
    via: spec.via,
    operation: spec.operation,
    mode: spec.rps ? "open-loop" : "closed-loop",
    concurrency: settings.concurrency,
    rps: spec.rps ?? null,
    status: "not run",
  };
  const reason = await whyNot(spec);
  if (reason) return { ...base, reason };
  let server: Server | undefined;
  try {
    server = await spec.start();
    const args = [
      spec.via === "proxy" ? "--proxy" : "--direct",
      server.address,
      "--operation",
      spec.operation,
      ...(spec.loadService ? ["--service", spec.loadService] : []),
      "--concurrency",
      String(settings.concurrency),
      "--duration",
      `${settings.durationS}s`,
      "--warmup",
      `${settings.warmupS}s`,
      "--value-size",
      String(settings.valueSize),
      "--keys",
      String(settings.keys),
      "--topic",
      "prism-bench",
      ...(spec.rps ? ["--rps", String(spec.rps)] : []),
      ...(server.loadArgs ?? []),
    ];
    // The server's CPU per call it relayed (proxy and bare relay): both counted over the same span, prism-load's whole run.
    const cpu0 = cpuSeconds(server.main.pid);
    const calls0 = await server.calls?.();
    const r = await prismLoad(args);
    const cpu1 = cpuSeconds(server.main.pid);
    const calls1 = await server.calls?.();
    const relayed = calls0 !== undefined && calls1 !== undefined ? calls1 - calls0 : 0;
    return {
      ...base,
      status: "ok",
      command: `prism-load ${args.join(" ")}`,
      throughput: r.throughput,
      ok: r.ok,
      errors: r.errors,
      unsent: r.unsent,
      latencyMs: { p50: r.latencyMs.p50, p90: r.latencyMs.p90, p99: r.latencyMs.p99, p999: r.latencyMs.p999, max: r.latencyMs.max, mean: r.latencyMs.mean },
      sendLagP99Ms: r.sendLagMs?.p99,
      cpuUsPerCall: relayed > 0 ? ((cpu1 - cpu0) / relayed) * 1e6 : undefined,
      serviceTimeMs: spec.rps ? { p50: r.serviceTimeMs.p50, p99: r.serviceTimeMs.p99 } : undefined,
    };
  } catch (err) {
    return { ...base, status: "failed", reason: (err as Error).message.split("\n")[0]!.slice(0, 300) };
  } finally {
    await server?.stop();
  }
}

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
for (const spec of rowsToRun()) {
  if (only && !only.has(spec.id)) continue;
  log(`${spec.label} ...`);
  const r = await runRow(spec);
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
  for (const backend of ["memstore", "nats"] as const) {
    if (missingExecutable(backend)) continue;
    const reason = backend === "nats" ? await whyNot({ service: "nats", executables: ["nats"] }) : undefined;
    if (reason) {
      streamRead.push({ backend, records: 0, bestMs: Number.NaN, roundsMs: [], reason });
      continue;
    }
    log(`stream Read of 8,690 records (${backend}) ...`);
    streamRead.push(await measureStreamRead(backend));
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
  lifecycle,
  lifecycleNotRun,
  shutdownUnderLoad: underLoad,
  sizes: sizes(),
  buildVariants,
  multicastScale,
  streamRead,
  gcPauses,
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
