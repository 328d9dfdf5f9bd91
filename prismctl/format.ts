/** The fields of one /patterns entry that prismctl shows. */
export interface PatternRow {
  namespace: string;
  pattern: string;
  status: string;
  ready: boolean;
  pid: number | null;
  endpoint: string | null;
  restarts: number;
  health: { status: string; message: string; details: Record<string, string> } | null;
  last_error: string | null;
  /** Calls in flight and placed so far (proxies with replicas). */
  in_flight?: number;
  calls?: number;
  /** Every instance of the namespace's pattern (proxies with replicas). */
  replicas?: (PatternRow & { replica: number })[];
}

/** One row per instance for a namespace of several (`name/0`, `name/1`…, with its load), else the namespace's. */
function instanceRows(rows: readonly PatternRow[]): { row: PatternRow; load: string[] }[] {
  return rows.flatMap((r): { row: PatternRow; load: string[] }[] =>
    r.replicas !== undefined && r.replicas.length > 1
      ? r.replicas.map((i) => ({ row: { ...i, namespace: `${r.namespace}/${i.replica}` }, load: [`in_flight=${i.in_flight ?? 0}`, `calls=${i.calls ?? 0}`] }))
      : [{ row: r, load: [] }],
  );
}

/**
 * A plain-text table of /patterns, one namespace per line (one per instance, `name/N`, with its calls in flight and
 * so far, for a namespace of several), with health details at the end.
 */
export function formatPatterns(rows: readonly PatternRow[]): string[] {
  const header = ["NAMESPACE", "PATTERN", "STATUS", "PID", "ENDPOINT", "RESTARTS", "HEALTH", "DETAILS"];
  const body = instanceRows(rows).map(({ row: r, load }) => [
    r.namespace,
    r.pattern,
    r.status,
    r.pid === null ? "-" : String(r.pid),
    r.endpoint ?? "-",
    String(r.restarts),
    r.health?.status ?? "-",
    [
      ...Object.entries(r.health?.details ?? {})
        .filter(([k]) => k !== "state")
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`),
      ...load,
      ...(r.last_error ? [`error="${r.last_error}"`] : []),
    ].join(" "),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...body.map(line)];
}
