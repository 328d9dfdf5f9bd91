// What tracing costs, measured in pairs: memstore through the proxy with tracing off, at a ratio and always on, run
// back to back in each round (the order reversed every other round), so that drift on a shared machine hits both
// sides of a pair. The tracing targets of issue 26 read the median of the per-round costs, with their spread.
// Each set-up is started once and warmed under load before the first round: code that runs for 1 % of calls only
// (recording and exporting a span) is compiled by the JIT over tens of seconds, and a window right after start-up
// measured that compilation too (in three runs one morning, the cost at a ratio read 13.4 % after 1 s of
// warm-up, 10.7 % after 5 s and 7.9 % after 12 s, with processes started for every window).
import type { RowSession, RowSettings, RowSpec } from "./rows";

export const TRACING_ROUND_ROWS = { off: "memstore-proxy", ratio: "memstore-proxy-traced-ratio", always: "memstore-proxy-traced" } as const;
export type TracingVariant = keyof typeof TRACING_ROUND_ROWS;

/** One round: each variant's calls/s and CPU µs per call of the proxy and the pattern (undefined: not measured). */
export interface TracingRound {
  order: TracingVariant[];
  throughput: Partial<Record<TracingVariant, number>>;
  cpuUsPerCall: Partial<Record<TracingVariant, { proxy?: number; pattern?: number }>>;
}

export interface TracingRoundsResult {
  rounds: TracingRound[];
  durationS: number;
  /** Seconds of load each set-up had after its start, before its first round. */
  warmS?: number;
  reason?: string;
}

/** A per-round figure's median and spread. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  each: number[];
}

export function spread(values: number[]): Spread | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)!, each: values };
}

/** 1 − traced / off calls/s of each round where both ran. */
export function pairedCost(result: TracingRoundsResult, variant: Exclude<TracingVariant, "off">): Spread | undefined {
  return spread(
    result.rounds.flatMap((r) => {
      const off = r.throughput.off;
      const on = r.throughput[variant];
      return off && on !== undefined ? [1 - on / off] : [];
    }),
  );
}

/** traced / off CPU µs per call of one process, per round. */
export function pairedCpu(result: TracingRoundsResult, variant: Exclude<TracingVariant, "off">, process: "proxy" | "pattern"): Spread | undefined {
  return spread(
    result.rounds.flatMap((r) => {
      const off = r.cpuUsPerCall.off?.[process];
      const on = r.cpuUsPerCall[variant]?.[process];
      return off && on !== undefined ? [on / off] : [];
    }),
  );
}

export async function measureTracingRounds(
  specs: RowSpec[],
  settings: RowSettings,
  rounds: number,
  warmS: number,
  start: (spec: RowSpec) => Promise<RowSession>,
  log: (s: string) => void,
): Promise<TracingRoundsResult> {
  const byVariant = new Map<TracingVariant, RowSpec>();
  for (const v of Object.keys(TRACING_ROUND_ROWS) as TracingVariant[]) {
    const spec = specs.find((s) => s.id === TRACING_ROUND_ROWS[v]);
    if (spec) byVariant.set(v, spec);
  }
  const result: TracingRoundsResult = { rounds: [], durationS: settings.durationS, warmS };
  if (!byVariant.has("off")) return { ...result, reason: `no row ${TRACING_ROUND_ROWS.off}` };
  const variants = [...byVariant.keys()];
  const sessions = new Map<TracingVariant, RowSession>();
  try {
    for (const v of variants) {
      const session = await start(byVariant.get(v)!);
      sessions.set(v, session);
      if (warmS > 0) await session.measure({ ...settings, durationS: warmS });
    }
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? variants : [...variants].reverse();
      const round: TracingRound = { order, throughput: {}, cpuUsPerCall: {} };
      for (const v of order) {
        const r = await sessions.get(v)!.measure(settings);
        if (r.status !== "ok") {
          log(`  round ${i + 1}, tracing ${v}: ${r.status} (${r.reason ?? ""})`);
          continue;
        }
        round.throughput[v] = r.throughput!;
        round.cpuUsPerCall[v] = { proxy: r.processCpuUsPerCall?.proxy, pattern: r.processCpuUsPerCall?.pattern };
      }
      log(`  round ${i + 1}: ${order.map((v) => `${v} ${Math.round(round.throughput[v] ?? 0)}/s`).join(", ")}`);
      result.rounds.push(round);
    }
  } finally {
    for (const session of sessions.values()) await session.stop();
  }
  return result;
}

/** A share as the bench prints it: one decimal, then " %". */
export const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const times = (x: number) => x.toFixed(2);

/** One line per traced variant: median cost and CPU ratios over the rounds, with min–max. */
export function tracingRoundsMarkdown(result: TracingRoundsResult): string {
  if (result.reason) return `not run: ${result.reason}\n`;
  const lines = [
    "| tracing | rounds | throughput cost, median | min–max | each round | CPU per call traced / off, proxy | pattern |",
    "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
  ];
  for (const [variant, label] of [
    ["ratio", "parentbased_traceidratio 0.01"],
    ["always", "always on"],
  ] as const) {
    const cost = pairedCost(result, variant);
    if (!cost) continue;
    const cpu = (p: "proxy" | "pattern") => {
      const s = pairedCpu(result, variant, p);
      return s ? `${times(s.median)} (${times(s.min)}–${times(s.max)})` : "–";
    };
    lines.push(
      `| ${label} | ${cost.each.length} | ${pct(cost.median)} | ${pct(cost.min)} – ${pct(cost.max)} | ${cost.each.map(pct).join(", ")} | ${cpu("proxy")} | ${cpu("pattern")} |`,
    );
  }
  return lines.join("\n") + "\n";
}
