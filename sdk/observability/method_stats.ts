import type { Counter } from "prom-client";
import { codeName } from "../errors";
import type { Metrics } from "./metrics";

/** Latency buckets in seconds, from 50 µs to 10 s. */
export const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What prom-client keeps per histogram series (lib/histogram.js createBaseValues); read and added to at flush only. */
interface HistogramEntry {
  labels: Record<string, string>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/** gRPC codes 0–16 are counted in an array; anything else a pattern might send goes to prom-client at once. */
const KNOWN_CODES = 17;

/**
 * Records calls of one (namespace, method): per call, a count per status code and the
 * latency's bucket, sum and count, into plain numbers (nothing else on the hot path);
 * flush() adds them to prism_requests_total and prism_request_duration_seconds.
 */
export class MethodStats {
  private codes: (Counter.Internal | undefined)[] = [];
  private readonly codeCounts = new Float64Array(KNOWN_CODES);
  /** Calls per latency bucket (LATENCY_BUCKETS upper bounds, then +Inf) since the last flush. */
  private readonly bucketCounts = new Float64Array(LATENCY_BUCKETS.length + 1);
  private sum = 0;
  private count = 0;

  constructor(
    private readonly metrics: Metrics,
    private readonly namespace: string,
    private pattern: string,
    readonly method: string,
    /** The gRPC service of the path, e.g. prism.interfaces.keyvalue.KeyValueBasicInterface. */
    readonly service: string,
  ) {}

  /** A call that reached the pattern (or was relayed and failed there): its code and latency. */
  record(code: number, seconds: number): void {
    this.countCode(code);
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.bucketCounts[i]!++;
    this.sum += seconds;
    this.count++;
  }

  /** A call the proxy answered itself before forwarding (UNAVAILABLE, UNIMPLEMENTED): counted, no latency. */
  refused(code: number): void {
    this.countCode(code);
  }

  private countCode(code: number): void {
    if (code >= 0 && code < KNOWN_CODES) this.codeCounts[code]!++;
    else this.counter(code).inc();
  }

  private counter(code: number): Counter.Internal {
    let c = this.codes[code];
    if (c === undefined) {
      c = this.metrics.requests.labels(this.namespace, this.pattern, this.method, codeName(code));
      this.codes[code] = c;
    }
    return c;
  }

  /** Adds what was recorded since the last flush to the registry's series. */
  flush(): void {
    for (let code = 0; code < KNOWN_CODES; code++) {
      const n = this.codeCounts[code]!;
      if (n === 0) continue;
      this.counter(code).inc(n);
      this.codeCounts[code] = 0;
    }
    if (this.count === 0) return;
    const entry = this.histogramEntry();
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) entry.bucketValues[LATENCY_BUCKETS[i]!]! += this.bucketCounts[i]!;
    entry.sum += this.sum;
    entry.count += this.count;
    this.bucketCounts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  /** This method's series of the duration histogram, created (zeroed) if absent. */
  private histogramEntry(): HistogramEntry {
    const h = this.metrics.duration as unknown as { hashMap: Record<string, HistogramEntry> };
    const find = () =>
      Object.values(h.hashMap).find((e) => e.labels.namespace === this.namespace && e.labels.pattern === this.pattern && e.labels.method === this.method);
    let entry = find();
    if (entry === undefined) {
      this.metrics.duration.zero({ namespace: this.namespace, pattern: this.pattern, method: this.method });
      entry = find()!;
    }
    return entry;
  }

  /** Drops this method's series under the old pattern label; new calls record under `pattern`. */
  relabel(pattern: string): void {
    this.flush();
    this.codes.forEach((c, code) => c !== undefined && this.metrics.requests.remove(this.namespace, this.pattern, this.method, codeName(code)));
    this.metrics.duration.remove(this.namespace, this.pattern, this.method);
    this.codes = [];
    this.pattern = pattern;
  }
}
