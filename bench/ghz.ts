// ghz (github.com/bojand/ghz, a Go gRPC load generator built by `make go-tools` into .tools/ghz): the independent
// client of the bench's ghz rows, beside prism-load. It paces calls with a rate limiter over `-c` workers on one
// connection and times each call from its actual send, so unlike prism-load's open loop it does not correct for
// coordinated omission: its latency compares with prism-load's service time (send → reply).
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../tests/helpers/process";

export const GHZ = `${ROOT}/.tools/ghz`;

/** Why ghz cannot run here; undefined when it can. */
export function ghzMissing(): string | undefined {
  return existsSync(GHZ) ? undefined : ".tools/ghz not built (make go-tools)";
}

/** What one ghz run measured, in the units of prism-load's report (ms, calls per second). */
export interface GhzResult {
  /** OK calls per second of the measured window (first measured send → last reply). */
  throughput: number;
  ok: number;
  /** Failed calls by gRPC code name (UNAVAILABLE, DEADLINE_EXCEEDED, …). */
  errors: Record<string, number>;
  /** Of the OK calls, send → reply. */
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /** The measured window: its start (ISO) and length. */
  startedAt: string;
  durationS: number;
}

/** ghz's JSON report (-O json), the fields read here. */
interface GhzReport {
  details?: Array<{ timestamp: string; latency: number; status: string }>;
}

/** Go's code names (codes.Code.String()) as gRPC's canonical names: DeadlineExceeded → DEADLINE_EXCEEDED. */
export function canonicalCode(goName: string): string {
  if (goName === "Canceled") return "CANCELLED";
  return goName.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Nanosecond timestamps of RFC 3339 strings with up to 9 fractional digits (Date keeps only ms). */
function epochNs(ts: string): number {
  const m = ts.match(/^(.*?)(?:\.(\d+))?Z$/);
  if (!m) throw new Error(`ghz: timestamp ${ts} is not RFC 3339 UTC`);
  const frac = (m[2] ?? "").padEnd(9, "0").slice(0, 9);
  return Date.parse(`${m[1]}Z`) * 1e6 + Number(frac);
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Summarises ghz's per-call details (the calls after --skipFirst): latency of the OK calls, errors by code.
 * `skipS` leaves out, besides, the calls sent in the first seconds of the run (a closed loop's warm-up, whose count
 * is not known beforehand).
 */
export function summariseGhz(report: GhzReport, skipS = 0): GhzResult {
  let details = report.details ?? [];
  if (skipS > 0 && details.length > 0) {
    let start = Infinity;
    for (const d of details) start = Math.min(start, epochNs(d.timestamp));
    const from = start + skipS * 1e9;
    details = details.filter((d) => epochNs(d.timestamp) >= from);
  }
  if (details.length === 0) throw new Error("ghz reported no measured calls (every call within --skipFirst, or none sent)");
  const okNs: number[] = [];
  const errors: Record<string, number> = {};
  let first = Infinity;
  let last = -Infinity;
  for (const d of details) {
    const at = epochNs(d.timestamp);
    first = Math.min(first, at);
    last = Math.max(last, at + d.latency);
    if (d.status === "OK") okNs.push(d.latency);
    else errors[canonicalCode(d.status)] = (errors[canonicalCode(d.status)] ?? 0) + 1;
  }
  const ms = okNs.map((n) => n / 1e6).sort((a, b) => a - b);
  const durationS = (last - first) / 1e9;
  return {
    throughput: durationS > 0 ? ms.length / durationS : 0,
    ok: ms.length,
    errors,
    latencyMs: {
      p50: percentile(ms, 50),
      p90: percentile(ms, 90),
      p99: percentile(ms, 99),
      p999: percentile(ms, 99.9),
      max: ms.at(-1) ?? 0,
      mean: ms.length ? ms.reduce((a, b) => a + b, 0) / ms.length : 0,
    },
    startedAt: new Date(first / 1e6).toISOString(),
    durationS,
  };
}

/**
 * What a ghz row asks, at `rps` (or, without one, as fast as `concurrency` workers get answers: a closed loop) for
 * warm-up + duration: KeyValueBasicInterface.Get over prism-load's key space, or (publish)
 * PubSubBasicInterface.Publish of prism-load's payload (`valueSize` bytes) to `topic`.
 */
export interface GhzLoad {
  target: string;
  rps?: number;
  concurrency: number;
  durationS: number;
  warmupS: number;
  keys: number;
  operation?: "get" | "publish";
  topic?: string;
  valueSize?: number;
}

/** prism-load's payload (loadtest/workload.ts valueOf): the letters a–z over and over. */
function payload(size: number): string {
  return Buffer.from(Array.from({ length: size }, (_, i) => 97 + (i % 26))).toString("base64");
}

/** The proto file, method and request (ghz's JSON, bytes in base64) of a load. */
function callOf(load: GhzLoad): string[] {
  if (load.operation === "publish")
    return [
      "--proto",
      `${ROOT}/proto/prism/interfaces/pubsub/pubsub_basic.proto`,
      "--call",
      "prism.interfaces.pubsub.PubSubBasicInterface.Publish",
      "--data",
      JSON.stringify({ topic: load.topic ?? "prism-bench", payload: payload(load.valueSize ?? 100) }),
    ];
  return [
    "--proto",
    `${ROOT}/proto/prism/interfaces/keyvalue/keyvalue_basic.proto`,
    "--call",
    "prism.interfaces.keyvalue.KeyValueBasicInterface.Get",
    // prism-load's key names (loadtest/workload.ts keySpace), which its pre-load wrote.
    "--data",
    `{"key":"prism-load:{{mod .RequestNumber ${load.keys}}}"}`,
  ];
}

/**
 * ghz's arguments: one connection, `concurrency` workers; at a rate the warm-up's calls are left out of the tally
 * (--skipFirst), in a closed loop runGhz leaves out the calls sent during the warm-up.
 */
export function ghzArgs(load: GhzLoad, out: string): string[] {
  const paced = load.rps ? ["--rps", String(load.rps), "--skipFirst", String(Math.round(load.rps * load.warmupS))] : [];
  return [
    "--insecure",
    ...callOf(load),
    "--import-paths",
    `${ROOT}/proto`,
    ...paced,
    "--concurrency",
    String(load.concurrency),
    "--connections",
    "1",
    "--duration",
    `${load.warmupS + load.durationS}s`,
    // Calls in flight at the end complete and count (not cancelled as "the client connection is closing").
    "--duration-stop",
    "wait",
    "--timeout",
    "5s",
    "--format",
    "json",
    "--output",
    out,
    load.target,
  ];
}

/** Runs ghz in its own process; returns its summary and the command line (paths relative to the checkout). */
export async function runGhz(load: GhzLoad): Promise<GhzResult & { command: string }> {
  const dir = mkdtempSync(join(tmpdir(), "prism-bench-ghz-"));
  const out = join(dir, "ghz.json");
  const args = ghzArgs(load, out);
  try {
    const p = Bun.spawn([GHZ, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (!existsSync(out)) throw new Error(`ghz exited ${code} without a report: ${(stderr || stdout).trim().slice(-600)}`);
    const command = ["ghz", ...args.map((a) => a.replaceAll(`${ROOT}/`, "").replace(out, "REPORT.json"))]
      .map((a) => (/[\s{}"]/.test(a) ? `'${a}'` : a))
      .join(" ");
    return { ...summariseGhz(JSON.parse(readFileSync(out, "utf8")) as GhzReport, load.rps ? 0 : load.warmupS), command };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
