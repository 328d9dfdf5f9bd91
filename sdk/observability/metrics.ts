import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { Code, PrismError } from "../errors";
import { isAsyncIterable, type Interceptor } from "../grpc/interceptor";
import { MethodStats } from "./method_stats";
import { flushBeforeRead, LATENCY_BUCKETS } from "./tally";

/** Bound on distinct namespace label values, so a client cannot grow the series without limit. */
const MAX_NAMESPACES = 64;

/** One registry per process, with process metrics and Prism's per-RPC metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<"namespace" | "pattern" | "method" | "code">;
  readonly duration: Histogram<"namespace" | "pattern" | "method">;
  /**
   * Every per-method recorder of this registry (this process's RPCs, or the calls a proxy relays): calls are
   * counted into plain numbers and reach requests and duration when they are read (a scrape).
   */
  readonly methods = new Set<MethodStats>();
  private readonly startedAt = Date.now();

  constructor(readonly component: { name: string; version: string }) {
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: "prism_requests_total",
      help: "RPCs served, by namespace, pattern, method and gRPC status code.",
      labelNames: ["namespace", "pattern", "method", "code"],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: "prism_request_duration_seconds",
      help: "RPC latency in seconds (to the last message for streams).",
      labelNames: ["namespace", "pattern", "method"],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    flushBeforeRead([this.requests, this.duration], () => {
      for (const m of this.methods) m.flush();
    });
    new Gauge({
      name: "backend_driver_info",
      help: "Pattern/driver name and version.",
      labelNames: ["name", "version"],
      registers: [this.registry],
    }).set({ name: component.name, version: component.version }, 1);
    const startedAt = this.startedAt;
    new Gauge({
      name: "backend_driver_uptime_seconds",
      help: "Seconds since the process started serving.",
      registers: [this.registry],
      collect() {
        this.set((Date.now() - startedAt) / 1000);
      },
    });
  }

  /** This process's recorder per namespace+method. */
  private readonly byMethod = new Map<string, MethodStats>();

  private readonly namespaces = new Set<string>();

  /** Records one finished RPC. Namespaces come from clients: past MAX_NAMESPACES distinct ones, the rest share "other". */
  record(namespace: string, method: string, code: number, seconds: number): void {
    if (!this.namespaces.has(namespace)) {
      if (this.namespaces.size >= MAX_NAMESPACES) namespace = "other";
      else this.namespaces.add(namespace);
    }
    const key = namespace + "\u0000" + method;
    let stats = this.byMethod.get(key);
    if (stats === undefined) {
      stats = new MethodStats(this, namespace, this.component.name, method, "");
      this.byMethod.set(key, stats);
      this.methods.add(stats);
    }
    stats.record(code, seconds);
  }

  /** An interceptor that records prism_requests_total and prism_request_duration_seconds for every call. */
  interceptor(): Interceptor {
    return (next) => (call) => {
      const start = performance.now();
      const method = call.method.name;
      const ns = call.ctx.namespace;
      const finish = (code: number) => this.record(ns, method, code, (performance.now() - start) / 1000);
      let out;
      try {
        out = next(call);
      } catch (err) {
        finish(PrismError.from(err).code);
        throw err;
      }
      if (isAsyncIterable(out)) return measureStream(out, finish);
      return (out as Promise<unknown>).then(
        (res) => {
          finish(Code.OK);
          return res;
        },
        (err) => {
          finish(PrismError.from(err).code);
          throw err;
        },
      );
    };
  }
}

async function* measureStream(src: AsyncIterable<unknown>, finish: (code: number) => void): AsyncIterable<unknown> {
  let code: number = Code.CANCELLED;
  try {
    yield* src;
    code = Code.OK;
  } catch (err) {
    code = PrismError.from(err).code;
    throw err;
  } finally {
    finish(code);
  }
}
