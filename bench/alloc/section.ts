// make bench's "Allocation per call" section: heap bytes and objects per Get, memstore served directly and the proxy
// forwarding, with tracing off, at a ratio (a call the sampler leaves out, what nearly every call is at 1 %) and
// always on (every span recorded; nothing exported, so export costs are not in it). A count, not a timing: it does
// not move with the load on the machine, and explains the CPU rows beside it.
import { type AllocResult, type AllocSubject, measureAllocPerCall } from "./per_call";

export interface AllocRow {
  subject: AllocSubject;
  tracing: "off" | "ratio" | "always_on";
  status: "ok" | "failed";
  reason?: string;
  bytesPerCall?: number;
  objectsPerCall?: number;
  /** The types allocating most per call. */
  top?: Array<[type: string, perCall: number]>;
}

const TRACING_ON = { PRISM_ENABLE_TRACING: "true", PRISM_TRACE_EXPORTER: "none" };
/** Tracing on, 1 % of new traces sampled, nothing exported: what operators run in production. */
export const TRACING_AT_A_RATIO = { ...TRACING_ON, OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.01" };
/** Tracing on, every span recorded, nothing exported. */
export const TRACING_ALWAYS_ON = { ...TRACING_ON, OTEL_TRACES_SAMPLER: "parentbased_always_on" };
const SETUPS: Record<AllocRow["tracing"], { env: Record<string, string>; label: string }> = {
  off: { env: {}, label: "tracing off" },
  ratio: { env: TRACING_AT_A_RATIO, label: "tracing at 1 % (parentbased_traceidratio 0.01), a call left out" },
  always_on: { env: TRACING_ALWAYS_ON, label: "tracing always on, every span recorded (none exported)" },
};
/** The traceparent the proxy sends the pattern: for a call left out (flags 00), or sampled (01). */
const CALLER = "traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331";
export const UNSAMPLED_CALLER = `${CALLER}-00`;
export const SAMPLED_CALLER = `${CALLER}-01`;

export async function measureAllocSection(log: (line: string) => void): Promise<AllocRow[]> {
  const rows: AllocRow[] = [];
  for (const subject of ["memstore", "proxy"] as const)
    for (const tracing of ["off", "ratio", "always_on"] as const) {
      log(`allocation per call: ${subject}, ${SETUPS[tracing].label} ...`);
      // memstore gets the traceparent the proxy would send it; the proxy gets none from prism-load, as from most clients.
      const metadata = subject === "memstore" && tracing !== "off" ? [tracing === "ratio" ? UNSAMPLED_CALLER : SAMPLED_CALLER] : [];
      try {
        const r: AllocResult = await measureAllocPerCall(subject, { env: SETUPS[tracing].env, metadata });
        const top = Object.entries(r.objectsPerCallByType)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 6);
        rows.push({ subject, tracing, status: "ok", bytesPerCall: r.bytesPerCall, objectsPerCall: r.objectsPerCall, top });
      } catch (err) {
        rows.push({ subject, tracing, status: "failed", reason: (err as Error).message.slice(0, 300) });
      }
    }
  return rows;
}

/** What tracing adds per call to `subject`, against tracing off in the same run. */
export function tracingAdds(rows: readonly AllocRow[], subject: AllocSubject, tracing: "ratio" | "always_on"): { bytes: number; objects: number } | undefined {
  const off = rows.find((r) => r.subject === subject && r.tracing === "off" && r.status === "ok");
  const on = rows.find((r) => r.subject === subject && r.tracing === tracing && r.status === "ok");
  return off && on ? { bytes: on.bytesPerCall! - off.bytesPerCall!, objects: on.objectsPerCall! - off.objectsPerCall! } : undefined;
}

export function allocMarkdown(rows: readonly AllocRow[]): string {
  const lines = [
    "| process | set-up | heap bytes per call | objects per call | added by tracing | most allocated, per call |",
    "| --- | --- | ---: | ---: | ---: | --- |",
  ];
  for (const r of rows) {
    const what = r.subject === "memstore" ? "memstore, Get served directly" : "proxy, Get forwarded (the proxy only)";
    if (r.status !== "ok") {
      lines.push(`| ${what} | ${SETUPS[r.tracing].label} | failed: ${r.reason ?? ""} | | | |`);
      continue;
    }
    const adds = r.tracing === "off" ? undefined : tracingAdds(rows, r.subject, r.tracing);
    const added = adds ? `+${Math.round(adds.bytes).toLocaleString("en-US")} B, +${adds.objects.toFixed(1)} objects` : "–";
    const top = r.top!.map(([t, n]) => `${t} ${n.toFixed(1)}`).join(", ");
    lines.push(
      `| ${what} | ${SETUPS[r.tracing].label} | ${Math.round(r.bytesPerCall!).toLocaleString("en-US")} | ${r.objectsPerCall!.toFixed(1)} | ${added} | ${top} |`,
    );
  }
  return lines.join("\n") + "\n";
}
