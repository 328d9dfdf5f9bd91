import { describe, expect, test } from "bun:test";
import type { IncomingHttpHeaders } from "node:http2";
import { propagation } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type Sampler,
} from "@opentelemetry/sdk-trace-base";
import { followsUnsampledParent, RootSampling } from "@prism/sdk";
import { CallTracer } from "./call_tracer";

// As the proxy's Tracing sets it up.
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

const PATH = "/prism.interfaces.keyvalue.KeyValueBasicInterface/Get";
const CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c";

/** As the proxy's Tracing sets it up: new traces decided by RootSampling, which is also the id generator. */
function tracerWith(sampler: Sampler) {
  const exporter = new InMemorySpanExporter();
  const roots = new RootSampling(sampler);
  const provider = new BasicTracerProvider({ sampler, idGenerator: roots, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { calls: new CallTracer(provider.getTracer("proxy"), followsUnsampledParent(sampler), roots), exporter };
}

function headers(traceparent?: string): IncomingHttpHeaders {
  return { ":path": PATH, "content-type": "application/grpc", ...(traceparent && { traceparent }) };
}

describe("CallTracer", () => {
  test("a sampled call: a span, child of the client's, whose context the pattern receives", () => {
    const { calls, exporter } = tracerWith(new ParentBasedSampler({ root: new AlwaysOffSampler() }));
    const h = headers(`00-${CALLER_TRACE}-b7ad6b7169203331-01`);
    const span = calls.start(h, PATH, "default", "memstore");
    expect(span).toBeDefined();
    calls.end(span!, 0);
    const [done] = exporter.getFinishedSpans();
    expect(done!.parentSpanContext?.spanId).toBe("b7ad6b7169203331");
    expect(done!.attributes["prism.namespace"]).toBe("default");
    expect(h.traceparent).toBe(`00-${CALLER_TRACE}-${done!.spanContext().spanId}-01`);
  });

  test("a client's traceparent saying 'not sampled', with a parent-based sampler: no span, headers forwarded as they came", () => {
    const { calls, exporter } = tracerWith(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
    const traceparent = `00-${CALLER_TRACE}-b7ad6b7169203331-00`;
    const h = headers(traceparent);
    expect(calls.start(h, PATH, "default", "memstore")).toBeUndefined();
    expect(h.traceparent).toBe(traceparent);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  test("a new trace the sampler leaves out: no span, and the pattern is told 'not sampled' in a new traceparent", () => {
    const { calls, exporter } = tracerWith(new ParentBasedSampler({ root: new AlwaysOffSampler() }));
    const h = headers();
    expect(calls.start(h, PATH, "default", "memstore")).toBeUndefined();
    expect(h.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  test("a new trace left out, toward a pattern the proxy launched (it traces only sampled parents): no traceparent at all", () => {
    const { calls, exporter } = tracerWith(new ParentBasedSampler({ root: new AlwaysOffSampler() }));
    const h = headers();
    expect(calls.start(h, PATH, "default", "memstore", true)).toBeUndefined();
    expect(h.traceparent).toBeUndefined();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  test("toward a launched pattern, what is recorded and what the client sent still go on", () => {
    const { calls, exporter } = tracerWith(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
    const recorded = headers();
    const span = calls.start(recorded, PATH, "default", "memstore", true);
    expect(span).toBeDefined();
    calls.end(span!, 0);
    const { traceId, spanId } = exporter.getFinishedSpans()[0]!.spanContext();
    expect(recorded.traceparent).toBe(`00-${traceId}-${spanId}-01`);
    const unsampled = `00-${CALLER_TRACE}-b7ad6b7169203331-00`;
    const forwarded = headers(unsampled);
    expect(calls.start(forwarded, PATH, "default", "memstore", true)).toBeUndefined();
    expect(forwarded.traceparent).toBe(unsampled);
  });

  test("a sampler that ignores the parent (always_on) records a call whose client was not sampled", () => {
    const { calls, exporter } = tracerWith(new AlwaysOnSampler());
    const h = headers(`00-${CALLER_TRACE}-b7ad6b7169203331-00`);
    const span = calls.start(h, PATH, "default", "memstore");
    expect(span).toBeDefined();
    calls.end(span!, 5);
    expect(exporter.getFinishedSpans()[0]!.attributes["rpc.grpc.status_code"]).toBe(5);
    expect(h.traceparent).toEndWith("-01");
  });

  test("a new trace the sampler records: the span is the trace's root, and the pattern receives its context", () => {
    const { calls, exporter } = tracerWith(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
    const h = headers();
    const span = calls.start(h, PATH, "default", "memstore");
    expect(span).toBeDefined();
    calls.end(span!, 0);
    const [done] = exporter.getFinishedSpans();
    expect(done!.parentSpanContext).toBeUndefined();
    expect(done!.attributes["prism.pattern"]).toBe("memstore");
    const { traceId, spanId } = done!.spanContext();
    expect(h.traceparent).toBe(`00-${traceId}-${spanId}-01`);
  });

  test("new traces at a ratio: each recorded or told 'not sampled', about as many recorded as the ratio says", () => {
    const { calls, exporter } = tracerWith(new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.25) }));
    const traces = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const h = headers();
      const span = calls.start(h, PATH, "default", "memstore");
      if (span !== undefined) calls.end(span, 0);
      expect(h.traceparent).toMatch(span ? /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/ : /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      traces.add(String(h.traceparent).slice(3, 35));
    }
    expect(traces.size).toBe(2000);
    // 500 expected; outside these bounds with probability below 1e-9.
    expect(exporter.getFinishedSpans().length).toBeGreaterThan(380);
    expect(exporter.getFinishedSpans().length).toBeLessThan(620);
  });
});
