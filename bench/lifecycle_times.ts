import { startProcess } from "../tests/helpers/process";

/** Summary of repeated measurements in ms. */
export interface Spread {
  runs: number;
  min: number;
  median: number;
  p90: number;
  max: number;
}

export function spread(values: number[]): Spread {
  const v = values.toSorted((a, b) => a - b);
  const at = (q: number) => v[Math.min(v.length - 1, Math.floor(q * v.length))] ?? 0;
  return { runs: v.length, min: v[0] ?? 0, median: at(0.5), p90: at(0.9), max: v.at(-1) ?? 0 };
}

/** One start and stop of an executable. */
export interface LifecycleRun {
  /** Spawn → the ready line on its output. */
  startupMs: number;
  /** SIGTERM → process exit. */
  shutdownMs: number;
  exitCode: number | null;
}

/** Starts `cmd`, waits for `ready` on its output, sends SIGTERM, waits for exit; all timed from the outside. */
export async function startAndStop(cmd: string[], ready: RegExp): Promise<LifecycleRun> {
  const t0 = performance.now();
  const p = startProcess(cmd);
  try {
    await p.waitFor(ready, 30_000);
  } catch (err) {
    await p.stop(2_000);
    throw err;
  }
  const startupMs = performance.now() - t0;
  const t1 = performance.now();
  p.proc.kill("SIGTERM");
  const killer = setTimeout(() => p.proc.kill("SIGKILL"), 30_000);
  const exitCode = await p.exited;
  clearTimeout(killer);
  return { startupMs, shutdownMs: performance.now() - t1, exitCode };
}

/** Start-up and shutdown times of one executable over several runs. */
export interface LifecycleTimes {
  name: string;
  command: string;
  startupMs: Spread;
  shutdownMs: Spread;
  exitCodes: Array<number | null>;
}

/**
 * Measures each executable `runs` times, round-robin (one run of each in
 * turn), so a burst of load on this shared machine spreads over all of them.
 */
export async function measureLifecycles(targets: Array<{ name: string; cmd: string[]; ready: RegExp }>, runs: number): Promise<LifecycleTimes[]> {
  const results = targets.map(() => [] as LifecycleRun[]);
  for (let i = 0; i < runs; i++) {
    for (const [j, t] of targets.entries()) results[j]!.push(await startAndStop(t.cmd, t.ready));
  }
  return targets.map((t, j) => ({
    name: t.name,
    command: t.cmd.join(" "),
    startupMs: spread(results[j]!.map((r) => r.startupMs)),
    shutdownMs: spread(results[j]!.map((r) => r.shutdownMs)),
    exitCodes: [...new Set(results[j]!.map((r) => r.exitCode))],
  }));
}
