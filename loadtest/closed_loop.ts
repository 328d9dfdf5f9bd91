import type { Stats } from "./stats";
import type { Issue } from "./workload";

/** Bounds of one phase: whichever of duration and request count comes first (0 = unbounded). */
export interface PhaseBounds {
  durationMs: number;
  requests: number;
  signal: AbortSignal;
}

/**
 * Closed loop: `concurrency` workers, each sending its next call as soon as the
 * previous one answers. Measures what the server sustains; latency is send →
 * reply, so a stall delays the following sends and is under-counted (use the
 * open loop, --rps, for latency at a given load).
 */
export async function runClosedLoop(issue: Issue, stats: Stats, concurrency: number, bounds: PhaseBounds): Promise<void> {
  const limit = bounds.requests > 0 ? bounds.requests : Infinity;
  stats.startedAt = performance.now();
  const deadline = bounds.durationMs > 0 ? stats.startedAt + bounds.durationMs : Infinity;
  let seq = 0;
  const worker = async () => {
    while (seq < limit && !bounds.signal.aborted) {
      const t0 = performance.now();
      if (t0 >= deadline) break;
      const n = seq++;
      try {
        await issue(n, t0);
        const d = performance.now() - t0;
        stats.success(d, d);
      } catch (err) {
        stats.failure(err);
      }
    }
    // The first worker out ends the measured window: no call is sent after it, the others are draining.
    stats.stop();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  stats.finish();
}
