// Where JavaScriptCore keeps throwing optimized code away under load: a server run with BUN_JSC_printEachOSRExit
// and the DFG/FTL compile-time reports on, prism-load on it for a warm-up and then a measured window, and for the
// window the OSR exits per function and exit kind, and the compile time per function and tier. A function that
// exits thousands of times, or is compiled at FTL again every few seconds, costs CPU no sampling profile shows
// (exits run the code in a lower tier; compiles run on the JIT threads). This found grpc-js's StreamDecoder.write
// leaving its code on one call in three (sdk/grpc/decoder_fast_path.ts).
//   bun bench/profile/osr_exits.ts --subject memstore|proxy [--warmup 10s] [--duration 10s] [--top 15] [--env K=V] [--arg=--flag]
// memstore: the pattern from its sources, served directly. proxy: the proxy from its sources in front of
// dist/memstore, which inherits the variables, so both processes' exits are counted (dist/ names are minified).
// --env and --arg go to the process started here (the proxy's launched pattern inherits the environment and its
// tracing flags), e.g. --arg=--enable-tracing --env OTEL_TRACES_SAMPLER=parentbased_traceidratio.
// Printing every exit slows the server: compare counts per call, not throughput.
import { parseArgs } from "node:util";
import { ROOT, startProcess } from "../../tests/helpers/process";
import { prismLoad } from "../load";
import { envPairs } from "./env_pairs";
import { BUN } from "../processes";

const { values } = parseArgs({
  options: {
    subject: { type: "string", default: "memstore" },
    warmup: { type: "string", default: "10s" },
    duration: { type: "string", default: "10s" },
    top: { type: "string", default: "15" },
    env: { type: "string", multiple: true, default: [] },
    arg: { type: "string", multiple: true, default: [] },
  },
});
const env = envPairs(values.env!);
const proxy = values.subject === "proxy";
const command = [
  ...(proxy ? [BUN, `${ROOT}/proxy/main.ts`, "--config", "bench/configs/proxy-memstore.yaml"] : [BUN, `${ROOT}/memstore/main.ts`, "--grpc-port", "0"]),
  ...values.arg!,
];
const server = startProcess(command, {
  env: { ...env, BUN_JSC_printEachOSRExit: "1", BUN_JSC_reportDFGCompileTimes: "1", BUN_JSC_reportFTLCompileTimes: "1" },
});

async function load(duration: string, address: string): Promise<number> {
  const target = [proxy ? "--proxy" : "--direct", address, "--operation", "get", "--concurrency", "64"];
  return (await prismLoad([...target, "--duration", duration, "--warmup", "0s"])).ok;
}

/** count per key, largest first */
function tally(lines: string[], key: (line: string) => [string, number] | undefined): Array<[string, number, number]> {
  const by = new Map<string, [number, number]>();
  for (const line of lines) {
    const k = key(line);
    if (!k) continue;
    const [n, sum] = by.get(k[0]) ?? [0, 0];
    by.set(k[0], [n + 1, sum + k[1]]);
  }
  return [...by].map(([k, [n, sum]]) => [k, n, sum] as [string, number, number]);
}

try {
  const address = (await server.waitFor(proxy ? /prism proxy listening on (\S+)/ : /grpc listening on (\S+)/, 60_000))[1]!;
  await load(values.warmup!, address);
  const mark = server.output().length;
  const calls = await load(values.duration!, address);
  const lines = server.output().slice(mark).split("\n");
  const exits = tally(lines, (l) => {
    const m = /^Speculation failure in ([^:]*):\[.*?(DFG|FTL)FunctionCall.*?@ exit #\d+ \(bc#(\d+), (\w+)\)/.exec(l);
    return m ? [`${m[1]} (${m[2]}) bc#${m[3]} ${m[4]}`, 1] : undefined;
  }).sort((a, b) => b[1] - a[1]);
  const compiles = tally(lines, (l) => {
    const m = /^Optimized ([^:]*):\[.*using (DFG|FTL) .* in ([\d.]+) ms/.exec(l);
    return m ? [`${m[1]} ${m[2]}`, Number(m[3])] : undefined;
  }).sort((a, b) => b[2] - a[2]);
  const top = Number(values.top);
  const totalExits = exits.reduce((n, e) => n + e[1], 0);
  const totalMs = compiles.reduce((n, c) => n + c[2], 0);
  console.log(
    `${[values.subject, ...values.env!, ...values.arg!].join(" ")}: ${calls} calls in ${values.duration} after ${values.warmup} of warm-up; ${totalExits} OSR exits (${((1000 * totalExits) / Math.max(calls, 1)).toFixed(1)} per 1,000 calls); ${totalMs.toFixed(0)} ms of DFG/FTL compiling\n`,
  );
  console.log("| OSR exits | per 1,000 calls | function (tier) bytecode, exit kind |\n| ---: | ---: | --- |");
  for (const [k, n] of exits.slice(0, top)) console.log(`| ${n} | ${((1000 * n) / Math.max(calls, 1)).toFixed(1)} | \`${k}\` |`);
  console.log("\n| compile ms | compiles | function, tier |\n| ---: | ---: | --- |");
  for (const [k, n, ms] of compiles.slice(0, top)) console.log(`| ${ms.toFixed(1)} | ${n} | \`${k}\` |`);
} finally {
  await server.stop(10_000);
}
