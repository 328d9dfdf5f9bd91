import { redact } from "../config/secrets";
import { context, propagation, ROOT_CONTEXT, trace, SpanKind, SpanStatusCode, TraceFlags, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter as OtlpGrpcExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { Metadata } from "@grpc/grpc-js";
import { PrismError } from "../errors";
import { isAsyncIterable, type Interceptor } from "../grpc/interceptor";
import { otlpTarget, samplerFromEnv } from "./otel_env";
import { EncodingBatchSpanProcessor } from "./encoding_span_processor";
import { otlpHttpEncodedExporter, otlpHttpJsonExporter } from "./otlp_fetch";
import { RootSampling } from "./root_sampling";
import { RpcSpans } from "./rpc_spans";

export type TraceExporterKind = "stdout" | "otlp" | "none";

export interface TracingOptions {
  serviceName: string;
  serviceVersion: string;
  exporter: TraceExporterKind;
  /** OTLP traces URL; replaces the one the environment names (otel_env.ts: OTEL_EXPORTER_OTLP_ENDPOINT, ...). */
  otlpEndpoint?: string;
  /** Environment to read OTEL_* settings from; process.env by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Replaces the sampler OTEL_TRACES_SAMPLER names. */
  sampler?: Sampler;
  /** Replaces the exporter chosen by kind (tests use an in-memory exporter). */
  exporterOverride?: SpanExporter;
  /**
   * The interceptor starts no trace: a call without a traceparent is left out, as if its caller had decided so.
   * For a process only ever called by one that decides new traces with the same sampler (a pattern behind the
   * proxy), which then sends no traceparent for a new trace it leaves out.
   */
  parentRequired?: boolean;
}

/** Tracing for one process: a provider, an exporter, W3C propagation and an AsyncLocalStorage context. */
export class Tracing {
  readonly tracer: Tracer;
  private readonly provider: BasicTracerProvider;
  /** The sampler leaves out every span whose remote parent was left out (as parentbased_* samplers do). */
  readonly followsUnsampledParent: boolean;
  /** Decides a new trace before any span is built; the provider's id generator. */
  readonly rootSampling: RootSampling;
  private readonly parentRequired: boolean;

  constructor(opts: TracingOptions) {
    const sampler = opts.sampler ?? samplerFromEnv(opts.env);
    this.followsUnsampledParent = followsUnsampledParent(sampler);
    this.rootSampling = new RootSampling(sampler);
    this.parentRequired = opts.parentRequired === true;
    this.provider = new BasicTracerProvider({
      sampler,
      idGenerator: this.rootSampling,
      resource: resourceFromAttributes({ "service.name": opts.serviceName, "service.version": opts.serviceVersion }),
      spanProcessors: spanProcessors(opts),
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(this.provider);
    this.tracer = this.provider.getTracer(opts.serviceName, opts.serviceVersion);
  }

  /** Exports what is buffered now. */
  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  /** Exports what is buffered and stops; call once on shutdown. */
  async shutdown(): Promise<void> {
    await this.provider.forceFlush();
    await this.provider.shutdown();
  }

  /**
   * An interceptor that opens a SERVER span per RPC, child of the caller's traceparent. A call the sampler
   * leaves out (most of them at a ratio) runs outside any trace context: nothing under it records (backend spans
   * are children of a recording span only), and entering one (AsyncLocalStorage) cost such a call about 8 % more
   * CPU, profiled. When the caller's traceparent already says "not sampled" and the sampler follows it, not even a
   * span is started, nor the context propagation.extract builds; nor for a new trace RootSampling leaves out,
   * nor (parentRequired) for a call that came without a traceparent.
   */
  interceptor(): Interceptor {
    const tracer = this.tracer;
    const parentDecides = this.followsUnsampledParent;
    const roots = this.rootSampling;
    const parentRequired = this.parentRequired;
    const names = new RpcNames();
    const spans = new RpcSpans(tracer);
    return (next) => (call) => {
      const md = call.ctx.metadata;
      const traceparent = md.get("traceparent")[0];
      if (parentDecides && isUnsampledTraceparent(traceparent)) return next(call);
      // Undefined: the trace is recorded, and the span started below is its root.
      if (traceparent === undefined && (parentRequired || roots.unsampledTraceparent() !== undefined)) return next(call);
      const parent = remoteParent(traceparent, md.get("tracestate")[0]) ?? propagation.extract(ROOT_CONTEXT, md, metadataGetter);
      if (parentDecides) {
        const caller = trace.getSpanContext(parent);
        if (caller !== undefined && (caller.traceFlags & TraceFlags.SAMPLED) === 0) return next(call);
      }
      const name = names.of(call.ctx.path);
      const span = spans.start(
        name.span,
        SpanKind.SERVER,
        { "rpc.system": "grpc", "rpc.service": name.service, "rpc.method": name.method, "prism.namespace": call.ctx.namespace },
        parent,
      );
      if (!span.isRecording()) return next(call);
      const ctx = trace.setSpan(parent, span);
      let out;
      try {
        out = context.with(ctx, () => next(call));
      } catch (err) {
        endSpan(span, err);
        throw err;
      }
      if (isAsyncIterable(out)) return traceStream(out, ctx, span);
      return (out as Promise<unknown>).then(
        (res) => {
          endSpan(span);
          return res;
        },
        (err) => {
          endSpan(span, err);
          throw err;
        },
      );
    };
  }
}

// A version-00 traceparent, as the W3C propagator accepts it (ids not all zero), in its exact form only.
const TRACEPARENT_00 = /^00-(?!0{32})[\da-f]{32}-(?!0{16})[\da-f]{16}-[\da-f]{2}$/;

/**
 * True for a well-formed traceparent whose sampled flag is off: the decision a parent-based sampler follows,
 * read without building the context propagation.extract makes. Anything else (absent, sampled, another version,
 * malformed) is false and takes the propagator's path.
 */
export function isUnsampledTraceparent(value: unknown): boolean {
  return typeof value === "string" && value.length === 55 && (Number.parseInt(value.slice(53), 16) & TraceFlags.SAMPLED) === 0 && TRACEPARENT_00.test(value);
}

/**
 * The context W3CTraceContextPropagator.extract builds from a traceparent in its exact version-00 form with no
 * tracestate, built without the propagator (its regular expression, a second header read); undefined for
 * anything else, which then takes the propagator's path.
 */
export function remoteParent(traceparent: unknown, tracestate: unknown): Context | undefined {
  if (tracestate !== undefined || typeof traceparent !== "string" || traceparent.length !== 55 || !TRACEPARENT_00.test(traceparent)) return undefined;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: traceparent.slice(3, 35),
    spanId: traceparent.slice(36, 52),
    traceFlags: Number.parseInt(traceparent.slice(53), 16),
    isRemote: true,
  });
}

export interface SpanNames {
  /** The path without its leading slash: "package.Service/Method". */
  span: string;
  service: string;
  method: string;
}

/** Span name, rpc.service and rpc.method of gRPC paths, worked out once per path. */
export class RpcNames {
  private readonly byPath = new Map<string, SpanNames>();

  of(path: string): SpanNames {
    let names = this.byPath.get(path);
    if (names === undefined) {
      const slash = path.lastIndexOf("/");
      names = { span: path.slice(1), service: path.slice(1, slash), method: path.slice(slash + 1) };
      // A server has one path per method; the bound only matters against a peer inventing paths.
      if (this.byPath.size < 256) this.byPath.set(path, names);
    }
    return names;
  }
}

/**
 * The W3C traceparent (and tracestate) of a span, as W3CTraceContextPropagator writes them, without the
 * context object that propagation.inject needs: the proxy sets one on every call it forwards.
 */
export function setTraceHeaders(span: Span, headers: Record<string, unknown>): void {
  const sc = span.spanContext();
  headers.traceparent = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & TraceFlags.SAMPLED) !== 0 ? "01" : "00"}`;
  if (sc.traceState !== undefined) headers.tracestate = sc.traceState.serialize();
}

/** A parent-based sampler with the default for a remote parent not sampled (always off). */
export function followsUnsampledParent(sampler: Sampler): boolean {
  return sampler instanceof ParentBasedSampler && sampler.toString().includes("remoteParentNotSampled=AlwaysOffSampler,");
}

/** Reads W3C headers from grpc-js metadata. */
export const metadataGetter = {
  get(md: Metadata, key: string): string | undefined {
    const v = md.get(key)[0];
    return typeof v === "string" ? v : undefined;
  },
  keys(md: Metadata): string[] {
    return Object.keys(md.getMap());
  },
};

/** Writes W3C headers of the active context into a plain header record. */
export function injectTraceHeaders(into: Record<string, string>): Record<string, string> {
  propagation.inject(context.active(), into);
  return into;
}

function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) {
    const e = PrismError.from(err);
    span.setAttribute("rpc.grpc.status_code", e.code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: redact(e.message) });
  } else {
    span.setAttribute("rpc.grpc.status_code", 0);
  }
  span.end();
}

/** A stream whose items are produced in `ctx`, ending `span` with the stream. */
async function* traceStream(src: AsyncIterable<unknown>, ctx: Context, span: Span): AsyncIterable<unknown> {
  const it = context.with(ctx, () => src[Symbol.asyncIterator]());
  let failure: unknown;
  try {
    while (true) {
      const r = await context.with(ctx, () => it.next());
      if (r.done) return;
      yield r.value;
    }
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    if (failure === undefined) await it.return?.();
    endSpan(span, failure);
  }
}

function spanProcessors(opts: TracingOptions): SpanProcessor[] {
  if (opts.exporterOverride)
    return [opts.exporter === "stdout" ? new SimpleSpanProcessor(opts.exporterOverride) : new BatchSpanProcessor(opts.exporterOverride)];
  switch (opts.exporter) {
    case "stdout":
      return [new SimpleSpanProcessor(new ConsoleSpanExporter())];
    case "otlp": {
      const target = otlpTarget(opts.env);
      const url = opts.otlpEndpoint ?? target.url;
      if (target.protocol === "grpc") return [new BatchSpanProcessor(new OtlpGrpcExporter({ url }))];
      // OTel's HTTP exporters, configured alike, but sending with fetch: at a ratio of 0.01 their node:http
      // emulation cost 1.3–2 µs of CPU per call served in each process, measured (bench/profile/threads.ts).
      if (target.protocol === "http/json") return [new BatchSpanProcessor(otlpHttpJsonExporter(url))];
      // Protobuf, the default: each span encoded as it ends.
      return [new EncodingBatchSpanProcessor(otlpHttpEncodedExporter(url))];
    }
    case "none":
      return [];
  }
}
