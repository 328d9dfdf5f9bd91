import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { codeName, Code, PrismError } from "../errors";
import { isAsyncIterable, type Interceptor } from "../grpc/interceptor";

/** Bound on distinct namespace label values, so a client cannot grow the series without limit. */
const MAX_NAMESPACES = 64;

/** Latency buckets in seconds, from 50 µs to 10 s. */
export const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One registry per process, with process metrics and Prism's per-RPC metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<"namespace" | "pattern" | "method" | "code">;
  readonly duration: Histogram<"namespace" | "pattern" | "method">;
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

  /** Label children per namespace+method+code, so the hot path builds no label objects. */
  private readonly children = new Map<
    string,
    { duration: ReturnType<Metrics["duration"]["labels"]>; byCode: Map<number, ReturnType<Metrics["requests"]["labels"]>> }
  >();

  private readonly namespaces = new Set<string>();

  /** Records one finished RPC. Namespaces come from clients: past MAX_NAMESPACES distinct ones, the rest share "other". */
  record(namespace: string, method: string, code: number, seconds: number): void {
    if (!this.namespaces.has(namespace)) {
      if (this.namespaces.size >= MAX_NAMESPACES) namespace = "other";
      else this.namespaces.add(namespace);
    }
    const key = namespace + "\u0000" + method;
    let c = this.children.get(key);
    if (!c) {
      c = { duration: this.duration.labels(namespace, this.component.name, method), byCode: new Map() };
      this.children.set(key, c);
    }
    let counter = c.byCode.get(code);
    if (!counter) {
      counter = this.requests.labels(namespace, this.component.name, method, codeName(code));
      c.byCode.set(code, counter);
    }
    counter.inc();
    c.duration.observe(seconds);
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
