import { existsSync } from "node:fs";
import { ROOT, startProcess, type StartedProcess } from "../tests/helpers/process";

/** The Bun the repository pins: the same runtime for every process of the bench. */
export const BUN = `${ROOT}/node_modules/.bin/bun`;
export const dist = (name: string) => `${ROOT}/dist/${name}`;
const START_TIMEOUT_MS = 30_000;

/** A server the bench started: where to send load, and how to stop it (by pid). */
export interface Server {
  readonly address: string;
  /** Every pid this server consists of (a proxy and the pattern it launched). */
  readonly pids: number[];
  /** The process the address belongs to (the proxy, when there is one). */
  readonly main: StartedProcess;
  stop(): Promise<void>;
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

/** A pattern executable run directly, with bench/configs/<name>.yaml when there is one. */
export async function startPattern(name: string): Promise<Server> {
  const config = `${ROOT}/bench/configs/${name}.yaml`;
  const p = startProcess([dist(name), "--grpc-port", "0", ...(existsSync(config) ? ["--config", config] : [])]);
  const address = await started(p, /grpc listening on (\S+)/);
  return { address, pids: [p.pid], main: p, stop: () => stopAll([p]) };
}

/** The proxy with bench/configs/proxy-<pattern>.yaml (it launches the pattern), once /ready answers 200. */
export async function startProxy(pattern: string, extra: { args?: string[]; env?: Record<string, string> } = {}): Promise<Server> {
  const p = startProcess([dist("proxy"), "--config", `${ROOT}/bench/configs/proxy-${pattern}.yaml`, ...(extra.args ?? [])], { env: extra.env });
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
  return { address, pids: [p.pid, ...patternPids()], main: p, stop: () => stopAll([p], patternPids()) };
}
