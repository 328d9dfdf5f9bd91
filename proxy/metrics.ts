import { Counter, Gauge } from "prom-client";
import { MethodStats, Metrics } from "@prism/sdk";

/** Distinct method labels kept per namespace; beyond it calls count as method "other" (bounds cardinality). */
const MAX_METHODS_PER_NAMESPACE = 256;

/**
 * The proxy's metrics: contract §6 per-RPC metrics labelled with the namespace and
 * its pattern, pattern restarts, and rejected calls. A relayed call is counted into
 * plain numbers of its (namespace, method) (MethodStats.record: no label lookup, no
 * hashing, no allocation); they reach prom-client's series when /metrics is scraped.
 */
export class ProxyMetrics {
  readonly base: Metrics;
  private readonly restarts: Counter<"namespace" | "pattern">;
  private readonly up: Gauge<"namespace" | "pattern">;
  private readonly rejected: Counter<"reason">;
  private readonly rejectedChildren = new Map<string, Counter.Internal>();
  private readonly uncaughtErrors: Counter<"kind">;

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
    this.uncaughtErrors = new Counter({
      name: "prism_proxy_uncaught_errors_total",
      help: "Errors no code caught (kind exception or rejection), logged while the proxy kept serving; each is a bug.",
      labelNames: ["kind"],
      registers,
    });
    for (const kind of ["exception", "rejection"]) this.uncaughtErrors.labels(kind);
  }

  /** Counts an error caught only by the process guard (proxy/process_guard.ts). */
  uncaught(kind: "exception" | "rejection"): void {
    this.uncaughtErrors.labels(kind).inc();
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
    if (this.byPath.size >= MAX_METHODS_PER_NAMESPACE)
      return (this.other ??= this.track(new MethodStats(this.metrics, this.namespace, this.label, "other", "")));
    const slash = path.lastIndexOf("/");
    s = this.track(new MethodStats(this.metrics, this.namespace, this.label, path.slice(slash + 1), path.slice(1, slash)));
    this.byPath.set(path, s);
    return s;
  }

  private track(s: MethodStats): MethodStats {
    this.metrics.methods.add(s);
    return s;
  }
}
