import type { LoadOptions } from "./flags";
import { summarise, type LatencySummary, type Stats } from "./stats";

export const VERSION = "0.1.0";

/** The result of a run, as printed and as written by --json. Times in ms, rates per second. */
export interface Report {
  tool: "prism-load";
  version: string;
  operation: LoadOptions["operation"];
  /** interface (Set/Get) or pattern (KeyValuePattern Store/Retrieve); absent in reports of older versions. */
  service?: LoadOptions["service"];
  target: string;
  via: LoadOptions["via"];
  namespace: string | null;
  /** closed-loop: as fast as answers come; open-loop: scheduled at targetRps. */
  mode: "closed-loop" | "open-loop";
  concurrency: number;
  targetRps: number | null;
  valueSize: number;
  keys: number;
  warmupS: number;
  /** The measured window, wall time: start → stop (the duration's end, the last of --requests sent, or an abort). */
  durationS: number;
  /** After the stop, waiting for the calls still in flight (up to one --timeout); not part of durationS. */
  drainS: number;
  /** Successful operations (subscribe: measured messages received), draining included. */
  ok: number;
  /** Of `ok`, those completed within the measured window (subscribe: received before publishing stopped). */
  okInWindow: number;
  /** Failed calls by gRPC code name. */
  errors: Record<string, number>;
  /** First error message per code. */
  errorSamples: Record<string, string>;
  /** Successful operations completed within the measured window per second of it (okInWindow / durationS). */
  throughput: number;
  /**
   * Headline latency: open loop from the scheduled send; subscribe from publish to receipt. In open loop it
   * includes each unsent call at stop − scheduled send, a lower bound, so when `unsent` > 0 the percentiles
   * are lower bounds too.
   */
  latencyMs: LatencySummary;
  /** Send → reply (subscribe: publish → acknowledgement). */
  serviceTimeMs: LatencySummary;
  /** Open loop: pacing error of the generator itself, and calls due but never sent. */
  sendLagMs: LatencySummary | null;
  unsent: number;
  /** Open loop: the unsent calls' latency lower bounds (stop − scheduled send), also part of `latencyMs`. */
  unsentLatencyMs: LatencySummary | null;
  /** Subscribe: messages published (acknowledged) in the measured phase, and those never received. */
  published: number | null;
  lost: number | null;
  startedAt: string;
}

/** Builds the report of a measured phase. For subscribe, `publish` holds the publish calls. */
export function buildReport(opts: LoadOptions, stats: Stats, startedAt: Date, publish?: Stats): Report {
  const calls = publish ?? stats;
  const durationS = calls.windowS();
  return {
    tool: "prism-load",
    version: VERSION,
    operation: opts.operation,
    service: opts.service,
    target: opts.target,
    via: opts.via,
    namespace: opts.namespace ?? null,
    mode: opts.rps > 0 ? "open-loop" : "closed-loop",
    concurrency: opts.concurrency,
    targetRps: opts.rps > 0 ? opts.rps : null,
    valueSize: opts.valueSize,
    keys: opts.keys,
    warmupS: opts.warmupMs / 1000,
    durationS,
    drainS: calls.drainS(),
    ok: stats.ok,
    okInWindow: stats.okAtStop,
    errors: Object.fromEntries(calls.errors),
    errorSamples: Object.fromEntries(calls.errorSamples),
    throughput: durationS > 0 ? stats.okAtStop / durationS : 0,
    latencyMs: summarise(stats.latency),
    serviceTimeMs: summarise(calls.serviceTime),
    sendLagMs: opts.rps > 0 ? summarise(calls.sendLag) : null,
    unsent: calls.unsent,
    unsentLatencyMs: opts.rps > 0 ? summarise(calls.unsentLatency) : null,
    published: publish ? publish.ok : null,
    lost: publish ? Math.max(0, publish.ok - stats.ok) : null,
    startedAt: startedAt.toISOString(),
  };
}

const ms = (v: number) => (v < 10 ? v.toFixed(3) : v < 100 ? v.toFixed(2) : v.toFixed(1));

function latencyLine(name: string, l: LatencySummary, note = ""): string {
  return `${name.padEnd(14)} p50 ${ms(l.p50)}  p90 ${ms(l.p90)}  p99 ${ms(l.p99)}  p99.9 ${ms(l.p999)}  max ${ms(l.max)}  mean ${ms(l.mean)}  (ms, ${l.count} samples${note})`;
}

/** The human-readable report. */
export function formatReport(r: Report): string {
  const how = r.mode === "open-loop" ? `open loop at ${r.targetRps} req/s (≤ ${r.concurrency} in flight)` : `closed loop, ${r.concurrency} in flight`;
  const ns = r.namespace ? ` namespace ${r.namespace}` : "";
  const lines = [
    `prism-load ${r.operation}${r.service === "pattern" ? " (KeyValuePattern)" : ""} → ${r.target} (${r.via}${ns}), ${how}, ${r.valueSize}-byte values`,
    `measured ${r.durationS.toFixed(2)} s after ${r.warmupS} s warm-up: ${r.ok} ok, ${Object.values(r.errors).reduce((a, b) => a + b, 0)} errors, ${r.throughput.toFixed(0)} ops/s (completed within those ${r.durationS.toFixed(2)} s)`,
    `then ${r.drainS.toFixed(2)} s draining the calls in flight (${r.ok - r.okInWindow} ok then; counted above, not in ops/s)`,
    latencyLine(r.operation === "subscribe" ? "publish→recv" : "latency", r.latencyMs, r.unsent > 0 ? `, ${r.unsent} of them unsent: lower bounds` : ""),
  ];
  if (r.mode === "open-loop" || r.operation === "subscribe")
    lines.push(latencyLine(r.operation === "subscribe" ? "publish ack" : "service time", r.serviceTimeMs));
  if (r.sendLagMs)
    lines.push(
      `${"send lag".padEnd(14)} p50 ${ms(r.sendLagMs.p50)}  p99 ${ms(r.sendLagMs.p99)}  max ${ms(r.sendLagMs.max)} (ms; generator pacing error, included in latency)`,
    );
  if (r.unsent > 0) {
    const bound = r.unsentLatencyMs ? ` (up to ${ms(r.unsentLatencyMs.max)} ms)` : "";
    lines.push(
      `unsent: ${r.unsent} calls were due but never sent (the ${r.concurrency} in-flight slots stayed full): the target could not sustain ${r.targetRps} req/s.`,
      `        Each is in the latency at stop − its scheduled send${bound}, what it had waited so far: the percentiles above are lower bounds.`,
    );
  }
  if (r.published !== null) lines.push(`published ${r.published}, received ${r.ok}, lost ${r.lost}`);
  for (const [code, n] of Object.entries(r.errors)) lines.push(`error ${code}: ${n} (e.g. ${r.errorSamples[code] ?? ""})`);
  return lines.join("\n") + "\n";
}
