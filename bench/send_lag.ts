// The load generator's own pacing error: prism-load builds side by side against the bare
// gRPC echo (bench/echo_server.ts) at a fixed rate, in alternating rounds, reporting send lag
// (actual − scheduled send) apart from service time (send → reply).
//   bash tests/proxy/bench/build_at.sh <commit> /tmp/before      # → /tmp/before/dist/prism-load
//   ./node_modules/.bin/bun bench/send_lag.ts --generator before=/tmp/before/dist/prism-load --generator after=dist/prism-load \
//       [--rps 1000] [--rounds 5] [--duration 3s]
import { parseArgs } from "node:util";
import { prismLoad } from "./load";
import { BUN } from "./processes";
import { ROOT } from "../tests/helpers/process";

const { values } = parseArgs({
  options: {
    generator: { type: "string", multiple: true, default: [] },
    rps: { type: "string", default: "1000" },
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "3s" },
  },
});
const gens = values.generator!.map((g) => g.split("=") as [string, string]);
if (gens.length === 0) throw new Error("give at least one --generator name=path/to/prism-load");
const echo = Bun.spawn([BUN, `${ROOT}/bench/echo_server.ts`], { stdout: "pipe" });
const reader = echo.stdout.getReader();
let banner = "";
while (!/listening on (\S+)/.test(banner)) banner += new TextDecoder().decode((await reader.read()).value);
const addr = banner.match(/listening on (\S+)/)![1]!;
const keys = ["lag50", "lag99", "lag999", "svc50", "svc99", "lat99"] as const;
const res = new Map<string, Record<string, number[]>>();
try {
  for (let r = 0; r < Number(values.rounds); r++)
    for (const [name, exe] of gens) {
      const j = await prismLoad(
        ["--direct", addr, "--operation", "get", "--rps", values.rps!, "--concurrency", "64", "--duration", values.duration!, "--warmup", "1s"],
        exe,
      );
      const lag = j.sendLagMs;
      if (lag === null) throw new Error(`${exe} reported no send lag (an open-loop run should)`);
      const got = {
        lag50: lag.p50,
        lag99: lag.p99,
        lag999: lag.p999,
        svc50: j.serviceTimeMs.p50,
        svc99: j.serviceTimeMs.p99,
        lat99: j.latencyMs.p99,
      };
      const row = res.get(name) ?? {};
      for (const k of keys) (row[k] ??= []).push(got[k]);
      res.set(name, row);
    }
} finally {
  echo.kill();
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `prism-load against bench/echo_server.ts at ${values.rps}/s (≤ 64 in flight), ${values.rounds} alternating rounds of ${values.duration} after 1 s warm-up; median of the rounds, ms\n`,
);
console.log(
  "| generator | send lag p50 | send lag p99 | send lag p99.9 | service p50 | service p99 | latency p99 |\n| -- | --: | --: | --: | --: | --: | --: |",
);
for (const [name, row] of res) console.log(`| ${name} | ${keys.map((k) => med(row[k]!).toFixed(3)).join(" | ")} |`);
console.log(`\nsend lag p99 per round: ${[...res].map(([n, r]) => `${n} ${r.lag99!.map((x) => x.toFixed(3)).join(", ")}`).join("; ")}`);
