import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { RowResult } from "./results";

/**
 * The bench chart as SVG (vega-lite rendered headlessly by vega): throughput of
 * the side-by-side rows, and p50 / p99 / p99.9 latency of every row, on a log
 * scale so the ceiling and the slow backends both stay readable.
 */
export async function renderChart(rows: RowResult[], title: string): Promise<string> {
  const ok = rows.filter((r) => r.status === "ok" && r.latencyMs);
  const order = ok.map((r) => r.label);
  const throughput = ok.filter((r) => r.mode === "closed-loop").map((r) => ({ row: r.label, ops: Math.round(r.throughput ?? 0) }));
  const latency = ok.flatMap((r) =>
    (
      [
        ["p50", r.latencyMs!.p50],
        ["p99", r.latencyMs!.p99],
        ["p99.9", r.latencyMs!.p999],
      ] as const
    )
      .filter(([, ms]) => ms !== null)
      .map(([percentile, ms]) => ({ row: r.label, percentile, ms })),
  );
  const spans = ok.map((r) => ({ row: r.label, from: r.latencyMs!.p50, to: r.latencyMs!.p999 ?? r.latencyMs!.p99 }));
  const y = { field: "row", type: "nominal", sort: order, title: null, axis: { labelLimit: 320 } } as const;
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, anchor: "start" },
    config: { font: "sans-serif", view: { stroke: null } },
    hconcat: [
      {
        title: "throughput (ops/s, closed loop, log scale)",
        width: 300,
        data: { values: throughput },
        layer: [
          {
            mark: { type: "bar", color: "#4c78a8" },
            // Log-scale bars need an explicit base: the ceiling rows are 10-100× the others.
            encoding: { y, x: { field: "ops", type: "quantitative", scale: { type: "log", domainMin: 100 }, title: "ops/s" }, x2: { datum: 100 } },
          },
          {
            mark: { type: "text", align: "left", dx: 3, fontSize: 10 },
            encoding: { y, x: { field: "ops", type: "quantitative" }, text: { field: "ops", type: "quantitative", format: "," } },
          },
        ],
      },
      {
        title: "latency (ms, log scale): p50 · p99 · p99.9",
        width: 380,
        layer: [
          {
            data: { values: spans },
            mark: { type: "rule", color: "#bbbbbb", strokeWidth: 2 },
            encoding: { y, x: { field: "from", type: "quantitative", scale: { type: "log" } }, x2: { field: "to" } },
          },
          {
            data: { values: latency },
            mark: { type: "point", filled: true, size: 90, opacity: 1 },
            encoding: {
              y,
              x: { field: "ms", type: "quantitative", scale: { type: "log" }, title: "ms" },
              color: { field: "percentile", sort: ["p50", "p99", "p99.9"], scale: { range: ["#54a24b", "#f58518", "#e45756"] } },
            },
          },
        ],
      },
    ],
  } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
