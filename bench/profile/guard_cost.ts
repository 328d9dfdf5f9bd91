// What the HTTP/2 guard (sdk/grpc/h2_guard.ts) costs a pattern served directly: dist/memstore with the guard
// (default) and without (PRISM_H2_GUARD=0) in alternating rounds of one run, prism-load on each (Get, closed loop),
// and per round the ratio guard on / off of the pattern's CPU µs per call (user + system from /proc over
// prism-load's measured window / calls completed in it) and of its throughput. Ratios of neighbouring runs, so drift
// of a shared machine mostly cancels; read them with their spread.
//   bun bench/profile/guard_cost.ts [--rounds 5] [--duration 3s] [--concurrency 64]
import { parseArgs } from "node:util";
import { ROOT, startProcess } from "../../tests/helpers/process";
import { CpuSampler } from "../gc_pauses";
import { prismLoad } from "../load";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "3s" },
    concurrency: { type: "string", default: "64" },
  },
});

async function measure(guard: boolean): Promise<{ cpuUsPerCall: number; throughput: number }> {
  const p = startProcess([`${ROOT}/dist/memstore`, "--grpc-port", "0"], { env: guard ? {} : { PRISM_H2_GUARD: "0" } });
  try {
    const address = (await p.waitFor(/grpc listening on (\S+)/, 30_000))[1]!;
    const cpu = new CpuSampler([p.pid]);
    const r = await prismLoad([
      "--direct",
      address,
      "--operation",
      "get",
      "--concurrency",
      values.concurrency!,
      "--duration",
      values.duration!,
      "--warmup",
      "1s",
    ]);
    cpu.stop();
    const from = Date.parse(r.startedAt);
    const cores = cpu.cores(p.pid, from, from + r.durationS * 1000);
    if (cores === undefined) throw new Error("too few CPU samples in the window");
    return { cpuUsPerCall: (cores / r.throughput) * 1e6, throughput: r.throughput };
  } finally {
    await p.stop(10_000);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cpuRatios: number[] = [];
const tputRatios: number[] = [];
const on: number[] = [];
const off: number[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  const order = round % 2 === 0 ? [true, false] : [false, true];
  const got = new Map<boolean, { cpuUsPerCall: number; throughput: number }>();
  for (const guard of order) got.set(guard, await measure(guard));
  const a = got.get(true)!;
  const b = got.get(false)!;
  on.push(a.cpuUsPerCall);
  off.push(b.cpuUsPerCall);
  cpuRatios.push(a.cpuUsPerCall / b.cpuUsPerCall);
  tputRatios.push(a.throughput / b.throughput);
  process.stderr.write(
    `round ${round + 1}: guard on ${a.cpuUsPerCall.toFixed(0)} µs/call ${Math.round(a.throughput)}/s, off ${b.cpuUsPerCall.toFixed(0)} µs/call ${Math.round(b.throughput)}/s\n`,
  );
}
const fmt = (xs: number[]) =>
  `${median(xs).toFixed(2)} (min ${Math.min(...xs).toFixed(2)}, max ${Math.max(...xs).toFixed(2)}; rounds ${xs.map((x) => x.toFixed(2)).join(", ")})`;
console.log(`memstore direct, Get, ${values.concurrency} in flight, ${values.rounds} rounds of ${values.duration}:`);
console.log(`- pattern CPU µs per call, guard on / off: ${fmt(cpuRatios)}; medians ${median(on).toFixed(0)} / ${median(off).toFixed(0)} µs`);
console.log(`- throughput, guard on / off: ${fmt(tputRatios)}`);
