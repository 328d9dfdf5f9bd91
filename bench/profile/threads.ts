// CPU per call of each thread of the proxy and of the pattern it launches (dist/), for a few proxy set-ups that
// differ by flags or environment: all started at once and warmed, then prism-load on each in turn, round after
// round (the order reversed every other round), so that drift on a shared machine hits every set-up alike and no
// window includes a start-up. Threads are grouped by name from /proc/<pid>/task/*/stat: the main (JavaScript)
// thread, JSC's JIT compiler, GC helper threads, and the rest. What this showed: with tracing at a ratio, the
// proxy's main thread spent ~3 µs more per call starting spans it then dropped (RootSampling, since).
//   bun bench/profile/threads.ts [--rounds 6] [--duration 5s] [--warmup 5s] [--rps N] --variant NAME=[ARG|K=V ...] ...
// A variant's words of the form K=V are environment, the others proxy flags; an OTLP collector stand-in is started
// and OTEL_EXPORTER_OTLP_PROTOCOL/ENDPOINT point at it unless a variant sets them. Example:
//   bun bench/profile/threads.ts --variant off= --variant "ratio=--enable-tracing --trace-exporter otlp
//     OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01"
import { readdirSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { OtlpCollector } from "../../tests/helpers/otlp_collector";
import { parseDuration } from "../../sdk/config/schema";
import { prismLoad } from "../load";
import { envPairs, isEnvPair } from "./env_pairs";
import { machineCpuSeconds, type Server, startProxy } from "../processes";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "6" },
    duration: { type: "string", default: "5s" },
    warmup: { type: "string", default: "5s" },
    variant: { type: "string", multiple: true, default: [] },
    rps: { type: "string" },
  },
});
if (values.variant!.length === 0) {
  process.stderr.write("threads: give at least one --variant NAME=[ARG|K=V ...]\n");
  process.exit(2);
}
for (const d of [values.duration!, values.warmup!]) {
  if (parseDuration(d) === undefined) {
    process.stderr.write(`threads: "${d}" is not a duration (e.g. 5s)\n`);
    process.exit(2);
  }
}
const TICKS_PER_SECOND = 100;

/** A thread's group: what JavaScriptCore and Bun name their threads. */
function group(name: string, main: boolean): string {
  if (main) return "main";
  if (name.startsWith("JIT")) return "JIT";
  if (name.startsWith("Heap")) return "GC helpers";
  return "other";
}

/** CPU seconds per thread group of one process so far. */
function threadCpu(pid: number): Map<string, number> {
  const by = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const g = group(stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), tid === String(pid));
    by.set(g, (by.get(g) ?? 0) + (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND);
  }
  return by;
}

interface Variant {
  name: string;
  server: Server;
  calls: number;
  throughput: number[];
  /** CPU seconds per process (proxy, pattern) and thread group over the measured windows. */
  cpu: [Map<string, number>, Map<string, number>];
  /** The whole machine's busy and idle CPU seconds over the measured windows (the client and everything else too). */
  machine: { busy: number; idle: number };
}

const collector = await new OtlpCollector(false).start();
const variants: Variant[] = [];
try {
  for (const spec of values.variant!) {
    const name = spec.slice(0, spec.indexOf("=") < 0 ? spec.length : spec.indexOf("="));
    const words = spec
      .slice(name.length + 1)
      .split(/\s+/)
      .filter(Boolean);
    const env = {
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.httpPort}`,
      ...envPairs(words.filter(isEnvPair)),
    };
    const args = words.filter((w) => !isEnvPair(w));
    variants.push({
      name,
      server: await startProxy("memstore", { args, env }),
      calls: 0,
      throughput: [],
      cpu: [new Map(), new Map()],
      machine: { busy: 0, idle: 0 },
    });
  }
  // Open loop at --rps: the same calls/s in every set-up, so per-call CPU is compared at the same batching.
  const rate = values.rps ? ["--rps", values.rps] : [];
  const load = (v: Variant, duration: string) =>
    prismLoad(["--proxy", v.server.address, "--operation", "get", "--concurrency", "64", "--duration", duration, "--warmup", "0s", ...rate]);
  for (const v of variants) await load(v, values.warmup!);
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      const pids = v.server.pids.slice(0, 2);
      const before = pids.map(threadCpu);
      const machine0 = machineCpuSeconds();
      const r = await load(v, values.duration!);
      const machine1 = machineCpuSeconds();
      const after = pids.map(threadCpu);
      v.machine.busy += machine1.busy - machine0.busy;
      v.machine.idle += machine1.idle - machine0.idle;
      v.calls += r.ok;
      v.throughput.push(r.throughput);
      after.forEach((m, i) => {
        for (const [g, s] of m) v.cpu[i]!.set(g, (v.cpu[i]!.get(g) ?? 0) + s - (before[i]!.get(g) ?? 0));
      });
    }
  }
} finally {
  for (const v of variants) await v.server.stop();
  collector.stop();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const groups = ["main", "JIT", "GC helpers", "other"];
const first = median(variants[0]!.throughput);
console.log(
  `${values.rounds} rounds of ${values.duration} per set-up after ${values.warmup} of warm-up each; memstore Get through the proxy, 64 in flight; CPU µs per call over all rounds\n`,
);
console.log(
  `| set-up | calls/s, median | / ${variants[0]!.name} | ${["proxy", "pattern"].flatMap((p) => groups.map((g) => `${p} ${g}`)).join(" | ")} | machine busy | machine idle % |`,
);
console.log(
  `| --- | ---: | ---: | ${Array(2 * groups.length + 2)
    .fill("---:")
    .join(" | ")} |`,
);
for (const v of variants) {
  const us = v.cpu.flatMap((m) => groups.map((g) => (((m.get(g) ?? 0) * 1e6) / Math.max(v.calls, 1)).toFixed(1)));
  const busy = ((v.machine.busy * 1e6) / Math.max(v.calls, 1)).toFixed(1);
  const idle = ((100 * v.machine.idle) / Math.max(v.machine.busy + v.machine.idle, 1e-9)).toFixed(1);
  console.log(`| ${v.name} | ${median(v.throughput).toFixed(0)} | ${(median(v.throughput) / first).toFixed(3)} | ${us.join(" | ")} | ${busy} | ${idle} |`);
}
