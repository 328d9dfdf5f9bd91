import type { Stats } from "./stats";

/** Where the progress line goes: a terminal stream. */
export interface ProgressSink {
  readonly isTTY?: boolean;
  write(s: string): unknown;
}

/**
 * A live one-line status (elapsed, ops/s over the last second, p99 so far,
 * errors), rewritten in place every second. Returns the function that clears
 * it. Nothing is written unless enabled (main enables it on a terminal).
 */
export function startProgress(label: string, stats: () => Stats, enabled: boolean, sink: ProgressSink = process.stderr, everyMs = 1000): () => void {
  if (!enabled) return () => {};
  let lastOk = 0;
  let lastAt = performance.now();
  let lastStats: Stats | undefined;
  const tick = () => {
    const s = stats();
    if (s !== lastStats) {
      lastStats = s;
      lastOk = 0;
      lastAt = s.startedAt;
    }
    const now = performance.now();
    const rate = ((s.ok - lastOk) * 1000) / Math.max(1, now - lastAt);
    lastOk = s.ok;
    lastAt = now;
    const p99 = s.latency.totalCount ? (s.latency.getValueAtPercentile(99) / 1000).toFixed(3) : "-";
    sink.write(`\r\x1b[K${label} ${s.elapsedS(now).toFixed(1)}s  ${Math.round(rate)} ops/s  p99 ${p99} ms  errors ${s.errorCount}`);
  };
  const timer = setInterval(tick, everyMs);
  timer.unref?.();
  return () => {
    clearInterval(timer);
    sink.write("\r\x1b[K");
  };
}
