import type { Counter } from "prom-client";
import { codeName } from "../errors";
import type { Metrics } from "./metrics";
import { LatencyTally } from "./tally";

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
  private latency: LatencyTally;

  constructor(
    private readonly metrics: Metrics,
    private readonly namespace: string,
    private pattern: string,
    readonly method: string,
    /** The gRPC service of the path, e.g. prism.interfaces.keyvalue.KeyValueBasicInterface. */
    readonly service: string,
  ) {
    this.latency = this.tally();
  }

  private tally(): LatencyTally {
    return new LatencyTally(this.metrics.duration, { namespace: this.namespace, pattern: this.pattern, method: this.method });
  }

  /** A call that reached the pattern (or was relayed and failed there): its code and latency. */
  record(code: number, seconds: number): void {
    this.countCode(code);
    this.latency.observe(seconds);
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
    this.latency.flush();
  }

  /** Drops this method's series under the old pattern label; new calls record under `pattern`. */
  relabel(pattern: string): void {
    this.flush();
    this.codes.forEach((c, code) => c !== undefined && this.metrics.requests.remove(this.namespace, this.pattern, this.method, codeName(code)));
    this.metrics.duration.remove(this.namespace, this.pattern, this.method);
    this.codes = [];
    this.pattern = pattern;
    this.latency = this.tally();
  }
}
