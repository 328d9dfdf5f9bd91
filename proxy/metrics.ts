import { Counter, Gauge, type Histogram } from "prom-client";
import { codeName } from "../sdk/grpc/errors";
import { Metrics } from "../sdk/observability/metrics";

/** Distinct method labels kept per namespace; beyond it calls count as method "other" (bounds cardinality). */
const MAX_METHODS_PER_NAMESPACE = 256;

/**
 * The proxy's metrics: contract §6 per-RPC metrics labelled with the namespace and
 * its pattern, pattern restarts, and rejected calls. Label children are resolved
 * once and cached, so recording a call allocates nothing.
 */
export class ProxyMetrics {
  readonly base: Metrics;
  private readonly restarts: Counter<"namespace" | "pattern">;
  private readonly up: Gauge<"namespace" | "pattern">;
  private readonly rejected: Counter<"reason">;
  private readonly rejectedChildren = new Map<string, Counter.Internal>();

  constructor(version: string) {
    this.base = new Metrics({ name: "prism-proxy", version });
    const registers = [this.base.registry];
    this.restarts = new Counter({
      name: "prism_pattern_restarts_total",
      help: "Restarts of a launched pattern process after it exited unexpectedly.",
      labelNames: ["namespace", "pattern"],
      registers,
    });
    this.up = new Gauge({
      name: "prism_pattern_up",
      help: "1 when the namespace's pattern is serving, else 0.",
      labelNames: ["namespace", "pattern"],
      registers,
    });
    this.rejected = new Counter({
      name: "prism_proxy_rejected_total",
      help: "Calls the proxy answered itself without reaching a pattern, by reason.",
      labelNames: ["reason"],
      registers,
    });
  }

  get registry() {
    return this.base.registry;
  }

  /** The recorders of one namespace, labelled with its pattern (see NamespaceStats.relabel). */
  namespace(namespace: string, pattern: string): NamespaceStats {
    return new NamespaceStats(this.base, { restarts: this.restarts, up: this.up }, namespace, pattern);
  }

  /** Counts a call refused before routing (unknown namespace, shutting down, blocked method). */
  reject(reason: string): void {
    let c = this.rejectedChildren.get(reason);
    if (c === undefined) {
      c = this.rejected.labels(reason);
      this.rejectedChildren.set(reason, c);
    }
    c.inc();
  }
}

/**
 * Every series of one namespace — prism_pattern_up, prism_pattern_restarts_total and
 * the per-method request metrics — under one `pattern` label at a time.
 */
export class NamespaceStats {
  private readonly byPath = new Map<string, MethodStats>();
  private other: MethodStats | undefined;
  private label: string;
  private upChild!: Gauge.Internal<"namespace" | "pattern">;
  private restartsChild!: Counter.Internal;
  private isUp = false;
  private restartCount = 0;

  constructor(
    private readonly metrics: Metrics,
    private readonly perPattern: { restarts: Counter<"namespace" | "pattern">; up: Gauge<"namespace" | "pattern"> },
    readonly namespace: string,
    pattern: string,
  ) {
    this.label = pattern;
    this.resolve();
  }

  /** The current value of the `pattern` label. */
  get pattern(): string {
    return this.label;
  }

  /** prism_pattern_up: 1 while the pattern serves. */
  setUp(up: boolean): void {
    this.isUp = up;
    this.upChild.set(up ? 1 : 0);
  }

  /** Counts one restart of a launched pattern. */
  restarted(): void {
    this.restartCount++;
    this.restartsChild.inc();
  }

  /**
   * Moves the namespace to another `pattern` label (a remote pattern named itself at
   * Initialize): the series under the old label are removed, so each namespace has one
   * prism_pattern_up series; up and the restart count carry over, request counts start afresh.
   */
  relabel(pattern: string): void {
    if (pattern === "" || pattern === this.label) return;
    const old = this.label;
    this.perPattern.up.remove(this.namespace, old);
    this.perPattern.restarts.remove(this.namespace, old);
    this.label = pattern;
    this.resolve();
    for (const s of this.byPath.values()) s.relabel(pattern);
    this.other?.relabel(pattern);
  }

  private resolve(): void {
    this.upChild = this.perPattern.up.labels(this.namespace, this.label);
    this.upChild.set(this.isUp ? 1 : 0);
    this.restartsChild = this.perPattern.restarts.labels(this.namespace, this.label);
    this.restartsChild.inc(this.restartCount);
  }

  /** Recorder for a gRPC path like /pkg.Service/Method (metric label: the method name, as the SDK uses). */
  forPath(path: string): MethodStats {
    let s = this.byPath.get(path);
    if (s !== undefined) return s;
    if (this.byPath.size >= MAX_METHODS_PER_NAMESPACE) return (this.other ??= new MethodStats(this.metrics, this.namespace, this.label, "other", ""));
    const slash = path.lastIndexOf("/");
    s = new MethodStats(this.metrics, this.namespace, this.label, path.slice(slash + 1), path.slice(1, slash));
    this.byPath.set(path, s);
    return s;
  }
}

/** Records calls of one (namespace, method): a counter per status code and a latency histogram. */
export class MethodStats {
  private codes: (Counter.Internal | undefined)[] = [];
  private latency: Histogram.Internal<"namespace" | "pattern" | "method">;

  constructor(
    private readonly metrics: Metrics,
    private readonly namespace: string,
    private pattern: string,
    readonly method: string,
    /** The gRPC service of the path, e.g. prism.interfaces.keyvalue.KeyValueBasicInterface. */
    readonly service: string,
  ) {
    this.latency = metrics.duration.labels(namespace, pattern, method);
  }

  /** A call that reached the pattern (or was relayed and failed there): its code and latency. */
  record(code: number, seconds: number): void {
    this.count(code);
    this.latency.observe(seconds);
  }

  /** A call the proxy answered itself before forwarding (UNAVAILABLE, UNIMPLEMENTED): counted, no latency. */
  refused(code: number): void {
    this.count(code);
  }

  private count(code: number): void {
    let c = this.codes[code];
    if (c === undefined) {
      c = this.metrics.requests.labels(this.namespace, this.pattern, this.method, codeName(code));
      this.codes[code] = c;
    }
    c.inc();
  }

  /** Drops this method's series under the old pattern label; new calls record under `pattern`. */
  relabel(pattern: string): void {
    this.codes.forEach((c, code) => c !== undefined && this.metrics.requests.remove(this.namespace, this.pattern, this.method, codeName(code)));
    this.metrics.duration.remove(this.namespace, this.pattern, this.method);
    this.codes = [];
    this.pattern = pattern;
    this.latency = this.metrics.duration.labels(this.namespace, pattern, this.method);
  }
}
