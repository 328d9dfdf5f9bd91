import type { PatternInfo } from "../../client/src/index";
import { UsageError } from "../args";
import { formatCapabilities, formatMulticastCapabilities } from "../caps";
import type { Command } from "../command";
import { status, table, toJson } from "../output";

/** Capabilities of every pattern, health, and the admin listing: commands about the namespace rather than its data. */
export const STATUS_COMMANDS: Command[] = [
  {
    group: "caps",
    args: "[PATTERN]",
    arity: [0, 1],
    summary: "capabilities of each pattern the namespace serves (keyvalue, multicast): native / emulated / unavailable, backend, limits",
    async run(ctx, [only]) {
      const c = await ctx.client();
      const ns = ctx.inv.namespace ?? "default";
      const names: Record<string, keyof typeof c.capabilities> = { keyvalue: "keyValue", kv: "keyValue", multicast: "multicast" };
      if (only !== undefined && names[only] === undefined) throw new UsageError(`caps: unknown pattern "${only}" (${Object.keys(names).join(", ")})`);
      const caps = only ? { [names[only]!]: c.capabilities[names[only]!] } : c.capabilities;
      if (Object.values(caps).every((x) => x === undefined)) {
        ctx.io.err(`prismctl: namespace ${ns} serves ${only ? `no ${only} pattern` : "no pattern with capabilities"}`);
        return 3;
      }
      if (ctx.inv.json) {
        ctx.io.out(toJson(caps));
        return 0;
      }
      const blocks: string[][] = [];
      if (caps.keyValue) blocks.push(formatCapabilities(ns, caps.keyValue));
      if (caps.multicast) blocks.push(formatMulticastCapabilities(ns, caps.multicast));
      blocks.forEach((b, i) => {
        if (i > 0) ctx.io.out("");
        for (const line of b) ctx.io.out(line);
      });
      return 0;
    },
  },
  {
    group: "health",
    args: "",
    arity: 0,
    summary: "proxy, namespace and pattern health (exit 1 unless serving)",
    async run(ctx) {
      const h = await (await ctx.client({ probe: false })).health.report();
      if (ctx.inv.json) {
        ctx.io.out(toJson({ proxy: h.proxy, namespace: h.namespace, namespace_status: h.namespaceStatus, pattern: h.pattern }));
        return h.ok ? 0 : 1;
      }
      const details = Object.entries(h.pattern.details)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");
      ctx.io.out(`proxy ${ctx.inv.addresses.join(",")}: ${status(ctx.io, h.proxy)}`);
      ctx.io.out(`namespace ${h.namespace}: ${status(ctx.io, h.namespaceStatus)}`);
      ctx.io.out(`pattern: ${status(ctx.io, h.pattern.status)}${h.pattern.message ? ` (${h.pattern.message})` : ""}${details ? `  ${details}` : ""}`);
      return h.ok ? 0 : 1;
    },
  },
  {
    group: "patterns",
    args: "",
    arity: 0,
    summary: "namespaces, patterns, status, health details (from the admin port; exit 1 unless all ready)",
    async run(ctx) {
      const rows = await (await ctx.client({ probe: false })).admin.patterns();
      if (ctx.inv.json) ctx.io.out(JSON.stringify(rows, null, 2));
      else
        for (const line of table(
          ctx.io,
          ["NAMESPACE", "PATTERN", "STATUS", "PID", "ENDPOINT", "RESTARTS", "HEALTH", "DETAILS"],
          instanceRows(rows).map(({ row: r, load }) => [
            r.namespace,
            r.pattern,
            status(ctx.io, r.status),
            r.pid === null ? "-" : String(r.pid),
            r.endpoint ?? "-",
            String(r.restarts),
            r.health ? status(ctx.io, r.health.status) : "-",
            [
              ...Object.entries(r.health?.details ?? {})
                .filter(([k]) => k !== "state")
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([k, v]) => `${k}=${v}`),
              ...load,
              ...(r.last_error ? [`error="${r.last_error}"`] : []),
            ].join(" "),
          ]),
        ))
          ctx.io.out(line);
      return rows.every((r) => r.ready) ? 0 : 1;
    },
  },
];

/** One row per instance for a namespace of several (`name/0`, `name/1`…, with its load), else the namespace's. */
function instanceRows(rows: readonly PatternInfo[]): { row: PatternInfo; load: string[] }[] {
  return rows.flatMap((r): { row: PatternInfo; load: string[] }[] =>
    r.replicas !== undefined && r.replicas.length > 1
      ? r.replicas.map((i) => ({ row: { ...i, namespace: `${r.namespace}/${i.replica}` }, load: [`in_flight=${i.in_flight ?? 0}`, `calls=${i.calls ?? 0}`] }))
      : [{ row: r, load: [] }],
  );
}
