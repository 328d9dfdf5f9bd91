/**
 * Where the proxy's JavaScript thread spends its time under load: the proxy runs
 * in this process (from source, launching dist/memstore), JavaScriptCore's
 * sampling profiler (bun:jsc profile) runs only while dist/prism-load keeps
 * `--concurrency` Gets in flight through it, and the top frames are printed
 * (self samples, and inclusive samples of the proxy's own functions).
 * `bun --cpu-prof` is not used: in Bun 1.4.4 it stops sampling once the event
 * loop goes idle after start-up, so it shows start-up only. Not a test: run it by hand.
 *
 *   ./node_modules/.bin/bun tests/proxy/bench/profile.ts [--duration 5s] [--concurrency 64] [--interval 200] [--top 25]
 */
import { profile } from "bun:jsc";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "../../../sdk/observability/logger";
import { Proxy } from "../../../proxy/proxy";
import { loadProxySettings } from "../../../proxy/settings";
import { ROOT } from "../../helpers/process";
import { requireBuilt } from "../harness";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "5s" },
    concurrency: { type: "string", default: "64" },
    interval: { type: "string", default: "200" },
    top: { type: "string", default: "25" },
    rps: { type: "string" },
    /** Also print the most frequent stacks, this many frames deep. */
    stacks: { type: "string", default: "0" },
  },
});
requireBuilt("proxy", "memstore", "prism-load");
const dir = mkdtempSync(join(tmpdir(), "prism-profile-"));
const file = join(dir, "proxy.yaml");
writeFileSync(file, "listen: 127.0.0.1:0\nadmin: { port: 0 }\nnamespaces:\n  - name: default\n    pattern: memstore\n");
const settings = await loadProxySettings(["--config", file, "--patterns-dir", `${ROOT}/dist`, "--log-format", "text"], {});
const proxy = new Proxy(settings, createLogger({ level: "warn", format: "text", fields: {} }));
const { listen } = await proxy.start();

const load = (seconds: string) =>
  Bun.spawn(
    [
      `${ROOT}/dist/prism-load`,
      "--proxy",
      listen,
      "--operation",
      "get",
      "--concurrency",
      values.concurrency!,
      "--duration",
      seconds,
      "--warmup",
      "1s",
      "--json",
      "-",
      "--progress",
      "never",
      ...(values.rps ? ["--rps", values.rps] : []),
    ],
    { stdout: "pipe", stderr: "inherit" },
  );
// One unprofiled run first, so the proxy's code is JIT-compiled as it would be in a long-running process.
await load("2s").exited;
const cpu0 = process.cpuUsage();
let result: { ok: number; throughput: number } | undefined;
const p = await profile(async () => {
  const run = load(values.duration!);
  result = (await new Response(run.stdout).json()) as typeof result;
  await run.exited;
}, Number(values.interval));
const cpu = process.cpuUsage(cpu0);
await proxy.shutdown();
rmSync(dir, { recursive: true, force: true });

const traces = p.stackTraces.traces;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const name = (f: { name: string; sourceURL?: string; line?: number }) =>
  `${f.name || "(anonymous)"} ${(f.sourceURL ?? "[native]").replace(`${ROOT}/`, "").replace(/^.*node_modules\//, "")}${f.line && f.line < 1e9 ? `:${f.line}` : ""}`;
for (const t of traces) {
  const frames = t.frames as { name: string; sourceURL?: string; line?: number }[];
  if (frames.length === 0) continue;
  const top = name(frames[0]!);
  self.set(top, (self.get(top) ?? 0) + 1);
  const seen = new Set<string>();
  for (const f of frames) {
    const n = name(f);
    if (seen.has(n)) continue;
    seen.add(n);
    inclusive.set(n, (inclusive.get(n) ?? 0) + 1);
  }
}
const n = traces.length;
const topN = Number(values.top);
const pct = (x: number) => ((100 * x) / n).toFixed(1);
const cpuS = (cpu.user + cpu.system) / 1e6;
console.log(
  `${n} samples every ${values.interval} µs over prism-load's run (${values.duration} + 1 s warm-up): ${Math.round(result!.throughput)} calls/s; ` +
    `proxy process CPU ${cpuS.toFixed(2)} s (user ${(cpu.user / 1e6).toFixed(2)}, sys ${(cpu.system / 1e6).toFixed(2)}), ${((cpuS / result!.ok) * 1e6).toFixed(0)} µs per measured call (incl. warm-up)\n`,
);
// Whose code the thread was in: the proxy's own (proxy/, sdk/), its metrics library, or the runtime (node:http2, streams, events, native).
const share = (re: RegExp) => pct([...self].filter(([k]) => re.test(k)).reduce((a, [, v]) => a + v, 0));
console.log(
  `self samples in proxy/ and sdk/ code ${share(/ (proxy|sdk)\//)} %, in prom-client ${share(/ prom-client\//)} %, elsewhere (runtime: node:http2, streams, events, native) the rest\n`,
);
console.log("| self % | frame |\n| --: | -- |");
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, topN)) console.log(`| ${pct(v)} | \`${k}\` |`);
console.log("\n| inclusive % | frame (proxy/ and sdk/ code) |\n| --: | -- |");
for (const [k, v] of [...inclusive]
  .filter(([k]) => / (proxy|sdk)\//.test(k))
  .sort((a, b) => b[1] - a[1])
  .slice(0, topN))
  console.log(`| ${pct(v)} | \`${k}\` |`);
const depth = Number(values.stacks);
if (depth > 0) {
  const stacks = new Map<string, number>();
  for (const t of traces) {
    const k = (t.frames as { name: string; sourceURL?: string; line?: number }[]).slice(0, depth).map(name).join(" ← ");
    stacks.set(k, (stacks.get(k) ?? 0) + 1);
  }
  console.log("\n| % | stack (innermost first) |\n| --: | -- |");
  for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, topN)) console.log(`| ${pct(v)} | \`${k}\` |`);
}
console.log(`\n${p.functions.split("\n").slice(0, 3).join("\n")}`);
console.log(p.bytecodes.split("\n").slice(0, 13).join("\n"));
process.exit(0);
