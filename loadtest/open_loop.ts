import type { PhaseBounds } from "./closed_loop";
import type { Stats } from "./stats";
import type { Issue } from "./workload";

/** Below this gap to the next send, pace with setImmediate: timers here fire on a ~1 ms grid. */
const PRECISE_PACING_MS = 2;

/**
 * Open loop: call n is scheduled at start + n / rps whatever happened before,
 * and its latency is measured from that scheduled time, so a server stall
 * shows in every call it delayed (coordinated omission corrected). At most
 * `maxInFlight` calls are outstanding; beyond that, due calls wait and their
 * wait counts. Calls still unsent when the duration ends are counted in
 * `stats.unsent`. The send lag (actual send − scheduled) is recorded so the
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
  let timer: ReturnType<typeof setTimeout> | undefined;
  let immediate: ReturnType<typeof setImmediate> | undefined;

  return new Promise<void>((resolve) => {
    const finishIfIdle = () => {
      if (inFlight === 0) {
        bounds.signal.removeEventListener("abort", onAbort);
        stats.finish();
        resolve();
      }
    };
    const stop = (now: number) => {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      // What was due but could not be sent (in-flight cap) is a shortfall to report, not to hide.
      const due = Math.min(total, Math.floor((Math.min(now, end) - start) / interval) + 1);
      stats.unsent += Math.max(0, due - sent);
      finishIfIdle();
    };
    const onAbort = () => stop(performance.now());
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
    const onTimer = () => {
      timer = undefined;
      pump();
    };
    const onImmediate = () => {
      immediate = undefined;
      pump();
    };
    const pump = () => {
      if (stopped) return;
      let now = performance.now();
      if (now >= end || sent >= total) {
        if (sent >= total) {
          stopped = true;
          finishIfIdle();
        } else stop(now);
        return;
      }
      const due = Math.min(total, Math.floor((now - start) / interval) + 1);
      while (sent < due && inFlight < maxInFlight) {
        launch(sent++, now);
        now = performance.now();
      }
      if (sent >= total) {
        stopped = true;
        finishIfIdle();
        return;
      }
      if (sent < due) return; // capped by in-flight calls: the next completion pumps again
      if (timer || immediate) return;
      const wait = start + sent * interval - now;
      if (wait < PRECISE_PACING_MS) immediate = setImmediate(onImmediate);
      else timer = setTimeout(onTimer, wait - 1);
    };
    pump();
  });
}
