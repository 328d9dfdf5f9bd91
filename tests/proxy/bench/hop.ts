/**
 * Added cost of the proxy hop: the same prism-load run against dist/memstore
 * directly and through dist/proxy, alternating, in one process lifetime on one
 * machine, at 1 and 64 calls in flight (100-byte Get). Also the proxy's CPU time
 * per forwarded call, from /proc. With --grpcjs, also through the grpc-js raw-bytes
 * proxy of contract §7 (grpcjs_raw_proxy.ts, run from source) for comparison.
 * Not a test (no .test.ts): run it by hand.
 *
 *   ./node_modules/.bin/bun scripts/build.ts memstore=memstore/main.ts proxy=proxy/main.ts prism-load=loadtest/main.ts
 *   ./node_modules/.bin/bun tests/proxy/bench/hop.ts [--duration 5s] [--rounds 3] [--concurrency 1,64] [--grpcjs]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { prismLoad } from "../../../bench/load";
import { ROOT, startProcess } from "../../helpers/process";
import { killIfAlive, requireBuilt, startProxy } from "../harness";

interface Report {
  ok: number;
  throughput: number;
  latencyMs: { p50: number; p99: number };
}

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "5s" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "1,64" },
    grpcjs: { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds);
const levels = values.concurrency!.split(",").map(Number);

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function load(flag: "--direct" | "--proxy", address: string, concurrency: number): Promise<Report> {
  return prismLoad(
    [flag, address, "--operation", "get", "--concurrency", String(concurrency), "--duration", values.duration!, "--warmup", "1s"],
    `${ROOT}/dist/prism-load`,
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Sample {
  tput: number;
  p50: number;
  p99: number;
  cpuUs?: number;
}

/** One measured run; with pid, also that process's CPU time per call. */
async function measure(flag: "--direct" | "--proxy", address: string, concurrency: number, pid?: number): Promise<Sample> {
  const before = pid ? cpuSeconds(pid) : 0;
  const r = await load(flag, address, concurrency);
  // CPU over warm-up + measured phase, divided by measured calls: a slight overestimate.
  const cpuUs = pid ? ((cpuSeconds(pid) - before) / r.ok) * 1e6 : undefined;
  return { tput: r.throughput, p50: r.latencyMs.p50, p99: r.latencyMs.p99, cpuUs };
}

function summarize(xs: Sample[]): Sample {
  const cpu = xs.map((x) => x.cpuUs).filter((x): x is number => x !== undefined);
  return {
    tput: median(xs.map((x) => x.tput)),
    p50: median(xs.map((x) => x.p50)),
    p99: median(xs.map((x) => x.p99)),
    cpuUs: cpu.length ? median(cpu) : undefined,
  };
}

requireBuilt("proxy", "memstore", "prism-load");
const proxy = await startProxy("namespaces:\n  - name: default\n    pattern: memstore\n");
const pattern = await proxy.pattern("default");
const grpcjs = values.grpcjs ? startProcess([`${ROOT}/node_modules/.bin/bun`, `${import.meta.dir}/grpcjs_raw_proxy.ts`, pattern.endpoint!, "0"]) : undefined;
const grpcjsAddress = grpcjs ? (await grpcjs.waitFor(/listening on (\S+)/))[1]! : "";
try {
  const rows: string[] = [];
  const row = (c: number, via: string, d: Sample, p: Sample) =>
    `| ${c} | ${via} | ${d.tput.toFixed(0)} | ${p.tput.toFixed(0)} (${(p.tput / d.tput).toFixed(2)}) | ${d.p50.toFixed(3)} | ${p.p50.toFixed(3)} (+${(p.p50 - d.p50).toFixed(3)}) | ${d.p99.toFixed(3)} | ${p.p99.toFixed(3)} (${p.p99 >= d.p99 ? "+" : ""}${(p.p99 - d.p99).toFixed(3)}) | ${p.cpuUs?.toFixed(0) ?? "-"} |`;
  for (const c of levels) {
    const direct: Sample[] = [];
    const via: Sample[] = [];
    const viaGrpcjs: Sample[] = [];
    for (let r = 0; r < rounds; r++) {
      direct.push(await measure("--direct", pattern.endpoint!, c));
      via.push(await measure("--proxy", proxy.address, c, proxy.pid));
      if (grpcjs) viaGrpcjs.push(await measure("--direct", grpcjsAddress, c, grpcjs.pid));
    }
    const d = summarize(direct);
    rows.push(row(c, "prism proxy (HTTP/2 relay)", d, summarize(via)));
    if (grpcjs) rows.push(row(c, "grpc-js raw-bytes proxy", d, summarize(viaGrpcjs)));
  }
  console.log(`median of ${rounds} alternating rounds of ${values.duration} each (100-byte Get, closed loop, prism-load):\n`);
  console.log(
    "| in flight | via | direct calls/s | via calls/s (ratio) | direct p50 ms | via p50 ms (added) | direct p99 ms | via p99 ms (added) | via CPU µs/call |",
  );
  console.log("| --: | -- | --: | --: | --: | --: | --: | --: | --: |");
  for (const r of rows) console.log(r);
} finally {
  await grpcjs?.stop();
  await proxy.stop();
  proxy.cleanup();
  killIfAlive([pattern.pid]);
}
