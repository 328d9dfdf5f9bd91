import type { Counter, Histogram } from "prom-client";

/** Latency buckets in seconds, from 50 µs to 10 s. */
export const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What prom-client keeps per histogram series (lib/histogram.js createBaseValues); read and added to at flush only. */
interface HistogramEntry {
  labels: Record<string, string | number>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/**
 * One series of a LATENCY_BUCKETS histogram, observed into plain numbers (a bucket count, the sum and the count:
 * no label hashing, no allocation per observation, as prom-client's observe() does) and added to the series by
 * flush(), which the histogram's collect() calls before a scrape reads it.
 */
export class LatencyTally {
  /** Observations per bucket (LATENCY_BUCKETS upper bounds, then +Inf) since the last flush. */
  private readonly bucketCounts = new Float64Array(LATENCY_BUCKETS.length + 1);
  private sum = 0;
  private count = 0;

  constructor(
    private readonly histogram: Histogram<string>,
    private readonly labels: Readonly<Record<string, string>>,
  ) {}

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.bucketCounts[i]!++;
    this.sum += seconds;
    this.count++;
  }

  flush(): void {
    if (this.count === 0) return;
    const entry = this.entry();
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) entry.bucketValues[LATENCY_BUCKETS[i]!]! += this.bucketCounts[i]!;
    entry.sum += this.sum;
    entry.count += this.count;
    this.bucketCounts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  /** The series, created (zeroed) if absent. */
  private entry(): HistogramEntry {
    const h = this.histogram as unknown as { hashMap: Record<string, HistogramEntry> };
    const names = Object.keys(this.labels);
    const find = () => Object.values(h.hashMap).find((e) => names.every((n) => e.labels[n] === this.labels[n]));
    let entry = find();
    if (entry === undefined) {
      this.histogram.zero(this.labels);
      entry = find()!;
    }
    return entry;
  }
}

/** One counter series, counted into a plain number and added to the series by flush() (see LatencyTally). */
export class CountTally {
  private n = 0;

  constructor(private readonly child: Counter.Internal) {}

  inc(): void {
    this.n++;
  }

  flush(): void {
    if (this.n === 0) return;
    this.child.inc(this.n);
    this.n = 0;
  }
}

/**
 * Has prom-client call `flush` before it reads any of `metrics` (its collect() hook): the tallies behind them reach
 * their series before a scrape. With several metrics the first read flushes; the others find nothing.
 */
export function flushBeforeRead(metrics: readonly (Counter<string> | Histogram<string>)[], flush: () => void): void {
  for (const metric of metrics) (metric as unknown as { collect: () => void }).collect = flush;
}
