// The garbage collector's pauses at the moderate rate, per process: the profile behind the latency tail.
// Every process runs with BUN_JSC_logGC=1 and its stderr on a pipe of its own (bench/gc_log.ts parses it):
//   - floor: prism-load → the bare gRPC echo (bench/echo_server.ts), the generator and a server without the SDK;
//   - memstore direct: prism-load → dist/memstore;
//   - through the proxy: prism-load → dist/proxy (bench/configs/proxy-memstore.yaml) → the dist/memstore it
//     launches. The proxy hands its own stderr to the patterns it launches, so here it launches them from a
//     patterns directory (--patterns-dir) holding one shell script, `memstore`, that execs dist/memstore (same
//     pid, same arguments, same Unix socket) with its stderr on a FIFO this process reads.
// The window is prism-load's measured phase: its report's startedAt + durationS, on the clock the lines are
// stamped with on arrival.
//   ./node_modules/.bin/bun bench/gc_pauses.ts [--rps 1000] [--duration 5s] [--warmup 1s] [--concurrency 64]
import type { Subprocess } from "bun";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Report } from "../loadtest/report";
import { parseDuration } from "../sdk/config/schema";
import { ROOT } from "../tests/helpers/process";
import { anyPausedShare, GcLogReader, pauseOnlyWait, summarizeGc, type GcHeapSummary } from "./gc_log";
import { BUN, cpuSeconds, dist, missingExecutable } from "./processes";

/** One process of a set-up and what its collector did in the measured window. */
export interface GcProcessResult {
  name: string;
  heaps: GcHeapSummary[];
  /** The process's CPU time (user + system, all its threads) over the window per second: cores busy. */
  cpuCores?: number;
}

/** One set-up: the processes, the generator's own figures, and each process's pauses. */
export interface GcPauseResult {
  id: string;
  label: string;
  status: "ok" | "not run" | "failed";
  reason?: string;
  command?: string;
  windowS?: number;
  /** prism-load's report for the run (with the collector log on, which costs each process a little). */
  load?: { throughput: number; latencyP99Ms: number; latencyP999Ms?: number; serviceP99Ms: number; sendLagP99Ms: number | null };
  processes: GcProcessResult[];
  /** Share of the window in which at least one thread of the set-up (any process, Workers included) was paused. */
  anyPausedShare?: number;
  /** The p99 and p99.9 wait those pauses alone would add to a call sent at a random moment (bench/gc_log.ts pauseOnlyWait), ms. */
  pauseOnlyP99Ms?: number;
  pauseOnlyP999Ms?: number;
}

export interface GcPauseSettings {
  moderateRps: number;
  durationS: number;
  warmupS: number;
  concurrency: number;
  valueSize: number;
  keys: number;
}

const LOG_GC = { BUN_JSC_logGC: "1" };
const START_TIMEOUT_MS = 30_000;

/** A process started with its stdout kept and its stderr (or a FIFO) read as a collector log. */
interface Logged {
  name: string;
  pid: number;
  gc: GcLogReader;
  stdout(): string;
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

function spawnLogged(name: string, cmd: string[], env: Record<string, string> = {}): { proc: Subprocess<"ignore", "pipe", "pipe">; logged: Logged } {
  const proc = Bun.spawn(cmd, { cwd: ROOT, env: { ...process.env, ...LOG_GC, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let out = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) out += decoder.decode(chunk, { stream: true });
  })();
  const gc = new GcLogReader(proc.stderr);
  const waitFor = async (re: RegExp) => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const m = out.match(re);
      if (m) return m;
      if (proc.exitCode !== null || Date.now() > deadline)
        throw new Error(`${name}: no ${re} (${proc.exitCode === null ? "timed out" : `exited ${proc.exitCode}`}): ${(out + gc.otherLines()).slice(-800)}`);
      await Bun.sleep(20);
    }
  };
  return { proc, logged: { name, pid: proc.pid, gc, stdout: () => out, waitFor, stop: () => stopPid(proc.pid, proc.exited) } };
}

/** SIGTERM, then SIGKILL after 10 s; by pid only. */
async function stopPid(pid: number, exited?: Promise<unknown>): Promise<void> {
  if (!(pid > 0)) return; // never 0 or negative: those would signal a whole process group
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  if (exited) await Promise.race([exited, Bun.sleep(10_000)]);
  else while (alive() && Date.now() < deadline) await Bun.sleep(50);
  if (alive()) process.kill(pid, "SIGKILL");
}

/** A running set-up: where the generator sends, how (--direct or --proxy), and its processes. */
interface Target {
  address: string;
  via: "--direct" | "--proxy";
  processes: Logged[];
  stop(): Promise<void>;
}

async function echoTarget(): Promise<Target> {
  const { logged } = spawnLogged("bare gRPC echo", [BUN, `${ROOT}/bench/echo_server.ts`]);
  try {
    const address = (await logged.waitFor(/echo grpc listening on (\S+)/))[1]!;
    return { address, via: "--direct", processes: [logged], stop: logged.stop };
  } catch (err) {
    await logged.stop();
    throw err;
  }
}

async function memstoreTarget(): Promise<Target> {
  const { logged } = spawnLogged("memstore", [dist("memstore"), "--grpc-port", "0"]);
  try {
    const address = (await logged.waitFor(/grpc listening on (\S+)/))[1]!;
    return { address, via: "--direct", processes: [logged], stop: logged.stop };
  } catch (err) {
    await logged.stop();
    throw err;
  }
}

/** dist/proxy with bench/configs/proxy-memstore.yaml, launching dist/memstore through a stderr-redirecting exec. */
async function proxyTarget(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), "prism-gc-"));
  const fifo = join(dir, "memstore.stderr");
  const made = Bun.spawnSync(["mkfifo", fifo]);
  if (made.exitCode !== 0) throw new Error(`mkfifo ${fifo}: ${made.stderr.toString()}`);
  const patterns = join(dir, "patterns");
  Bun.spawnSync(["mkdir", patterns]);
  // exec: the proxy's child is dist/memstore itself (the pid it launched registers), only its stderr differs.
  writeFileSync(join(patterns, "memstore"), `#!/bin/sh\nexec '${dist("memstore")}' "$@" 2>'${fifo}'\n`);
  chmodSync(join(patterns, "memstore"), 0o755);
  // Opened before the pattern opens it for writing (which waits for a reader); ends when the pattern exits.
  const patternGc = new GcLogReader(Bun.file(fifo).stream());
  const { logged: proxy } = spawnLogged("proxy", [dist("proxy"), "--config", `${ROOT}/bench/configs/proxy-memstore.yaml`, "--patterns-dir", patterns]);
  const patternPid = () => Number(proxy.gc.otherLines().match(/"pattern_pid":(\d+)/)?.[1] ?? 0);
  const stop = async () => {
    const pid = patternPid();
    await proxy.stop();
    if (pid) await stopPid(pid); // gone with the proxy, as it should be; if not, stopped by its pid
    // A pattern that never started leaves the FIFO without a writer: open and close one so the reader ends.
    if (!pid) Bun.spawnSync(["timeout", "2", "sh", "-c", `exec 3>'${fifo}'`]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const address = (await proxy.waitFor(/prism proxy listening on (\S+)/))[1]!;
    const admin = (await proxy.waitFor(/admin: (http:\/\/\S+)/))[1]!;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while ((await fetch(`${admin}/ready`).catch(() => undefined))?.status !== 200) {
      if (Date.now() > deadline) throw new Error(`proxy not ready within ${START_TIMEOUT_MS / 1000} s: ${proxy.gc.otherLines().slice(-800)}`);
      await Bun.sleep(100);
    }
    const pid = patternPid();
    if (!pid) throw new Error(`the proxy is ready but logged no pattern_pid: ${proxy.gc.otherLines().slice(-800)}`);
    const pattern: Logged = {
      name: "memstore (launched by the proxy)",
      pid,
      gc: patternGc,
      stdout: () => "",
      waitFor: () => Promise.reject(new Error("not used")),
      stop: () => stopPid(pid),
    };
    return { address, via: "--proxy", processes: [proxy, pattern], stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Every 100 ms, each process's CPU time so far (/proc/PID/stat), stamped on the clock of the collector log, so
 * the CPU used within the measured window can be read afterwards (the window is known only from the report).
 */
export class CpuSampler {
  private readonly samples = new Map<number, Array<{ at: number; cpuS: number }>>();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly pids: number[]) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }

  private sample(): void {
    const at = performance.timeOrigin + performance.now();
    for (const pid of this.pids) {
      try {
        const cpuS = cpuSeconds(pid);
        const list = this.samples.get(pid) ?? [];
        list.push({ at, cpuS });
        this.samples.set(pid, list);
      } catch {
        // the process has exited: its last sample stands
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Cores busy over [from, to]: CPU between the first sample at or after `from` and the last at or before `to`. */
  cores(pid: number, from: number, to: number): number | undefined {
    const inside = (this.samples.get(pid) ?? []).filter((x) => x.at >= from && x.at <= to);
    if (inside.length < 2) return undefined;
    const a = inside[0]!;
    const b = inside.at(-1)!;
    return (b.cpuS - a.cpuS) / ((b.at - a.at) / 1000);
  }
}

const SETUPS: Array<{ id: string; label: string; executables: string[]; start(): Promise<Target> }> = [
  { id: "echo", label: "bare gRPC echo, direct (floor)", executables: [], start: echoTarget },
  { id: "memstore-direct", label: "memstore, direct", executables: ["memstore"], start: memstoreTarget },
  { id: "memstore-proxy", label: "memstore, through the proxy", executables: ["memstore", "proxy"], start: proxyTarget },
];

async function measure(setup: (typeof SETUPS)[number], s: GcPauseSettings): Promise<GcPauseResult> {
  const base: GcPauseResult = { id: setup.id, label: setup.label, status: "not run", processes: [] };
  const missing = missingExecutable(...setup.executables);
  if (missing) return { ...base, reason: missing };
  const dir = mkdtempSync(join(tmpdir(), "prism-gc-load-"));
  let target: Target | undefined;
  try {
    target = await setup.start();
    const args = [
      target.via,
      target.address,
      "--operation",
      "get",
      "--rps",
      String(s.moderateRps),
      "--concurrency",
      String(s.concurrency),
      "--duration",
      `${s.durationS}s`,
      "--warmup",
      `${s.warmupS}s`,
      "--value-size",
      String(s.valueSize),
      "--keys",
      String(s.keys),
    ];
    const gen = existsSync(dist("prism-load")) ? [dist("prism-load")] : [BUN, `${ROOT}/loadtest/main.ts`];
    const json = join(dir, "report.json");
    const { proc, logged: generator } = spawnLogged("prism-load", [...gen, ...args, "--progress", "never", "--json", json]);
    const cpu = new CpuSampler([generator.pid, ...target.processes.map((p) => p.pid)]);
    const code = await proc.exited;
    cpu.stop();
    await generator.gc.done;
    if (!existsSync(json)) throw new Error(`prism-load exited ${code} without a report: ${(generator.stdout() + generator.gc.otherLines()).slice(-600)}`);
    const report = JSON.parse(readFileSync(json, "utf8")) as Report & { startedAt?: string };
    if (!report.startedAt) throw new Error("prism-load's report has no startedAt: the measured window cannot be placed");
    const from = Date.parse(report.startedAt);
    const to = from + report.durationS * 1000;
    const all = [generator, ...target.processes];
    const processes = all.map((p) => ({ name: p.name, heaps: summarizeGc(p.gc.events, from, to), cpuCores: cpu.cores(p.pid, from, to) }));
    return {
      ...base,
      status: "ok",
      command: `BUN_JSC_logGC=1 prism-load ${args.join(" ")}`,
      windowS: report.durationS,
      load: {
        throughput: report.throughput,
        latencyP99Ms: report.latencyMs.p99,
        latencyP999Ms: report.latencyMs.p999,
        serviceP99Ms: report.serviceTimeMs.p99,
        sendLagP99Ms: report.sendLagMs?.p99 ?? null,
      },
      processes,
      anyPausedShare: anyPausedShare(
        all.map((p) => p.gc.events),
        from,
        to,
      ),
      pauseOnlyP99Ms: pauseOnlyWait(
        all.map((p) => p.gc.events),
        from,
        to,
        0.99,
      ),
      pauseOnlyP999Ms: pauseOnlyWait(
        all.map((p) => p.gc.events),
        from,
        to,
        0.999,
      ),
    };
  } catch (err) {
    return { ...base, status: "failed", reason: (err as Error).message.split("\n")[0]!.slice(0, 300) };
  } finally {
    await target?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each set-up in turn: the floor (bare echo), memstore direct, memstore through the proxy. */
export async function measureGcPauses(s: GcPauseSettings, log: (line: string) => void = () => {}): Promise<GcPauseResult[]> {
  const out: GcPauseResult[] = [];
  for (const setup of SETUPS) {
    log(`GC pauses at ${s.moderateRps}/s: ${setup.label} ...`);
    out.push(await measure(setup, s));
  }
  return out;
}

const f = (v: number, digits = 2) => v.toFixed(digits);
const ms = (v: number) => (v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1));
const opt = (v: number | undefined) => (v === undefined ? "–" : ms(v));

/** The table: one line per process (and one for its Workers when they collected), set-up by set-up. */
export function gcPausesMarkdown(results: GcPauseResult[]): string {
  const lines = [
    "| set-up | process (thread) | process CPU, cores | collections/s eden / full | pauses/s | pause p50 ms | p99 ms | max ms | paused ms/s | share of time paused |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    if (r.status !== "ok") {
      lines.push(`| ${r.label} | ${r.status} (${r.reason ?? ""}) | | | | | | | | |`);
      continue;
    }
    for (const p of r.processes)
      for (const h of p.heaps) {
        const pause = h.pauseMs;
        const cpu = h.thread === "worker" ? "″" : p.cpuCores === undefined ? "–" : f(p.cpuCores);
        lines.push(
          `| ${r.label} | ${p.name}${h.thread === "worker" ? " (Workers)" : ""} | ${cpu} | ${f(h.edenPerS, 1)} / ${f(h.fullPerS, 1)} | ${f(h.pausesPerS, 1)} | ${pause ? ms(pause.p50) : "–"} | ${pause ? ms(pause.p99) : "–"} | ${pause ? ms(pause.max) : "–"} | ${f(h.pausedMsPerS)} | ${(h.pausedShare * 100).toFixed(2)} % |`,
        );
      }
  }
  const loads = results
    .filter((r) => r.status === "ok" && r.load)
    .map(
      (r) =>
        `- ${r.label}: some thread of the set-up paused during ${r.anyPausedShare === undefined ? "–" : `${(r.anyPausedShare * 100).toFixed(2)} %`} of the window, so the pauses alone would add ${opt(r.pauseOnlyP99Ms)} ms at p99 and ${opt(r.pauseOnlyP999Ms)} ms at p99.9 to a call sent at a random moment; prism-load latency p99 ${ms(r.load!.latencyP99Ms)} ms, p99.9 ${opt(r.load!.latencyP999Ms)} ms, service time p99 ${ms(r.load!.serviceP99Ms)} ms, send lag p99 ${r.load!.sendLagP99Ms === null ? "–" : ms(r.load!.sendLagP99Ms)} ms (${Math.round(r.load!.throughput)}/s, collector log on)`,
    );
  return [...lines, ...(loads.length ? ["", ...loads] : [])].join("\n") + "\n";
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      rps: { type: "string", default: "1000" },
      duration: { type: "string", default: "5s" },
      warmup: { type: "string", default: "1s" },
      concurrency: { type: "string", default: "64" },
    },
  });
  const results = await measureGcPauses(
    {
      moderateRps: Number(values.rps),
      durationS: parseDuration(values.duration)! / 1000,
      warmupS: parseDuration(values.warmup)! / 1000,
      concurrency: Number(values.concurrency),
      valueSize: 100,
      keys: 1000,
    },
    (line) => process.stderr.write(`${line}\n`),
  );
  process.stdout.write(gcPausesMarkdown(results));
}
