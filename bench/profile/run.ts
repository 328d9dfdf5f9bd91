// Where a server's CPU goes per call: memstore served directly, the proxy forwarding to dist/memstore, or memstore
// as the proxy launches it (dist/proxy in front), run from its sources with bench/profile/probe.ts preloaded; after
// a warm-up run, JavaScriptCore's sampling profiler and the process's CPU clock cover one prism-load run (Get,
// closed loop or --rps), and this prints the CPU µs per call and the share of samples per frame (self) and per
// frame of the repository's code (inclusive), plus the shares of a few groups (the HTTP/2 guard, grpc-js,
// node:http2 as Bun implements it, the SDK).
//   bun bench/profile/run.ts --subject memstore|proxy|pattern-via-proxy [--duration 5s] [--warmup 2s] [--concurrency 64]
//                            [--rps N] [--env K=V] [--arg=--flag] [--load-arg=--flag] [--top 20] [--keep profile.json]
// --env and --arg go to the process started here (the proxy for proxy and pattern-via-proxy; a launched pattern
// gets the proxy's environment and its tracing flags); --load-arg to prism-load (e.g. --load-arg=--metadata
// --load-arg=traceparent=...). pattern-via-proxy profiles the pattern as it runs behind the proxy: fed by the
// proxy's HTTP/2 client, on a Unix socket, with whatever headers the proxy adds (with tracing on, a traceparent
// for each call it traces), which a client straight to the pattern does not reproduce.
// Sampling costs CPU of its own: the µs per call here are above an unprofiled run's; compare shares, and runs of one
// invocation of this script.
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, startProcess } from "../../tests/helpers/process";
import { prismLoad } from "../load";
import { envPairs } from "./env_pairs";
import { BUN } from "../processes";

const { values } = parseArgs({
  options: {
    subject: { type: "string", default: "memstore" },
    duration: { type: "string", default: "5s" },
    warmup: { type: "string", default: "2s" },
    concurrency: { type: "string", default: "64" },
    rps: { type: "string" },
    env: { type: "string", multiple: true, default: [] },
    arg: { type: "string", multiple: true, default: [] },
    "load-arg": { type: "string", multiple: true, default: [] },
    top: { type: "string", default: "20" },
    interval: { type: "string", default: "200" },
    keep: { type: "string" },
  },
});
const subjects = ["memstore", "proxy", "pattern-via-proxy"] as const;
const subject = subjects.find((s) => s === values.subject);
if (!subject) {
  process.stderr.write(`profile: --subject is one of ${subjects.join(", ")}, got "${values.subject}"\n`);
  process.exit(2);
}
const viaProxy = subject !== "memstore";
const dir = mkdtempSync(join(tmpdir(), "prism-profile-"));
const out = join(dir, "profile.json");
const env = envPairs(values.env!);
const probe = [BUN, "--preload", `${ROOT}/bench/profile/probe.ts`];
const profiled = { PRISM_PROFILE_OUT: out, PRISM_PROFILE_INTERVAL_US: values.interval! };
const command = (): string[] => {
  if (subject === "memstore") return [...probe, `${ROOT}/memstore/main.ts`, "--grpc-port", "0", ...values.arg!];
  if (subject === "proxy") return [...probe, `${ROOT}/proxy/main.ts`, "--config", "bench/configs/proxy-memstore.yaml", ...values.arg!];
  // The proxy launches "memstore" from a patterns_dir of one script: memstore's sources under the probe.
  const patterns = join(dir, "patterns");
  mkdirSync(patterns);
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
  const launch = Object.entries(profiled).map(([k, v]) => `${k}=${quote(v)}`);
  writeFileSync(join(patterns, "memstore"), `#!/bin/sh\nexec env ${launch.join(" ")} ${[...probe, `${ROOT}/memstore/main.ts`].map(quote).join(" ")} "$@"\n`);
  chmodSync(join(patterns, "memstore"), 0o755);
  const config = join(dir, "proxy.yaml");
  writeFileSync(config, `listen: 127.0.0.1:0\nadmin: { port: 0 }\npatterns_dir: ${patterns}\nnamespaces:\n  - name: default\n    pattern: memstore\n`);
  return [`${ROOT}/dist/proxy`, "--config", config, ...values.arg!];
};
const server = startProcess(command(), { env: { ...env, ...(subject !== "pattern-via-proxy" && profiled) } });
const address = (await server.waitFor(viaProxy ? /prism proxy listening on (\S+)/ : /grpc listening on (\S+)/, 60_000))[1]!;
const target = subject === "pattern-via-proxy" ? Number((await server.waitFor(/"pattern_pid":(\d+)/, 30_000))[1]) : server.pid;

/** One prism-load run of Gets at the subject, closed loop (or --rps), after no warm-up of its own. */
function load(duration: string): Promise<{ ok: number; throughput: number }> {
  const target = [viaProxy ? "--proxy" : "--direct", address, "--operation", "get", "--concurrency", values.concurrency!];
  return prismLoad([...target, "--duration", duration, "--warmup", "0s", ...(values.rps ? ["--rps", values.rps] : []), ...values["load-arg"]!]);
}

try {
  // JIT-compiled as in a long-running process before anything is sampled.
  await load(values.warmup!);
  process.kill(target, "SIGUSR1");
  const r = await load(values.duration!);
  process.kill(target, "SIGUSR2");
  for (const deadline = Date.now() + 30_000; !existsSync(out); await Bun.sleep(50)) {
    if (Date.now() > deadline) throw new Error(`no profile from pid ${target} within 30 s:\n${server.output().slice(-2000)}`);
  }
  await Bun.sleep(200);
  if (values.keep) copyFileSync(out, values.keep);
  const { cpuUs, stacks } = JSON.parse(readFileSync(out, "utf8")) as { cpuUs: { user: number; system: number }; stacks: string[][] };
  const short = (f: string) => f.replace(`${ROOT}/`, "").replace(/^(\S+) .*node_modules\//, "$1 ");
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const groups: Array<[string, RegExp]> = [
    ["HTTP/2 guard (sdk/grpc/h2_guard.ts)", /sdk\/grpc\/h2_guard\.ts/],
    ["grpc-js", /@grpc\/grpc-js\//],
    ["node:http2 (Bun's, internal)", /node:http2|internal:http2|\[native\].*http2|http2/],
    ["SDK (sdk/)", / sdk\//],
    ["pattern (memstore/)", / memstore\//],
    ["proxy (proxy/)", / proxy\//],
    ["h2/ (the proxy's HTTP/2 client)", / h2\//],
  ];
  const groupHits = new Map<string, number>();
  // Own work of a group: the sampled frame is its code, or a native function its code called directly, except the
  // native HTTP/2 parser's read (what the guard hands bytes to: the server's parsing, there with or without it).
  const groupOwn = new Map<string, number>();
  for (const stack of stacks) {
    if (stack.length === 0) continue;
    const frames = stack.map(short);
    self.set(frames[0]!, (self.get(frames[0]!) ?? 0) + 1);
    for (const f of new Set(frames)) inclusive.set(f, (inclusive.get(f) ?? 0) + 1);
    for (const [name, re] of groups) if (frames.some((f) => re.test(f))) groupHits.set(name, (groupHits.get(name) ?? 0) + 1);
    const natives = frames.findIndex((f) => !f.includes("[native]"));
    const owner = natives >= 0 && !frames.slice(0, natives).some((f) => f.startsWith("read ")) ? frames[natives]! : undefined;
    for (const [name, re] of groups) if (owner !== undefined && re.test(owner)) groupOwn.set(name, (groupOwn.get(name) ?? 0) + 1);
  }
  const n = stacks.length;
  const pct = (x: number) => ((100 * x) / n).toFixed(1);
  const cpuTotalUs = cpuUs.user + cpuUs.system;
  const top = Number(values.top);
  console.log(
    `${subject}${values.env!.length ? ` (${values.env!.join(" ")})` : ""}: ${r.ok} calls in ${values.duration} (${Math.round(r.throughput)}/s, ${values.rps ? `${values.rps}/s open loop` : `${values.concurrency} in flight`}); ` +
      `process CPU ${(cpuTotalUs / 1e6).toFixed(2)} s (user ${(cpuUs.user / 1e6).toFixed(2)}, system ${(cpuUs.system / 1e6).toFixed(2)}) = ${(cpuTotalUs / r.ok).toFixed(0)} µs per call, profiler included; ${n} JS-thread samples every ${values.interval} µs\n`,
  );
  console.log(
    "| group | inclusive % (a frame of it anywhere on the stack) | own % (its code on top, or a native function it called, but the HTTP/2 parser's read) |\n| --- | ---: | ---: |",
  );
  for (const [name] of groups) console.log(`| ${name} | ${pct(groupHits.get(name) ?? 0)} | ${pct(groupOwn.get(name) ?? 0)} |`);
  console.log("\n| self % | frame |\n| ---: | --- |");
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`| ${pct(v)} | \`${k}\` |`);
  console.log("\n| inclusive % | frame of the repository's code |\n| ---: | --- |");
  for (const [k, v] of [...inclusive]
    .filter(([k]) => / (sdk|proxy|memstore|h2)\//.test(k))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top))
    console.log(`| ${pct(v)} | \`${k}\` |`);
} finally {
  await server.stop(10_000);
  rmSync(dir, { recursive: true, force: true });
}
