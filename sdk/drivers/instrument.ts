import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { Code, PrismError } from "../errors";
import { errorType } from "./error_type";
import { isAsyncIterable } from "../grpc/interceptor";
import { CountTally, flushBeforeRead, LATENCY_BUCKETS, LatencyTally } from "../observability/tally";
import { RpcSpans } from "../observability/rpc_spans";

/** Backend-call metrics of RFC-025, shared by every driver of a process. */
export class DriverMetrics {
  readonly operations: Counter<"driver" | "operation" | "status">;
  readonly duration: Histogram<"driver" | "operation">;
  readonly errors: Counter<"driver" | "operation" | "error_type">;
  /** Read at scrape time from every driver that reports a circuit breaker. */
  readonly breakers = new Map<string, () => CircuitStateName>();
  /** Read at scrape time from every driver that counts its open backend connections. */
  readonly connections = new Map<string, () => number>();
  /** Read at scrape time from every driver that counts keys it expired (a running total). */
  readonly expiries = new Map<string, () => number>();
  /** Successes and latencies counted per call into plain numbers, added to operations and duration before a scrape. */
  private readonly tallies = new Map<string, CountTally | LatencyTally>();

  constructor(registry: Registry) {
    const { breakers, connections, expiries } = this;
    new Gauge({
      name: "backend_driver_connections_active",
      help: "Open connections from a driver to its backend.",
      labelNames: ["driver"],
      registers: [registry],
      collect() {
        for (const [driver, count] of connections) this.set({ driver }, count());
      },
    });
    // A running total kept by the driver, exported as a counter: the counter takes the difference since the last scrape.
    const seen = new Map<string, number>();
    new Counter({
      name: "backend_driver_expired_keys_total",
      help: "Keys a driver removed because their TTL ran out (expiry events).",
      labelNames: ["driver"],
      registers: [registry],
      collect() {
        for (const [driver, total] of expiries) {
          const now = total();
          const before = seen.get(driver) ?? 0;
          seen.set(driver, now);
          // A smaller total means a new driver instance (re-initialized): it counted from zero.
          this.inc({ driver }, now >= before ? now - before : now);
        }
      },
    });
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
      help: "Backend operations by driver, operation and status (success or error).",
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
    flushBeforeRead([this.operations, this.duration], () => {
      for (const t of this.tallies.values()) t.flush();
    });
    this.errors = new Counter({
      name: "driver_error_total",
      help: "Backend operation errors by driver, operation and error class (connection_refused, timeout, unavailable, ...).",
      labelNames: ["driver", "operation", "error_type"],
      registers: [registry],
    });
  }

  /** The success count of one driver operation (errors go to prom-client at once: they are rare). */
  successes(driver: string, operation: string): CountTally {
    return this.tally(`ok\u0000${driver}\u0000${operation}`, () => new CountTally(this.operations.labels(driver, operation, "success")));
  }

  /** The latency series of one driver operation. */
  latency(driver: string, operation: string): LatencyTally {
    return this.tally(`latency\u0000${driver}\u0000${operation}`, () => new LatencyTally(this.duration, { driver, operation }));
  }

  /** One tally per series, however often a driver is wrapped again (a re-initialized pattern). */
  private tally<T extends CountTally | LatencyTally>(key: string, make: () => T): T {
    let t = this.tallies.get(key) as T | undefined;
    if (t === undefined) this.tallies.set(key, (t = make()));
    return t;
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
  /**
   * Spans per backend call only when tracing is on, each a child of the span recording the call that made it
   * (the RPC's server span): a call no recording span is around (the sampler left the RPC out, or background
   * work outside any RPC) has none, as a child of a span left out would be left out too.
   */
  tracer?: Tracer;
}

/**
 * Wraps the named methods of a driver with metrics (and spans when tracing is on),
 * without the driver knowing. Synchronous results stay synchronous.
 *
 * Streaming methods (scan, subscribe, read) return an AsyncIterable, or a sync iterator
 * (a generator, as memstore's scan): the wrapper hands back a stream of the same kind that
 * counts the call when the stream ends — status success when it ends or the consumer stops
 * early (break, cancellation), error (with driver_error_total) when iterating throws — and
 * observes driver_operation_duration_seconds once, at the first item (or at the end or
 * the failure when there is none): time to first item is what the backend controls, the
 * rest of a stream is paced by the client and, for subscriptions, by publishers. Open
 * streams are not counted yet. Other iterables (arrays from batchGet, popLeft…) are
 * plain results.
 */
export function instrumentDriver<D extends object>(driver: D, methods: readonly string[], opts: InstrumentOptions): D {
  const { metrics, tracer } = opts;
  const spans = tracer && new RpcSpans(tracer);
  const wrapped: Record<string, unknown> = {};
  const extra = (driver as { spanAttributes?: Readonly<Record<string, string | number>> }).spanAttributes;
  const circuit = (driver as { circuitState?: () => CircuitStateName }).circuitState;
  if (typeof circuit === "function") metrics.breakers.set(opts.driver, () => circuit.call(driver));
  const conns = (driver as { connectionsActive?: () => number }).connectionsActive;
  if (typeof conns === "function") metrics.connections.set(opts.driver, () => conns.call(driver));
  const expired = (driver as { expiredTotal?: () => number }).expiredTotal;
  if (typeof expired === "function") metrics.expiries.set(opts.driver, () => expired.call(driver));
  for (const name of new Set(methods)) {
    const fn = (driver as Record<string, unknown>)[name];
    // One attributes object per method: span creation copies it, so it can be shared by every call.
    const attributes = { ...extra, "db.system": opts.dbSystem, "db.operation.name": name };
    if (typeof fn !== "function") continue;
    const ok = metrics.successes(opts.driver, name);
    const failed = metrics.operations.labels(opts.driver, name, "error");
    const hist = metrics.latency(opts.driver, name);
    const onError = (err: unknown) => {
      failed.inc();
      metrics.errors.inc({ driver: opts.driver, operation: name, error_type: errorType(err) });
    };
    const meter = (start: number, span: Span | undefined): StreamMeter => {
      let observed = false;
      let ended = false;
      const first = () => {
        if (observed) return;
        observed = true;
        hist.observe((performance.now() - start) / 1000);
      };
      return {
        first,
        end: () => {
          if (ended) return;
          ended = true;
          first();
          ok.inc();
          endSpan(span);
        },
        fail: (err) => {
          if (ended) return;
          ended = true;
          first();
          // The caller going away is not a backend failure.
          if (PrismError.from(err).code === Code.CANCELLED) ok.inc();
          else onError(err);
          endSpan(span, err);
        },
      };
    };
    wrapped[name] = function (this: unknown, ...args: unknown[]) {
      const start = performance.now();
      const active = spans && context.active();
      const span = active && trace.getSpan(active)?.isRecording() ? spans!.start(`${opts.driver}.${name}`, SpanKind.CLIENT, attributes, active) : undefined;
      let result: unknown;
      try {
        // The backend call's span is not made the active context: nothing under a driver call opens spans, and
        // entering one (AsyncLocalStorage) cost ~3 µs of the pattern's CPU per traced call (bench/profile/threads.ts).
        result = (fn as (...a: unknown[]) => unknown).apply(driver, args);
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
      if (isAsyncIterable(result)) return meteredAsync(result, meter(start, span));
      if (isSyncIterator(result)) return meteredSync(result, meter(start, span));
      hist.observe((performance.now() - start) / 1000);
      ok.inc();
      endSpan(span);
      return result;
    };
  }
  // Every other method (health, close, …) is bound to the driver itself;
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

/** What a metered stream reports: its first item, its end, its failure (each counted once). */
interface StreamMeter {
  first(): void;
  end(): void;
  fail(err: unknown): void;
}

/** A generator or other one-shot iterator; arrays, typed arrays, strings, maps and sets are results, not streams. */
function isSyncIterator(v: unknown): v is Iterator<unknown> & Iterable<unknown> {
  return (
    typeof v === "object" &&
    v !== null &&
    typeof (v as Iterator<unknown>).next === "function" &&
    typeof (v as Iterable<unknown>)[Symbol.iterator] === "function"
  );
}

/** The stream `src`, reporting to `m`; return() reaches the source so its clean-up runs. */
function meteredAsync<T>(src: AsyncIterable<T>, m: StreamMeter): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const it = src[Symbol.asyncIterator]();
      return {
        next: () =>
          it.next().then(
            (r) => {
              if (r.done) m.end();
              else m.first();
              return r;
            },
            (err) => {
              m.fail(err);
              throw err;
            },
          ),
        return: async (value?: unknown) => {
          m.end();
          return it.return ? it.return(value) : { done: true, value: value as T };
        },
      };
    },
  };
}

/** A sync iterator over `src`, reporting to `m`, that can be spread or iterated with for-of. */
function meteredSync<T>(src: Iterator<T> & Iterable<T>, m: StreamMeter): IterableIterator<T> {
  const out: IterableIterator<T> = {
    next: () => {
      let r: IteratorResult<T>;
      try {
        r = src.next();
      } catch (err) {
        m.fail(err);
        throw err;
      }
      if (r.done) m.end();
      else m.first();
      return r;
    },
    return: (value?: unknown) => {
      m.end();
      return src.return ? src.return(value) : { done: true, value: value as T };
    },
    [Symbol.iterator]: () => out,
  };
  return out;
}

function endSpan(span: Span | undefined, err?: unknown): void {
  if (!span) return;
  if (err !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: PrismError.from(err).message });
  span.end();
}
