import type { PhaseBounds } from "./closed_loop";
import { startPacer, type Pacer } from "./pacer";
import type { Stats } from "./stats";
import type { Issue } from "./workload";

/**
 * Open loop: call n is scheduled at start + n / rps whatever happened before,
 * and its latency is measured from that scheduled time, so a server stall
 * shows in every call it delayed (coordinated omission corrected). At most
 * `maxInFlight` calls are outstanding; beyond that, due calls wait and their
 * wait counts. Calls still unsent at the stop (duration end or abort) are
 * counted in `stats.unsent` and recorded in the latency histogram with
 * stop − scheduled send: a lower bound of what they would have waited, so a
 * target that cannot keep up shows in the percentiles instead of vanishing
 * from them. The send lag (actual send − scheduled) is recorded so the
 * generator's own pacing error is visible.
 */
export function runOpenLoop(issue: Issue, stats: Stats, rps: number, maxInFlight: number, bounds: PhaseBounds): Promise<void> {
  const interval = 1000 / rps;
  const byCount = bounds.requests > 0 ? bounds.requests : Infinity;
  const byTime = bounds.durationMs > 0 ? Math.floor((bounds.durationMs * rps) / 1000) : Infinity;
  const total = Math.min(byCount, byTime);
  const start = performance.now();
  const end = bounds.durationMs > 0 ? start + bounds.durationMs : Infinity;
  stats.startedAt = start;
  let sent = 0;
  let inFlight = 0;
  let stopped = false;
  let pacer: Pacer | undefined;
  /** Calls scheduled by `now`, or by the end once it has passed. */
  const dueBy = (now: number) => Math.min(total, Math.floor((Math.min(now, end) - start) / interval) + 1);

  return new Promise<void>((resolve) => {
    const finishIfIdle = () => {
      pacer?.stop();
      if (inFlight === 0) {
        bounds.signal.removeEventListener("abort", onAbort);
        stats.finish();
        resolve();
      }
    };
    const stop = () => {
      if (stopped) return;
      stopped = true;
      stats.stop();
      const now = stats.stoppedAt;
      // What was due but could not be sent (in-flight cap) is a shortfall to report, not to hide:
      // each has waited at least from its scheduled send until now, so that goes into the latency.
      const due = dueBy(now);
      for (let n = sent; n < due; n++) stats.unsentCall(now - (start + n * interval));
      finishIfIdle();
    };
    const onAbort = () => stop();
    // Every call was sent: the measured window ends here, the rest is draining.
    const allSent = () => {
      stopped = true;
      stats.stop();
      finishIfIdle();
    };
    bounds.signal.addEventListener("abort", onAbort);

    const done = () => {
      inFlight--;
      if (stopped) finishIfIdle();
      else pump();
    };
    const launch = (n: number, now: number) => {
      const scheduled = start + n * interval;
      inFlight++;
      stats.sendLag.recordValue(Math.max(1, Math.round((now - scheduled) * 1000)));
      issue(n, scheduled).then(
        () => {
          const t = performance.now();
          stats.success(t - scheduled, t - now);
          done();
        },
        (err) => {
          stats.failure(err);
          done();
        },
      );
    };
    const pump = () => {
      if (stopped) return;
      let now = performance.now();
      // Calls scheduled before the end go out even when this thread runs only after it (late: their lag is in
      // their latency); only what the in-flight cap holds back at the end is unsent.
      while (inFlight < maxInFlight && sent < dueBy(now)) {
        launch(sent++, now);
        now = performance.now();
      }
      if (sent >= total) allSent();
      else if (now >= end) stop();
      // Otherwise the pacer's next tick (or, when capped by in-flight calls, the next completion) pumps again.
    };
    pacer = startPacer(start, interval, pump);
    // The end of the run is a due time too (the pacer may be between sends then).
    if (end !== Infinity) setTimeout(pump, bounds.durationMs + 1).unref();
    pump();
  });
}
