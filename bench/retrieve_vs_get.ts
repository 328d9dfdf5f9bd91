// KeyValuePattern.Retrieve vs KeyValueBasicInterface.Get through one proxy + memstore, in alternating rounds (the
// order flips each round, so a machine whose load drifts favours neither), then GetCapabilities and Get with one
// call in flight.   bun bench/retrieve_vs_get.ts [--rounds 4] [--duration 3s]
import { parseArgs } from "node:util";
import { prismLoad } from "./load";
import { startProxy } from "./processes";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "4" }, duration: { type: "string", default: "3s" } } });
const s = await startProxy("memstore");
try {
  const sum = { interface: 0, pattern: 0 };
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const service of round % 2 ? (["interface", "pattern"] as const) : (["pattern", "interface"] as const)) {
      const r = await prismLoad([
        "--proxy",
        s.address,
        "--operation",
        "get",
        "--service",
        service,
        "--concurrency",
        "64",
        "--duration",
        values.duration!,
        "--warmup",
        "1s",
      ]);
      sum[service] += r.throughput;
      console.log(
        `round ${round} ${service === "pattern" ? "Retrieve" : "Get     "}: ${Math.round(r.throughput)} ops/s, p50 ${r.latencyMs.p50} ms, errors ${JSON.stringify(r.errors)}`,
      );
    }
  }
  console.log(`Retrieve / Get, throughput summed over the rounds: ${(sum.pattern / sum.interface).toFixed(3)}`);
  for (const op of ["capabilities", "get"]) {
    const r = await prismLoad(["--proxy", s.address, "--operation", op, "--concurrency", "1", "--duration", values.duration!, "--warmup", "1s"]);
    console.log(`${op === "get" ? "Get" : "GetCapabilities"}, 1 in flight: p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms`);
  }
} finally {
  await s.stop();
}
