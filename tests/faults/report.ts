/**
 * The fault suite's figures: each scenario records a row; with PRISM_RECORD_FAULTS=1 (`make faults`) they are
 * written into docs/operations.md between <!-- faults:begin --> and <!-- faults:end --> and tests/faults/results/latest.json.
 * Plain `make test` checks the same assertions but leaves the tracked files alone.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/process";

export interface FaultRow {
  backend: string;
  fault: string;
  /** Calls made through the proxy during the scenario. */
  calls: number;
  /** Failed calls by gRPC code name. */
  failures: Record<string, number>;
  /** Longest call while the fault lasted, ms. */
  maxCallMs: number;
  /** Median time of the calls refused while the breaker was open, ms (client-measured, through the proxy). */
  openFailMedianMs?: number;
  /** Namespace not ready (proxy /ready?namespace) this long after the fault began, ms. */
  notReadyAfterMs?: number;
  /** Writes succeeded again this long after the backend came back, ms. */
  recoveredAfterMs?: number;
  acknowledgedWrites: number;
  /** Acknowledged writes not read back: must be 0. */
  lost: number;
}

const file = join(ROOT, "tests/faults/results/latest.json");

export function recordRow(row: FaultRow): void {
  console.log(`fault row: ${JSON.stringify(row)}`);
  if (process.env.PRISM_RECORD_FAULTS !== "1") return;
  mkdirSync(join(ROOT, "tests/faults/results"), { recursive: true });
  const rows: FaultRow[] = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")).rows ?? []) : [];
  const kept = rows.filter((r) => !(r.backend === row.backend && r.fault === row.fault));
  kept.push(row);
  writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), rows: kept }, null, 2)}\n`);
  writeReadme(kept);
}

const fmt = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "–" : Math.round(n).toLocaleString("en-US"));

function writeReadme(rows: FaultRow[]): void {
  const readme = join(ROOT, "docs/operations.md");
  const text = readFileSync(readme, "utf8");
  const begin = "<!-- faults:begin -->";
  const end = "<!-- faults:end -->";
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return;
  const order = ["redis", "nats", "kafka", "postgres", "memstore", "proxy"];
  const sorted = [...rows].sort((x, y) => order.indexOf(x.backend) - order.indexOf(y.backend) || x.fault.localeCompare(y.fault));
  const lines = [
    begin,
    `Written by the fault suite (\`bun test tests/faults\`, part of \`make test\`) on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(
        " ",
      )}: dedicated backends on free ports behind \`dist/proxy\`, 16 writers through the proxy; every acknowledged write is read back afterwards. Times are client-measured through the proxy on this shared machine (the breaker itself refuses in microseconds: \`sdk/drivers/resilience.test.ts\` bounds a refusal at 10 ms).`,
    "",
    "| backend | fault | calls | failed (by code) | longest call ms | open-breaker refusal p50 ms | namespace not ready after ms | writes again after ms | acknowledged writes | lost |",
    "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...sorted.map(
      (r) =>
        `| ${r.backend} | ${r.fault} | ${fmt(r.calls)} | ${
          Object.entries(r.failures)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ") || "none"
        } | ${fmt(r.maxCallMs)} | ${fmt(r.openFailMedianMs)} | ${fmt(r.notReadyAfterMs)} | ${fmt(r.recoveredAfterMs)} | ${fmt(r.acknowledgedWrites)} | ${r.lost} |`,
    ),
    end,
  ];
  writeFileSync(readme, text.slice(0, a) + lines.join("\n") + text.slice(b + end.length));
}
