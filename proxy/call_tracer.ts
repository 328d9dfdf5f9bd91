import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Span, type Tracer } from "@opentelemetry/api";
import type { IncomingHttpHeaders } from "node:http2";
import { codeName } from "@prism/sdk";

/**
 * One span per forwarded call: a child of the client's traceparent (if any), whose
 * own context replaces traceparent in the headers sent on, so the pattern's span
 * becomes its child.
 */
export class CallTracer {
  constructor(private readonly tracer: Tracer) {}

  start(headers: IncomingHttpHeaders, path: string, namespace: string, pattern: string): Span {
    const parent = propagation.extract(ROOT_CONTEXT, headers);
    const slash = path.lastIndexOf("/");
    const span = this.tracer.startSpan(
      path.slice(1),
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": "grpc",
          "rpc.service": path.slice(1, slash),
          "rpc.method": path.slice(slash + 1),
          "prism.namespace": namespace,
          "prism.pattern": pattern,
        },
      },
      parent,
    );
    propagation.inject(trace.setSpan(parent, span), headers);
    return span;
  }

  end(span: Span, code: number): void {
    span.setAttribute("rpc.grpc.status_code", code);
    if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: codeName(code) });
    span.end();
  }
}
