import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, propagation, trace, type Span, type Tracer } from "@opentelemetry/api";
import type { IncomingHttpHeaders } from "node:http2";
import { codeName, isUnsampledTraceparent, remoteParent, type RootSampling, RpcNames, RpcSpans, setTraceHeaders } from "@prism/sdk";

/**
 * One span per forwarded call: a child of the client's traceparent (if any), whose
 * own context replaces traceparent in the headers sent on, so the pattern's span
 * becomes its child. A call the sampler leaves out has no span to end: when the
 * client's traceparent already says "not sampled" and the sampler follows it, it is
 * forwarded as it came; a new trace it leaves out goes to a launched pattern with no traceparent (the proxy
 * launched it to trace only calls whose traceparent says sampled: --trace-parent-required), and to a remote one
 * with a traceparent that carries the decision on.
 */
export class CallTracer {
  private readonly names = new RpcNames();
  private readonly spans: RpcSpans;

  /**
   * followsUnsampledParent: the sampler leaves out every call whose client's traceparent was left out.
   * roots: decides a call that starts a trace before any span is built (Tracing.rootSampling).
   */
  constructor(
    tracer: Tracer,
    private readonly followsUnsampledParent: boolean,
    private readonly roots?: RootSampling,
  ) {
    this.spans = new RpcSpans(tracer);
  }

  /**
   * The call's span, or undefined when it records nothing. `parentRequired`: the target traces no call that
   * comes without a traceparent (a pattern this proxy launched).
   */
  start(headers: IncomingHttpHeaders, path: string, namespace: string, pattern: string, parentRequired = false): Span | undefined {
    const traceparent = headers.traceparent;
    if (this.followsUnsampledParent && isUnsampledTraceparent(traceparent)) return undefined;
    if (traceparent === undefined && this.roots !== undefined) {
      const unsampled = this.roots.unsampledTraceparent();
      if (unsampled !== undefined) {
        if (!parentRequired) headers.traceparent = unsampled;
        return undefined;
      }
      // Recorded: the span started below is the trace's root.
    }
    const parent = remoteParent(traceparent, headers.tracestate) ?? propagation.extract(ROOT_CONTEXT, headers);
    if (this.followsUnsampledParent) {
      const caller = trace.getSpanContext(parent);
      if (caller !== undefined && (caller.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
    }
    const names = this.names.of(path);
    const span = this.spans.start(
      names.span,
      SpanKind.SERVER,
      { "rpc.system": "grpc", "rpc.service": names.service, "rpc.method": names.method, "prism.namespace": namespace, "prism.pattern": pattern },
      parent,
    );
    setTraceHeaders(span, headers);
    return span.isRecording() ? span : undefined;
  }

  end(span: Span, code: number): void {
    span.setAttribute("rpc.grpc.status_code", code);
    if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: codeName(code) });
    span.end();
  }
}
