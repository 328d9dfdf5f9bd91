/** Reading a process's Prometheus /metrics page in black-box tests. */

/** The /metrics text of the process serving HTTP on 127.0.0.1:`port` (`--metrics-port`). */
export async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/**
 * The value of the sample `name` whose labels are exactly `labels` (order free), or undefined when the page
 * has no such series. Label values are compared after Prometheus escaping of `\`, `"` and newlines.
 */
export function sample(metrics: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .sort()
    .join(",");
  for (const line of metrics.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    let got = "";
    let value: string;
    if (rest.startsWith("{")) {
      const end = rest.lastIndexOf("}");
      got = splitLabels(rest.slice(1, end)).sort().join(",");
      value = rest.slice(end + 1).trim();
    } else if (rest.startsWith(" ")) {
      value = rest.trim();
    } else {
      continue;
    }
    if (got === want) return Number(value.split(" ")[0]);
  }
  return undefined;
}

/** `a="x",b="y,z"` → [`a="x"`, `b="y,z"`] (commas inside quoted values kept). */
function splitLabels(s: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "\\") i++;
    else if (ch === '"') quoted = !quoted;
    else if (ch === "," && !quoted) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (start < s.length) out.push(s.slice(start));
  return out;
}
