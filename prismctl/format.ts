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
}

/** A plain-text table of /patterns, one namespace per line, with health details at the end. */
export function formatPatterns(rows: readonly PatternRow[]): string[] {
  const header = ["NAMESPACE", "PATTERN", "STATUS", "PID", "ENDPOINT", "RESTARTS", "HEALTH", "DETAILS"];
  const body = rows.map((r) => [
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
