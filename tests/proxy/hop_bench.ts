/**
 * Added cost of the proxy hop: the same prism-load run against dist/memstore
 * directly and through dist/proxy, alternating, in one process lifetime on one
 * machine, at 1 and 64 calls in flight (100-byte Get). Also the proxy's CPU time
 * per forwarded call, from /proc. Not a test (no .test.ts): run it by hand.
 *
 *   ./node_modules/.bin/bun scripts/build.ts memstore=memstore/main.ts proxy=proxy/main.ts prism-load=loadtest/main.ts
 *   ./node_modules/.bin/bun tests/proxy/hop_bench.ts [--duration 5s] [--rounds 3] [--concurrency 1,64]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ROOT } from "../helpers/process";
import { killIfAlive, requireBuilt, startProxy } from "./harness";

interface Report {
  ok: number;
  throughput: number;
  latencyMs: { p50: number; p99: number };
}

const { values } = parseArgs({
  options: { duration: { type: "string", default: "5s" }, rounds: { type: "string", default: "3" }, concurrency: { type: "string", default: "1,64" } },
});
const rounds = Number(values.rounds);
const levels = values.concurrency!.split(",").map(Number);

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function load(flag: "--direct" | "--proxy", address: string, concurrency: number): Report {
  const p = Bun.spawnSync(
    [`${ROOT}/dist/prism-load`, flag, address, "--operation", "get", "--concurrency", String(concurrency), "--duration", values.duration!, "--warmup", "1s", "--json", "-", "--progress", "never"],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (p.exitCode !== 0) throw new Error(`prism-load failed: ${p.stderr.toString()}`);
  return JSON.parse(p.stdout.toString()) as Report;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

requireBuilt("proxy", "memstore", "prism-load");
const proxy = await startProxy("namespaces:\n  - name: default\n    pattern: memstore\n");
const pattern = await proxy.pattern("default");
try {
  const rows: string[] = [];
  for (const c of levels) {
    const direct: Report[] = [];
    const via: Report[] = [];
    const cpuPerCall: number[] = [];
    for (let r = 0; r < rounds; r++) {
      direct.push(load("--direct", pattern.endpoint!, c));
      const before = cpuSeconds(proxy.pid);
      const rep = load("--proxy", proxy.address, c);
      // CPU over warm-up + measured phase, divided by measured calls: a slight overestimate.
      cpuPerCall.push(((cpuSeconds(proxy.pid) - before) / rep.ok) * 1e6);
      via.push(rep);
    }
    const d = { tput: median(direct.map((x) => x.throughput)), p50: median(direct.map((x) => x.latencyMs.p50)), p99: median(direct.map((x) => x.latencyMs.p99)) };
    const p = { tput: median(via.map((x) => x.throughput)), p50: median(via.map((x) => x.latencyMs.p50)), p99: median(via.map((x) => x.latencyMs.p99)) };
    rows.push(
      `| ${c} | ${d.tput.toFixed(0)} | ${p.tput.toFixed(0)} (${(p.tput / d.tput).toFixed(2)}) | ${d.p50.toFixed(3)} | ${p.p50.toFixed(3)} (+${(p.p50 - d.p50).toFixed(3)}) | ${d.p99.toFixed(3)} | ${p.p99.toFixed(3)} (+${(p.p99 - d.p99).toFixed(3)}) | ${median(cpuPerCall).toFixed(0)} |`,
    );
  }
  console.log(`median of ${rounds} alternating rounds of ${values.duration} each (100-byte Get, closed loop):\n`);
  console.log("| in flight | direct calls/s | proxy calls/s (ratio) | direct p50 ms | proxy p50 ms (added) | direct p99 ms | proxy p99 ms (added) | proxy CPU µs/call |");
  console.log("| --: | --: | --: | --: | --: | --: | --: | --: |");
  for (const r of rows) console.log(r);
} finally {
  await proxy.stop();
  proxy.cleanup();
  killIfAlive([pattern.pid]);
}
