/**
 * Absolute deadlines (Date.now() ms) of the proxy's shutdown steps, carved out of
 * `shutdown_timeout`: draining (patterns and relayed calls) ends by `drainUntil`,
 * stopping the launched patterns (Stop, SIGTERM, SIGKILL) by `stopUntil`, closing
 * the proxy's own servers and flushing traces by `end`. A slow step only shortens
 * the ones after it down to their reserve, so children are always stopped before
 * the bound — the exit-2 timer fires only when the machine itself falls behind.
 */
export interface ShutdownPlan {
  readonly drainUntil: number;
  readonly stopUntil: number;
  readonly end: number;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Splits totalMs: the last 15 % (0.3–1.5 s) to close and exit, 30 % before it (0.5–10 s) to stop patterns, the rest to drain. */
export function planShutdown(totalMs: number, now = Date.now()): ShutdownPlan {
  const end = now + totalMs;
  const stopUntil = end - clamp(totalMs * 0.15, 300, 1_500);
  const drainUntil = Math.max(now, stopUntil - clamp(totalMs * 0.3, 500, 10_000));
  return { drainUntil, stopUntil: Math.max(now, stopUntil), end };
}

/** Milliseconds from now until `deadline`, never negative. */
export function msLeft(deadline: number): number {
  return Math.max(0, deadline - Date.now());
}

/** Resolves true if p settles within ms (false at once when ms is 0). */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ok = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]);
  clearTimeout(timer);
  return ok;
}
