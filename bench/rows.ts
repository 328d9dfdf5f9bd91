// The rows of `make bench` (bench/run.ts) and of `make bench-compare` (bench/compare.ts): what serves each row,
// what load prism-load puts on it, and what the row needs to run.
import type { ServiceName } from "../tests/helpers/services";
import { requireService } from "../tests/helpers/services";
import { OtlpCollector } from "../tests/helpers/otlp_collector";
import { CpuSampler } from "./gc_pauses";
import { ghzMissing, runGhz, type GhzLoad } from "./ghz";
import { prismLoad } from "./load";
import { cpuSeconds, missingExecutable, startBareRelay, startEcho, startPattern, startProxy, type Server } from "./processes";
import type { RowResult } from "./results";
import { startSecuredProxy } from "./secured_proxy";

/** The load every row gets (bench/run.ts's flags). */
export interface RowSettings {
  durationS: number;
  warmupS: number;
  concurrency: number;
  moderateRps: number;
  valueSize: number;
  keys: number;
}

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

/** One row: what serves, what load, what it needs. */
export interface RowSpec {
  id: string;
  label: string;
  backend: RowResult["backend"];
  via: "bare" | "direct" | "proxy" | "relay";
  operation: "get" | "publish" | "scan" | "capabilities";
  /** prism-load --service: interface (Set/Get, the default) or pattern (KeyValuePattern). */
  loadService?: "interface" | "pattern";
  rps?: number;
  /** The client: prism-load (the default) or ghz (bench/ghz.ts; Get or Publish, at `rps` or in a closed loop). */
  client?: "ghz";
  service?: ServiceName;
  executables: string[];
  start(): Promise<Server>;
}

/** Every row of `make bench`, in the order of its tables. */
export function benchRows(settings: RowSettings): RowSpec[] {
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
  const kafkaDirectModerate: RowSpec = {
    id: "kafka-direct-moderate",
    label: `kafka publish, direct, ${settings.moderateRps}/s`,
    backend: "kafka",
    via: "direct",
    operation: "publish",
    rps: settings.moderateRps,
    service: "kafka",
    executables: ["kafka"],
    start: () => startPattern("kafka"),
  };
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
  // The same rows with an independent client (issue 26): ghz, Go's gRPC stack, one connection.
  const withGhz = (row: RowSpec): RowSpec => ({ ...row, id: `${row.id}-ghz`, label: `${row.label} (ghz)`, client: "ghz" });
  const echo: RowSpec = { id: "echo", label: "bare gRPC echo (ceiling)", backend: "echo", via: "bare", operation: "get", executables: [], start: startEcho };
  return [
    echo,
    ...kv("memstore"),
    relay,
    // Issue 26's CPU per call and through proxy / direct with the independent client too.
    withGhz(kv("memstore")[0]!),
    withGhz(kv("memstore")[1]!),
    withGhz(relay),
    withGhz(echo),
    {
      id: "memstore-proxy-traced",
      label: "memstore pattern, through proxy, tracing on (OTLP/HTTP)",
      backend: "memstore",
      via: "proxy",
      operation: "get",
      executables: ["memstore", "proxy"],
      start: () => tracedProxy(),
    },
    {
      id: "memstore-proxy-traced-ratio",
      label: "memstore pattern, through proxy, tracing on, 1 % of traces sampled (parentbased_traceidratio 0.01)",
      backend: "memstore",
      via: "proxy",
      operation: "get",
      executables: ["memstore", "proxy"],
      start: () => tracedProxy({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.01" }),
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
    kafkaDirectModerate,
    moderate("kafka", "publish", "kafka"),
    withGhz(echoModerate),
    withGhz(directModerate),
    withGhz(moderate("memstore", "get")),
    withGhz(moderate("redis", "get", "redis")),
    withGhz(moderate("kafka", "publish", "kafka")),
  ];
}

/**
 * The proxy and its memstore with tracing on, every span exported over OTLP/HTTP (protobuf, the default
 * protocol) to a collector stand-in in this process that only counts requests: the cost of tracing as an
 * operator runs it (sampler parentbased_always_on unless `sampler` names another, batch export), against
 * memstore-proxy (tracing off).
 */
async function tracedProxy(sampler: Record<string, string> = {}): Promise<Server> {
  const collector = await new OtlpCollector(false).start();
  try {
    const server = await startProxy("memstore", {
      args: ["--enable-tracing", "--trace-exporter", "otlp"],
      env: { OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf", OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.httpPort}`, ...sampler },
    });
    return {
      ...server,
      stop: async () => {
        await server.stop();
        log(
          `memstore-proxy-traced (${sampler.OTEL_TRACES_SAMPLER ?? "parentbased_always_on"}): the collector stand-in received ${collector.requests} OTLP export requests`,
        );
        collector.stop();
      },
    };
  } catch (err) {
    collector.stop();
    throw err;
  }
}

/** Why a row cannot run here (an executable not built, a service down); undefined when it can. */
export async function whyNot(spec: { service?: ServiceName; executables: string[]; client?: RowSpec["client"] }): Promise<string | undefined> {
  const missing = missingExecutable(...spec.executables) ?? (spec.client === "ghz" ? ghzMissing() : undefined);
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

/** A row's server, started once and measured any number of times (bench/tracing_rounds.ts keeps its processes warm). */
export interface RowSession {
  /** Puts the row's client on the server for settings.durationS after settings.warmupS; a failure is the result's status. */
  measure(settings: RowSettings): Promise<RowResult>;
  stop(): Promise<void>;
}

function rowBase(spec: RowSpec, settings: RowSettings): RowResult {
  return {
    id: spec.id,
    label: spec.label,
    backend: spec.backend,
    via: spec.via,
    operation: spec.operation,
    mode: spec.rps ? "open-loop" : "closed-loop",
    concurrency: settings.concurrency,
    rps: spec.rps ?? null,
    status: "not run",
    ...(spec.client && { client: spec.client }),
  };
}

const failed = (err: unknown) => (err as Error).message.split("\n")[0]!.slice(0, 300);

/** Starts the row's server; a row that cannot run, or whose server did not start, measures as such. */
export async function startRow(spec: RowSpec): Promise<RowSession> {
  const reason = await whyNot(spec);
  if (reason) return { measure: async (settings) => ({ ...rowBase(spec, settings), reason }), stop: async () => {} };
  let server: Server;
  try {
    server = await spec.start();
  } catch (err) {
    return { measure: async (settings) => ({ ...rowBase(spec, settings), status: "failed", reason: failed(err) }), stop: async () => {} };
  }
  return { measure: (settings) => measureRow(spec, server, settings), stop: () => server.stop() };
}

/** Starts the row's server, puts prism-load on it, stops it. */
export async function runRow(spec: RowSpec, settings: RowSettings): Promise<RowResult> {
  const session = await startRow(spec);
  try {
    return await session.measure(settings);
  } finally {
    await session.stop();
  }
}

async function measureRow(spec: RowSpec, server: Server, settings: RowSettings): Promise<RowResult> {
  const base = rowBase(spec, settings);
  try {
    if (spec.client === "ghz") return { ...base, ...(await ghzRow(spec, server, settings)) };
    const args = loadArgs(spec, server, settings);
    const { result: r, cpu } = await withServerCpu(spec, server, () => prismLoad(args));
    return {
      ...base,
      status: "ok",
      command: `prism-load ${args.join(" ")}`,
      ...cpu,
      throughput: r.throughput,
      ok: r.ok,
      errors: r.errors,
      unsent: r.unsent,
      latencyMs: { p50: r.latencyMs.p50, p90: r.latencyMs.p90, p99: r.latencyMs.p99, p999: r.latencyMs.p999, max: r.latencyMs.max, mean: r.latencyMs.mean },
      sendLagP99Ms: r.sendLagMs?.p99,
      serviceTimeMs: spec.rps ? { p50: r.serviceTimeMs.p50, p99: r.serviceTimeMs.p99 } : undefined,
    };
  } catch (err) {
    return { ...base, status: "failed", reason: failed(err) };
  }
}

/** prism-load's arguments that only pre-load the key space (and make one Get): what a ghz row reads. */
export function preloadArgs(spec: RowSpec, server: Server, settings: RowSettings): string[] {
  const target = [spec.via === "proxy" ? "--proxy" : "--direct", server.address];
  const keys = ["--keys", String(settings.keys), "--value-size", String(settings.valueSize)];
  return [...target, "--operation", "get", "--requests", "1", "--warmup", "0s", ...keys, ...(server.loadArgs ?? [])];
}

/** A ghz row's load against its started server (bench/ghz.ts). */
export function ghzLoad(spec: RowSpec, server: Server, settings: RowSettings): GhzLoad {
  if (spec.operation !== "get" && spec.operation !== "publish") throw new Error(`${spec.id}: ghz rows run get or publish, not ${spec.operation}`);
  return {
    target: server.address,
    rps: spec.rps,
    concurrency: settings.concurrency,
    durationS: settings.durationS,
    warmupS: settings.warmupS,
    keys: settings.keys,
    operation: spec.operation,
    topic: "prism-bench",
    valueSize: settings.valueSize,
  };
}

/** A ghz row: for Get prism-load pre-loads the keys; then ghz at the row's rate; the server's CPU as for prism-load. */
async function ghzRow(spec: RowSpec, server: Server, settings: RowSettings): Promise<Partial<RowResult>> {
  const load = ghzLoad(spec, server, settings);
  if (spec.operation === "get") await prismLoad(preloadArgs(spec, server, settings));
  const { result: r, cpu } = await withServerCpu(spec, server, () => runGhz(load));
  return {
    status: "ok",
    command: r.command,
    ...cpu,
    throughput: r.throughput,
    ok: r.ok,
    errors: r.errors,
    latencyMs: r.latencyMs,
  };
}

/**
 * Runs the client against the row's server and measures the server's CPU two ways: per call relayed over the
 * client's whole run (proxy and bare relay, whose call counters cover the same span), and each process's per call
 * completed over the client's measured window.
 */
async function withServerCpu<R extends { startedAt: string; durationS: number; throughput: number }>(
  spec: RowSpec,
  server: Server,
  run: () => Promise<R>,
): Promise<{ result: R; cpu: Pick<RowResult, "cpuUsPerCall" | "processCpuUsPerCall"> }> {
  const cpu0 = cpuSeconds(server.main.pid);
  const calls0 = await server.calls?.();
  const sampler = new CpuSampler(server.pids);
  const result = await run();
  sampler.stop();
  const cpu1 = cpuSeconds(server.main.pid);
  const calls1 = await server.calls?.();
  const relayed = calls0 !== undefined && calls1 !== undefined ? calls1 - calls0 : 0;
  return {
    result,
    cpu: { cpuUsPerCall: relayed > 0 ? ((cpu1 - cpu0) / relayed) * 1e6 : undefined, processCpuUsPerCall: windowCpuPerCall(spec, server, sampler, result) },
  };
}

/** The names of a row's server processes, in the order of `Server.pids`. */
export function processNames(spec: Pick<RowSpec, "via">): string[] {
  if (spec.via === "proxy") return ["proxy", "pattern"];
  if (spec.via === "relay") return ["relay", "pattern"];
  return spec.via === "bare" ? ["echo"] : ["pattern"];
}

/**
 * Each server process's CPU time (/proc, sampled every 100 ms) over the client's measured window, divided by the
 * calls completed in it: what `make bench-compare` reports, and issue 26's "CPU per call served / forwarded".
 */
export function windowCpuPerCall(
  spec: Pick<RowSpec, "via">,
  server: Server,
  sampler: CpuSampler,
  r: { startedAt: string; durationS: number; throughput: number },
): Record<string, number> | undefined {
  const from = Date.parse(r.startedAt);
  const to = from + r.durationS * 1000;
  const out: Record<string, number> = {};
  processNames(spec).forEach((name, i) => {
    const pid = server.pids[i];
    const cores = pid === undefined ? undefined : sampler.cores(pid, from, to);
    if (cores !== undefined && r.throughput > 0) out[name] = (cores / r.throughput) * 1e6;
  });
  return Object.keys(out).length > 0 ? out : undefined;
}

/** prism-load's arguments for a row against its started server. */
export function loadArgs(spec: RowSpec, server: Server, settings: RowSettings): string[] {
  return [
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
}
