/**
 * What each performance lever bought: builds of the proxy (each a dist/ folder with
 * proxy, memstore and prism-load, made by build_at.sh from a commit) measured side
 * by side in alternating rounds, in one run, with one load generator (this tree's
 * dist/prism-load unless --generator DIR says otherwise) and one direct memstore (DIR/memstore) as the
 * reference. Per build: through-proxy throughput with 64 in flight, its ratio to
 * direct, the proxy's CPU per forwarded call (from /proc), and p50 / p99 at 1 in
 * flight and at --rps (open loop: latency, service time and the generator's send lag).
 * Not a test: run it by hand.
 *
 *   bash tests/proxy/bench/build_at.sh <commit> /tmp/before    # → /tmp/before/dist
 *   ./node_modules/.bin/bun tests/proxy/bench/levers.ts --variant before=/tmp/before/dist --variant after=dist \
 *       [--duration 3s] [--rounds 3] [--concurrency 64,1] [--rps 1000] [--generator DIR]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { prismLoad } from "../../../bench/load";
import { cpuSeconds } from "../../../bench/processes";
import { ROOT, startProcess, type StartedProcess } from "../../helpers/process";

const { values } = parseArgs({
  options: {
    variant: { type: "string", multiple: true, default: [] },
    duration: { type: "string", default: "3s" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "64,1" },
    rps: { type: "string", default: "" },
    /** A dist/ folder whose prism-load drives every build and whose memstore is the direct reference. */
    generator: { type: "string", default: `${ROOT}/dist` },
  },
});
const variants = values.variant!.map((v) => {
  const [name, dir] = v.split("=") as [string, string];
  return { name, dir: resolve(dir) };
});
if (variants.length === 0) throw new Error("give at least one --variant name=distdir");
const generatorDir = resolve(values.generator!);
const rounds = Number(values.rounds);
const levels = values.concurrency!.split(",").filter(Boolean).map(Number);
const rpsLevels = values.rps!.split(",").filter(Boolean).map(Number);

interface Report {
  ok: number;
  throughput: number;
  latencyMs: { p50: number; p99: number };
  serviceTimeMs: { p50: number; p99: number };
  sendLagMs: { p50: number; p99: number } | null;
}

function load(flag: "--direct" | "--proxy", address: string, args: string[]): Promise<Report> {
  return prismLoad([flag, address, "--operation", "get", "--duration", values.duration!, "--warmup", "1s", ...args], `${generatorDir}/prism-load`);
}

async function startVariantProxy(dir: string): Promise<{ proc: StartedProcess; address: string; cleanup(): void }> {
  const tmp = mkdtempSync(join(tmpdir(), "prism-levers-"));
  const file = join(tmp, "proxy.yaml");
  writeFileSync(file, "namespaces:\n  - name: default\n    pattern: memstore\n");
  const proc = startProcess([`${dir}/proxy`, "--config", file, "--listen", "127.0.0.1:0", "--admin-port", "0", "--patterns-dir", dir]);
  const m = await proc.waitFor(/prism proxy listening on (\S+)/, 30_000);
  await proc.waitFor(/namespace default -> memstore .* serving/, 30_000);
  return { proc, address: m[1]!, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const direct = startProcess([`${generatorDir}/memstore`, "--grpc-port", "0"]);
const directAddr = (await direct.waitFor(/grpc listening on (\S+)/))[1]!;
const proxies = [];
for (const v of variants) proxies.push({ ...v, ...(await startVariantProxy(v.dir)) });
try {
  type Row = Record<string, number[]>;
  const results = new Map<string, Row>();
  const push = (key: string, metric: string, x: number) => {
    const row = results.get(key) ?? {};
    (row[metric] ??= []).push(x);
    results.set(key, row);
  };
  for (let r = 0; r < rounds; r++) {
    for (const c of levels) {
      const d = await load("--direct", directAddr, ["--concurrency", String(c)]);
      push(`direct`, `tput${c}`, d.throughput);
      push(`direct`, `p50_${c}`, d.latencyMs.p50);
      push(`direct`, `p99_${c}`, d.latencyMs.p99);
      for (const p of proxies) {
        const before = cpuSeconds(p.proc.pid);
        const x = await load("--proxy", p.address, ["--concurrency", String(c)]);
        push(p.name, `tput${c}`, x.throughput);
        push(p.name, `ratio${c}`, x.throughput / d.throughput);
        push(p.name, `cpu${c}`, ((cpuSeconds(p.proc.pid) - before) / x.ok) * 1e6);
        push(p.name, `p50_${c}`, x.latencyMs.p50);
        push(p.name, `p99_${c}`, x.latencyMs.p99);
      }
    }
    for (const rps of rpsLevels) {
      const args = ["--concurrency", "64", "--rps", String(rps)];
      const d = await load("--direct", directAddr, args);
      for (const [k, v] of Object.entries({
        [`o${rps}p50`]: d.latencyMs.p50,
        [`o${rps}p99`]: d.latencyMs.p99,
        [`o${rps}svc99`]: d.serviceTimeMs.p99,
        [`o${rps}lag99`]: d.sendLagMs?.p99 ?? NaN,
      }))
        push("direct", k, v);
      for (const p of proxies) {
        const before = cpuSeconds(p.proc.pid);
        const x = await load("--proxy", p.address, args);
        push(p.name, `o${rps}cpu`, ((cpuSeconds(p.proc.pid) - before) / x.ok) * 1e6);
        for (const [k, v] of Object.entries({
          [`o${rps}p50`]: x.latencyMs.p50,
          [`o${rps}p99`]: x.latencyMs.p99,
          [`o${rps}svc99`]: x.serviceTimeMs.p99,
          [`o${rps}lag99`]: x.sendLagMs?.p99 ?? NaN,
          [`o${rps}add50`]: x.serviceTimeMs.p50 - d.serviceTimeMs.p50,
          [`o${rps}add99`]: x.serviceTimeMs.p99 - d.serviceTimeMs.p99,
        }))
          push(p.name, k, v);
      }
    }
  }
  const cols: [string, string, number][] = [];
  for (const c of levels) {
    cols.push(
      [`tput${c}`, `${c} in flight: calls/s`, 0],
      [`ratio${c}`, `/ direct`, 2],
      [`cpu${c}`, `proxy CPU µs/call`, 0],
      [`p50_${c}`, `p50 ms`, 3],
      [`p99_${c}`, `p99 ms`, 3],
    );
  }
  for (const rps of rpsLevels) {
    cols.push(
      [`o${rps}cpu`, `${rps}/s: proxy CPU µs/call`, 0],
      [`o${rps}p50`, `p50 ms`, 3],
      [`o${rps}p99`, `p99 ms`, 3],
      [`o${rps}svc99`, `service p99 ms`, 3],
      [`o${rps}add50`, `proxy-added service p50 ms`, 3],
      [`o${rps}add99`, `proxy-added service p99 ms`, 3],
      [`o${rps}lag99`, `send lag p99 ms`, 3],
    );
  }
  console.log(
    `${rounds} alternating rounds (calls/s: best round; its ratio to direct: median of the rounds' ratios; CPU µs/call: lowest round; latencies: median), ${values.duration} each after 1 s warm-up (100-byte Get; generator and direct memstore from ${generatorDir}):\n`,
  );
  console.log(`| build | ${cols.map((c) => c[1]).join(" | ")} |`);
  console.log(`| -- | ${cols.map(() => "--:").join(" | ")} |`);
  for (const name of ["direct", ...variants.map((v) => v.name)]) {
    const row = results.get(name) ?? {};
    // Throughput and CPU per call: the best round (least disturbed by other work on the machine); latencies and the
    // ratio to direct (a disturbed direct round would inflate the best one): the median.
    const pick = (k: string, xs: number[]) => (/^tput/.test(k) ? Math.max(...xs) : /^cpu/.test(k) ? Math.min(...xs) : median(xs));
    console.log(`| ${name} | ${cols.map(([k, , digits]) => (row[k] ? pick(k, row[k]!).toFixed(digits) : "–")).join(" | ")} |`);
  }
} finally {
  for (const p of proxies) {
    await p.proc.stop(10_000);
    p.cleanup();
  }
  await direct.stop();
}
