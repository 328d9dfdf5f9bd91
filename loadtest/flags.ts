import { parseArgs } from "node:util";
import { parseBytes, parseDuration } from "../sdk/config/schema";

/** The operations prism-load can drive. */
export const OPERATIONS = ["set", "get", "mixed", "publish", "subscribe", "scan", "capabilities"] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Everything a run needs, parsed and checked. */
export interface LoadOptions {
  /** host:port the client dials. */
  target: string;
  /** "proxy" when dialling the proxy, "direct" with --direct (a pattern or any server, bypassing the proxy). */
  via: "proxy" | "direct";
  operation: Operation;
  /** Which key-value service set/get call: the interface service (Set/Get) or KeyValuePattern (Store/Retrieve). */
  service: "interface" | "pattern";
  /** Closed loop: calls in flight. Open loop (--rps): the most calls in flight before sends queue up. */
  concurrency: number;
  /** Measured phase length; 0 = bounded by --requests only. */
  durationMs: number;
  /** Target request rate; 0 = closed loop (as fast as the server answers). */
  rps: number;
  /** Requests in the measured phase; 0 = bounded by --duration only. */
  requests: number;
  warmupMs: number;
  /** Sent as x-prism-namespace when set. */
  namespace?: string;
  /** Extra metadata on every call (credentials of a secured proxy). */
  metadata?: Record<string, string>;
  /** TLS to the target with this CA file; the server name to verify. */
  tlsCa?: string;
  tlsServerName?: string;
  valueSize: number;
  keys: number;
  topic: string;
  timeoutMs: number;
  jsonFile?: string;
  /** The client of the measured calls: a lean unary client on h2/ (h2), or the grpc-js one the SDK uses. */
  client: "h2" | "grpc-js";
  /** Live progress line: "auto" shows it when stderr is a terminal. */
  progress: "auto" | "always" | "never";
}

export const USAGE = `prism-load: load generator for Prism (gRPC KeyValueBasic / PubSubBasic).

  --proxy HOST:PORT       proxy address                                   [127.0.0.1:8980]
  --direct HOST:PORT      talk to a pattern (or any server) directly, bypassing the proxy (or unix:/PATH)
  --operation OP          set | get | mixed (80% get, 20% set) | publish | subscribe   [get]
  --operation scan        KeyValuePattern.Scan: one page of 100 keys with values from the start of the key space
  --operation capabilities  KeyValuePattern.GetCapabilities
  --service S             interface (KeyValueBasicInterface Set/Get) | pattern (KeyValuePattern Store/Retrieve)  [interface]
  --concurrency N         calls in flight (open loop: the cap before sends queue up)   [16]
  --duration D            measured phase, e.g. 10s, 500ms, 1m             [10s]
  --requests N            stop after N requests (with --duration: whichever comes first)
  --rps N                 open loop at N requests/s, latency from the scheduled send time
  --warmup D              unmeasured warm-up at the same load             [1s]
  --namespace NAME        x-prism-namespace metadata on every call
  --metadata K=V          extra metadata on every call, e.g. x-api-key=... (repeatable)
  --tls-ca FILE           TLS to the target, trusting this CA
  --tls-server-name NAME  name the target's certificate must carry       [the target's host]
  --value-size BYTES      value / payload size                            [100]
  --keys N                key space (get pre-loads every key)             [1000]
  --topic NAME            topic for publish / subscribe                   [prism-load]
  --timeout D             per-call deadline                               [5s]
  --json FILE             write the report as JSON ("-" = stdout)
  --progress MODE         auto (on a terminal) | always | never            [auto]
  --client C              h2 (lean unary client, h2/) | grpc-js (the SDK's client)   [h2]
  -h, --help`;

const spec = {
  proxy: { type: "string" },
  direct: { type: "string" },
  operation: { type: "string" },
  service: { type: "string" },
  concurrency: { type: "string" },
  duration: { type: "string" },
  requests: { type: "string" },
  rps: { type: "string" },
  warmup: { type: "string" },
  namespace: { type: "string" },
  metadata: { type: "string", multiple: true },
  "tls-ca": { type: "string" },
  "tls-server-name": { type: "string" },
  "value-size": { type: "string" },
  keys: { type: "string" },
  topic: { type: "string" },
  timeout: { type: "string" },
  json: { type: "string" },
  progress: { type: "string" },
  client: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** A command-line mistake; main prints it with the usage and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

function integer(flag: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer >= ${min}, got "${v}"`);
  return n;
}

function duration(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const ms = parseDuration(v);
  if (ms === undefined) throw new UsageError(`--${flag} must be a duration like 10s or 500ms, got "${v}"`);
  return ms;
}

function address(flag: string, v: string): string {
  if (flag === "direct" && /^unix:\/./.test(v)) return v; // a pattern on a Unix socket (as the proxy launches them)
  if (!/^[^\s:]+:\d{1,5}$/.test(v) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(v))
    throw new UsageError(`--${flag} must be HOST:PORT${flag === "direct" ? " or unix:/PATH" : ""}, got "${v}"`);
  return v;
}

function metadataFlags(pairs: string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const md: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf("=");
    if (i <= 0) throw new UsageError(`--metadata must be KEY=VALUE, got "${p}"`);
    md[p.slice(0, i).toLowerCase()] = p.slice(i + 1);
  }
  return md;
}

/** Parses argv; returns undefined for --help. */
export function parseFlags(argv: string[]): LoadOptions | undefined {
  let v;
  try {
    v = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (v.help) return undefined;
  if (v.proxy !== undefined && v.direct !== undefined) throw new UsageError("--proxy and --direct are exclusive: pick one target");
  const operation = (v.operation ?? "get") as Operation;
  if (!OPERATIONS.includes(operation)) throw new UsageError(`--operation must be one of ${OPERATIONS.join(", ")}, got "${v.operation}"`);
  const service = (v.service ?? "interface") as LoadOptions["service"];
  if (service !== "interface" && service !== "pattern") throw new UsageError(`--service must be interface or pattern, got "${v.service}"`);
  const valueSize = v["value-size"] === undefined ? 100 : parseBytes(v["value-size"]);
  if (valueSize === undefined || valueSize < 1) throw new UsageError(`--value-size must be a size in bytes >= 1, got "${v["value-size"]}"`);
  const progress = (v.progress ?? "auto") as LoadOptions["progress"];
  if (!["auto", "always", "never"].includes(progress)) throw new UsageError(`--progress must be auto, always or never, got "${v.progress}"`);
  const client = (v.client ?? "h2") as LoadOptions["client"];
  if (client !== "h2" && client !== "grpc-js") throw new UsageError(`--client must be h2 or grpc-js, got "${v.client}"`);
  const requests = integer("requests", v.requests, 0, 1);
  const opts: LoadOptions = {
    target: v.direct !== undefined ? address("direct", v.direct) : address("proxy", v.proxy ?? "127.0.0.1:8980"),
    via: v.direct !== undefined ? "direct" : "proxy",
    operation,
    service,
    concurrency: integer("concurrency", v.concurrency, 16, 1),
    // --requests alone means "exactly that many", not "that many or 10 s".
    durationMs: duration("duration", v.duration, v.requests !== undefined ? 0 : 10_000),
    rps: integer("rps", v.rps, 0, 1),
    requests,
    warmupMs: duration("warmup", v.warmup, 1_000),
    namespace: v.namespace,
    metadata: metadataFlags(v.metadata ?? []),
    tlsCa: v["tls-ca"],
    tlsServerName: v["tls-server-name"],
    valueSize,
    keys: integer("keys", v.keys, 1000, 1),
    topic: v.topic ?? "prism-load",
    timeoutMs: duration("timeout", v.timeout, 5_000),
    jsonFile: v.json,
    client,
    progress,
  };
  if (opts.durationMs === 0 && opts.requests === 0) throw new UsageError("the run needs a bound: --duration > 0 or --requests N");
  if (opts.timeoutMs <= 0) throw new UsageError("--timeout must be > 0");
  return opts;
}
