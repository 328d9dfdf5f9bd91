import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { codeName, PrismError } from "../grpc/errors";
import { LATENCY_BUCKETS } from "../observability/metrics";

/** Backend-call metrics of RFC-025, shared by every driver of a process. */
export class DriverMetrics {
  readonly operations: Counter<"driver" | "operation" | "status">;
  readonly duration: Histogram<"driver" | "operation">;
  readonly errors: Counter<"driver" | "operation" | "error_type">;
  /** Read at scrape time from every driver that reports a circuit breaker. */
  readonly breakers = new Map<string, () => CircuitStateName>();

  constructor(registry: Registry) {
    const breakers = this.breakers;
    new Gauge({
      name: "circuit_breaker_state",
      help: "Circuit breaker of a driver's backend: 0 closed, 1 half-open, 2 open.",
      labelNames: ["driver"],
      registers: [registry],
      collect() {
        for (const [driver, state] of breakers) this.set({ driver }, breakerCode[state()]);
      },
    });
    this.operations = new Counter({
      name: "driver_operation_total",
      help: "Backend operations by driver, operation and status (ok or error).",
      labelNames: ["driver", "operation", "status"],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: "driver_operation_duration_seconds",
      help: "Backend operation latency in seconds.",
      labelNames: ["driver", "operation"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.errors = new Counter({
      name: "driver_error_total",
      help: "Backend operation errors by driver, operation and gRPC error type.",
      labelNames: ["driver", "operation", "error_type"],
      registers: [registry],
    });
  }
}

type CircuitStateName = "closed" | "half-open" | "open";
const breakerCode: Record<CircuitStateName, number> = { closed: 0, "half-open": 1, open: 2 };

export interface InstrumentOptions {
  /** Driver label, e.g. memstore or redis. */
  driver: string;
  /** db.system semantic-convention value, e.g. redis. */
  dbSystem: string;
  metrics: DriverMetrics;
  /** Spans per backend call only when tracing is on. */
  tracer?: Tracer;
}

/**
 * Wraps the named methods of a driver with metrics (and spans when tracing is on),
 * without the driver knowing. Synchronous results stay synchronous.
 */
export function instrumentDriver<D extends object>(driver: D, methods: readonly string[], opts: InstrumentOptions): D {
  const { metrics, tracer } = opts;
  const wrapped: Record<string, unknown> = {};
  const extra = (driver as { spanAttributes?: Readonly<Record<string, string | number>> }).spanAttributes;
  const circuit = (driver as { circuitState?: () => CircuitStateName }).circuitState;
  if (typeof circuit === "function") metrics.breakers.set(opts.driver, () => circuit.call(driver));
  for (const name of new Set(methods)) {
    const fn = (driver as Record<string, unknown>)[name];
    // One attributes object per method: span creation copies it, so it can be shared by every call.
    const attributes = { ...extra, "db.system": opts.dbSystem, "db.operation.name": name };
    if (typeof fn !== "function") continue;
    const ok = metrics.operations.labels(opts.driver, name, "ok");
    const failed = metrics.operations.labels(opts.driver, name, "error");
    const hist = metrics.duration.labels(opts.driver, name);
    const onError = (err: unknown) => {
      failed.inc();
      metrics.errors.inc({ driver: opts.driver, operation: name, error_type: codeName(PrismError.from(err).code) });
    };
    wrapped[name] = function (this: unknown, ...args: unknown[]) {
      const start = performance.now();
      const span = tracer?.startSpan(`${opts.driver}.${name}`, {
        kind: SpanKind.CLIENT,
        attributes,
      });
      let result: unknown;
      try {
        const call = fn as (...a: unknown[]) => unknown;
        result = span ? context.with(trace.setSpan(context.active(), span), () => call.apply(driver, args)) : call.apply(driver, args);
      } catch (err) {
        onError(err);
        endSpan(span, err);
        throw err;
      }
      if (result instanceof Promise) {
        return result.then(
          (v) => {
            hist.observe((performance.now() - start) / 1000);
            ok.inc();
            endSpan(span);
            return v;
          },
          (err) => {
            hist.observe((performance.now() - start) / 1000);
            onError(err);
            endSpan(span, err);
            throw err;
          },
        );
      }
      hist.observe((performance.now() - start) / 1000);
      ok.inc();
      endSpan(span);
      return result;
    };
  }
  // Every other method (health, close, streaming reads) is bound to the driver itself;
  // own properties rather than a Proxy keep the per-call cost to one function call.
  const facade = Object.create(driver) as Record<string, unknown>;
  for (let proto = Object.getPrototypeOf(driver); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === "constructor" || name in wrapped || Object.hasOwn(facade, name)) continue;
      const desc = Object.getOwnPropertyDescriptor(proto, name);
      if (desc && typeof desc.value === "function") facade[name] = (desc.value as (...a: unknown[]) => unknown).bind(driver);
    }
  }
  Object.assign(facade, wrapped);
  return facade as D;
}

function endSpan(span: Span | undefined, err?: unknown): void {
  if (!span) return;
  if (err !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: PrismError.from(err).message });
  span.end();
}
