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

  /** The per-method recorders of one namespace. */
  namespace(namespace: string, pattern: string): NamespaceStats {
    this.restarts.labels(namespace, pattern).inc(0);
    this.up.labels(namespace, pattern).set(0);
    return new NamespaceStats(this.base, namespace, pattern);
  }

  restarted(namespace: string, pattern: string): void {
    this.restarts.labels(namespace, pattern).inc();
  }

  setUp(namespace: string, pattern: string, up: boolean): void {
    this.up.labels(namespace, pattern).set(up ? 1 : 0);
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

/** Per-method recorders of one namespace, keyed by gRPC path. */
export class NamespaceStats {
  private readonly byPath = new Map<string, MethodStats>();
  private other: MethodStats | undefined;

  constructor(
    private readonly metrics: Metrics,
    readonly namespace: string,
    readonly pattern: string,
  ) {}

  /** Recorder for a gRPC path like /pkg.Service/Method (metric label: the method name, as the SDK uses). */
  forPath(path: string): MethodStats {
    let s = this.byPath.get(path);
    if (s !== undefined) return s;
    if (this.byPath.size >= MAX_METHODS_PER_NAMESPACE) return (this.other ??= new MethodStats(this.metrics, this.namespace, this.pattern, "other", ""));
    const slash = path.lastIndexOf("/");
    s = new MethodStats(this.metrics, this.namespace, this.pattern, path.slice(slash + 1), path.slice(1, slash));
    this.byPath.set(path, s);
    return s;
  }
}

/** Records calls of one (namespace, method): a counter per status code and a latency histogram. */
export class MethodStats {
  private readonly codes: (Counter.Internal | undefined)[] = [];
  private readonly latency: Histogram.Internal<"namespace" | "pattern" | "method">;

  constructor(
    private readonly metrics: Metrics,
    private readonly namespace: string,
    private readonly pattern: string,
    readonly method: string,
    /** The gRPC service of the path, e.g. prism.interfaces.keyvalue.KeyValueBasicInterface. */
    readonly service: string,
  ) {
    this.latency = metrics.duration.labels(namespace, pattern, method);
  }

  record(code: number, seconds: number): void {
    let c = this.codes[code];
    if (c === undefined) {
      c = this.metrics.requests.labels(this.namespace, this.pattern, this.method, codeName(code));
      this.codes[code] = c;
    }
    c.inc();
    this.latency.observe(seconds);
  }
}
