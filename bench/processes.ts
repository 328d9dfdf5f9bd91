import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startProcess, type StartedProcess } from "../tests/helpers/process";

/** The Bun the repository pins: the same runtime for every process of the bench. */
export const BUN = `${ROOT}/node_modules/.bin/bun`;

/**
 * The checkout whose dist/ executables and bench/configs/ the servers below come from: this one, or the base build
 * of `make bench-compare` (bench/compare.ts), which switches between them round by round. Bench tools (the echo,
 * the bare relay, prism-load) always come from this checkout.
 */
let serverTree = ROOT;
export function serveFrom(tree: string): void {
  serverTree = tree;
}
export const dist = (name: string) => `${serverTree}/dist/${name}`;
const benchConfig = (name: string) => `${serverTree}/bench/configs/${name}.yaml`;
const START_TIMEOUT_MS = 30_000;

/** A server the bench started: where to send load, and how to stop it (by pid). */
export interface Server {
  readonly address: string;
  /** Every pid this server consists of (a proxy and the pattern it launched). */
  readonly pids: number[];
  /** The process the address belongs to (the proxy, when there is one). */
  readonly main: StartedProcess;
  /** Calls the main process has relayed so far (proxy and bare relay), for CPU per call. */
  calls?(): Promise<number>;
  /** Extra prism-load flags this server needs (TLS CA, credentials). */
  readonly loadArgs?: string[];
  stop(): Promise<void>;
}

/** utime + stime of a process so far, in seconds (/proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The machine's busy and idle CPU seconds so far, over all cores (the first line of /proc/stat; idle = idle + iowait). */
export function machineCpuSeconds(): { busy: number; idle: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = f[3]! + f[4]!;
  return { busy: (f.reduce((a, b) => a + b, 0) - idle) / 100, idle: idle / 100 };
}

/** The sum of prism_requests_total in a Prometheus exposition. */
export function requestsTotal(exposition: string): number {
  let n = 0;
  for (const m of exposition.matchAll(/^prism_requests_total\{[^}]*\} (\S+)$/gm)) n += Number(m[1]);
  return n;
}

/** Why a row cannot run, when one of its executables is missing; undefined when all exist. */
export function missingExecutable(...names: string[]): string | undefined {
  const missing = names.filter((n) => !existsSync(dist(n)));
  return missing.length ? `dist/${missing.join(", dist/")} not built (make build-plugins)` : undefined;
}

async function stopAll(procs: StartedProcess[], extraPids: number[] = []): Promise<void> {
  for (const p of procs) await p.stop(10_000);
  // A pattern the proxy launched must be gone with it; if not, stop it by its pid.
  for (const pid of extraPids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      continue; // already gone, as it should be
    }
    for (let i = 0; i < 100 && alive(pid); i++) await Bun.sleep(50);
    if (alive(pid)) process.kill(pid, "SIGKILL");
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function started(p: StartedProcess, ready: RegExp): Promise<string> {
  try {
    return (await p.waitFor(ready, START_TIMEOUT_MS))[1]!;
  } catch (err) {
    await p.stop(2_000);
    throw err;
  }
}

/** The bare gRPC echo server (bench/echo_server.ts) on Bun. */
export async function startEcho(): Promise<Server> {
  const p = startProcess([BUN, `${ROOT}/bench/echo_server.ts`]);
  const address = await started(p, /echo grpc listening on (\S+)/);
  return { address, pids: [p.pid], main: p, stop: () => stopAll([p]) };
}

/** A pattern executable run directly, with bench/configs/<config>.yaml when there is one (config defaults to name). */
export async function startPattern(name: string, configName = name): Promise<Server> {
  const config = benchConfig(configName);
  const p = startProcess([dist(name), "--grpc-port", "0", ...(existsSync(config) ? ["--config", config] : [])], { cwd: serverTree });
  const address = await started(p, /grpc listening on (\S+)/);
  return { address, pids: [p.pid], main: p, stop: () => stopAll([p]) };
}

/**
 * A pattern on a Unix socket (as the proxy launches it) behind bench/bare_relay.ts:
 * the floor of the proxy's stack, a relay with no routing, metrics or error handling.
 */
export async function startBareRelay(name: string): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "prism-bench-relay-"));
  const socket = join(dir, "p.sock");
  const config = benchConfig(name);
  const pattern = startProcess([dist(name), "--grpc-socket", socket, ...(existsSync(config) ? ["--config", config] : [])], { cwd: serverTree });
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  let relay: StartedProcess | undefined;
  try {
    await started(pattern, /grpc listening on (\S+)/);
    relay = startProcess([BUN, `${ROOT}/bench/bare_relay.ts`, "--upstream", `unix:${socket}`]);
    const address = await started(relay, /bare relay listening on (\S+)/);
    const r = relay;
    const calls = async () => {
      const seen = [...r.output().matchAll(/relayed (\d+) calls/g)].length;
      process.kill(r.pid, "SIGUSR2");
      for (let i = 0; i < 100; i++) {
        const all = [...r.output().matchAll(/relayed (\d+) calls/g)];
        if (all.length > seen) return Number(all.at(-1)![1]);
        await Bun.sleep(20);
      }
      throw new Error("the bare relay did not report its calls");
    };
    return { address, pids: [r.pid, pattern.pid], main: r, calls, stop: () => stopAll([r, pattern]).finally(cleanup) };
  } catch (err) {
    await stopAll([pattern]);
    cleanup();
    throw err;
  }
}

/** The proxy with bench/configs/proxy-<pattern>.yaml (it launches the pattern), once /ready answers 200. */
export async function startProxy(pattern: string, extra: { args?: string[]; env?: Record<string, string>; config?: string } = {}): Promise<Server> {
  // cwd: the configs' patterns_dir (./dist) is the same checkout's.
  const p = startProcess([dist("proxy"), "--config", extra.config ?? benchConfig(`proxy-${pattern}`), ...(extra.args ?? [])], {
    env: extra.env,
    cwd: serverTree,
  });
  const address = await started(p, /prism proxy listening on (\S+)/);
  const patternPids = () => [...p.output().matchAll(/"pattern_pid":(\d+)/g)].map((m) => Number(m[1]));
  try {
    const admin = (await p.waitFor(/admin: (http:\/\/\S+)/, 5_000))[1]!;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while ((await fetch(`${admin}/ready`).catch(() => undefined))?.status !== 200) {
      if (Date.now() > deadline) throw new Error(`proxy for ${pattern} not ready within ${START_TIMEOUT_MS / 1000} s:\n${p.output().slice(-2000)}`);
      await Bun.sleep(100);
    }
  } catch (err) {
    await stopAll([p], patternPids());
    throw err;
  }
  const admin = (await p.waitFor(/admin: (http:\/\/\S+)/, 5_000))[1]!;
  const calls = async () => requestsTotal(await (await fetch(`${admin}/metrics`)).text());
  return { address, pids: [p.pid, ...patternPids()], main: p, calls, stop: () => stopAll([p], patternPids()) };
}
