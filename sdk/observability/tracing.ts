import { redact } from "../config/secrets";
import { context, propagation, trace, SpanKind, SpanStatusCode, type Span, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter as OtlpGrpcExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as OtlpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type Sampler,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import type { Metadata } from "@grpc/grpc-js";
import { PrismError } from "../errors";
import { isAsyncIterable, type Interceptor } from "../grpc/interceptor";
import { otlpTarget, samplerFromEnv } from "./otel_env";

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
}

/** Tracing for one process: a provider, an exporter, W3C propagation and an AsyncLocalStorage context. */
export class Tracing {
  readonly tracer: Tracer;
  private readonly provider: BasicTracerProvider;

  constructor(opts: TracingOptions) {
    const exporter = opts.exporterOverride ?? makeExporter(opts);
    this.provider = new BasicTracerProvider({
      sampler: opts.sampler ?? samplerFromEnv(opts.env),
      resource: resourceFromAttributes({ "service.name": opts.serviceName, "service.version": opts.serviceVersion }),
      spanProcessors: exporter ? [opts.exporter === "stdout" ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)] : [],
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

  /** An interceptor that opens a SERVER span per RPC, child of the caller's traceparent. */
  interceptor(): Interceptor {
    const tracer = this.tracer;
    return (next) => (call) => {
      const parent = propagation.extract(context.active(), call.ctx.metadata, metadataGetter);
      const [, service = "", method = ""] = call.ctx.path.split("/");
      const span = tracer.startSpan(
        call.ctx.path.slice(1),
        {
          kind: SpanKind.SERVER,
          attributes: {
            "rpc.system": "grpc",
            "rpc.service": service,
            "rpc.method": method,
            "prism.namespace": call.ctx.namespace,
          },
        },
        parent,
      );
      const ctx = trace.setSpan(parent, span);
      let out;
      try {
        out = context.with(ctx, () => next(call));
      } catch (err) {
        endSpan(span, err);
        throw err;
      }
      if (isAsyncIterable(out)) return traceStream(out, span, ctx);
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

async function* traceStream(src: AsyncIterable<unknown>, span: Span, ctx: ReturnType<typeof context.active>): AsyncIterable<unknown> {
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

function makeExporter(opts: TracingOptions): SpanExporter | undefined {
  switch (opts.exporter) {
    case "stdout":
      return new ConsoleSpanExporter();
    case "otlp": {
      const target = otlpTarget(opts.env);
      const url = opts.otlpEndpoint ?? target.url;
      if (target.protocol === "grpc") return new OtlpGrpcExporter({ url });
      if (target.protocol === "http/json") return new OtlpJsonExporter({ url });
      return new OtlpProtoExporter({ url });
    }
    case "none":
      return undefined;
  }
}
