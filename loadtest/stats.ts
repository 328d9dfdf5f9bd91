import * as hdr from "hdr-histogram-js";
import { codeName, PrismError } from "../sdk/grpc/errors";

/** Percentiles every report carries (100 = max). */
export const PERCENTILES = [50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100] as const;

/** A latency histogram in microseconds: 1 µs to 10 min at 3 significant digits. */
export function latencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** Milliseconds (from performance.now()) to whole microseconds, at least 1 so a histogram keeps it. */
export function toMicros(ms: number): number {
  const us = Math.round(ms * 1000);
  return Math.max(us, 1);
}

/** Latency summary in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  /** [percentile, ms] for PERCENTILES, for charts. */
  percentiles: Array<[number, number]>;
}

/** Summarises a microsecond histogram in milliseconds. */
export function summarise(h: hdr.Histogram): LatencySummary {
  const at = (p: number) => (h.totalCount === 0 ? 0 : (p >= 100 ? h.maxValue : h.getValueAtPercentile(p)) / 1000);
  return {
    count: h.totalCount,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: at(100),
    mean: h.totalCount === 0 ? 0 : h.mean / 1000,
    percentiles: PERCENTILES.map((p) => [p, at(p)]),
  };
}

/**
 * What one phase of a run observed. `latency` is the headline: from the
 * scheduled send time in open loop, from the actual send otherwise, and from
 * publish to receipt in subscribe mode. `serviceTime` is always send → reply.
 */
export class Stats {
  readonly latency = latencyHistogram();
  readonly serviceTime = latencyHistogram();
  /** Open loop only: actual send − scheduled send, the generator's own pacing error. */
  readonly sendLag = latencyHistogram();
  ok = 0;
  /** Open loop only: calls due by the stop that were never sent (the in-flight cap was full). */
  unsent = 0;
  /** Open loop only: stop − scheduled send of each unsent call, a lower bound of its latency (also in `latency`). */
  readonly unsentLatency = latencyHistogram();
  readonly errors = new Map<string, number>();
  /** Error messages by code (first seen), so a report can say why. */
  readonly errorSamples = new Map<string, string>();
  startedAt = performance.now();
  /** End of the measured window: when sending stopped (duration reached, all requests sent, abort); 0 before. */
  stoppedAt = 0;
  /** Successful operations completed by `stoppedAt`: the throughput's numerator (the rest completed while draining). */
  okAtStop = 0;
  /** Called once when the measured window ends (subscribe mode stops the receiver's window with the publisher's). */
  onStop?: () => void;
  /** When the last call in flight at the stop had completed. */
  endedAt = 0;

  /** Records one successful call: latency and service time in ms. */
  success(latencyMs: number, serviceMs: number): void {
    this.ok++;
    this.latency.recordValue(toMicros(latencyMs));
    this.serviceTime.recordValue(toMicros(serviceMs));
  }

  /** Records one call that was due but never sent, with stop − scheduled send (ms) as its latency: a lower bound. */
  unsentCall(latencyLowerBoundMs: number): void {
    this.unsent++;
    const us = toMicros(latencyLowerBoundMs);
    this.latency.recordValue(us);
    this.unsentLatency.recordValue(us);
  }

  /** Counts one failed call under its gRPC code name. */
  failure(err: unknown): void {
    const e = PrismError.from(err);
    const name = codeName(e.code);
    this.errors.set(name, (this.errors.get(name) ?? 0) + 1);
    if (!this.errorSamples.has(name)) this.errorSamples.set(name, e.message);
  }

  get errorCount(): number {
    let n = 0;
    for (const c of this.errors.values()) n += c;
    return n;
  }

  /** Seconds from start to end, draining included (or to now while running). */
  elapsedS(now = performance.now()): number {
    return ((this.endedAt || now) - this.startedAt) / 1000;
  }

  /** Seconds of the measured window: start → stop (or to now while running). */
  windowS(now = performance.now()): number {
    return ((this.stoppedAt || now) - this.startedAt) / 1000;
  }

  /** Seconds spent after the stop waiting for the calls still in flight. */
  drainS(): number {
    return this.stoppedAt && this.endedAt ? (this.endedAt - this.stoppedAt) / 1000 : 0;
  }

  /** Ends the measured window now (the first call wins): no call is sent after it. */
  stop(): void {
    if (this.stoppedAt) return;
    this.stoppedAt = performance.now();
    this.okAtStop = this.ok;
    this.onStop?.();
  }

  /** Marks the end: every call has completed. Ends the window too if nothing stopped it before. */
  finish(): void {
    if (this.endedAt) return;
    this.stop();
    this.endedAt = performance.now();
  }

  /** Releases the histograms' memory (a no-op for the JS histograms, needed for WASM ones). */
  destroy(): void {
    this.latency.destroy();
    this.serviceTime.destroy();
    this.sendLag.destroy();
    this.unsentLatency.destroy();
  }
}
