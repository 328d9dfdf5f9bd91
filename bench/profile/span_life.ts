// CPU per traced call of the tracing work a pattern does for one unary RPC, step by step, without gRPC: read the
// caller's traceparent, start the SERVER span, enter its context, start and end the driver's CLIENT span, end the
// SERVER span, encode both (EncodingBatchSpanProcessor, an exporter that drops the batch); then all of it with the
// spans started by RpcSpans (sdk/observability/rpc_spans.ts) instead of OTel's Tracer.startSpan. A hot loop: in a
// server under load the same code took several times longer (timed in place), so read these as ratios.
//   bun bench/profile/span_life.ts [--rounds 5] [--calls 200000]
import { parseArgs } from "node:util";
import { context, propagation, ROOT_CONTEXT, SpanKind, trace, type Attributes, type Context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { ExportResultCode, W3CTraceContextPropagator } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, BasicTracerProvider, ParentBasedSampler } from "@opentelemetry/sdk-trace-base";
import { EncodingBatchSpanProcessor } from "../../sdk/observability/encoding_span_processor";
import { RootSampling } from "../../sdk/observability/root_sampling";
import { RpcSpans } from "../../sdk/observability/rpc_spans";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" }, calls: { type: "string", default: "200000" } } });
const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
const provider = new BasicTracerProvider({
  sampler,
  idGenerator: new RootSampling(sampler),
  resource: resourceFromAttributes({ "service.name": "memstore", "service.version": "0.1.0" }),
  spanProcessors: [new EncodingBatchSpanProcessor({ export: (_b, done) => done({ code: ExportResultCode.SUCCESS }), shutdown: async () => {} })],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const tracer = provider.getTracer("memstore", "0.1.0");
const carrier = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" };
const getter = { get: (c: typeof carrier, k: string) => (k === "traceparent" ? c.traceparent : undefined), keys: () => ["traceparent"] };
const serverAttrs = (ns: string) => ({
  "rpc.system": "grpc",
  "rpc.service": "prism.interfaces.keyvalue.KeyValueBasicInterface",
  "rpc.method": "Get",
  "prism.namespace": ns,
});
const driverAttrs = { "db.system": "memory" };

const rpcSpans = new RpcSpans(tracer);
const otelStart = (name: string, kind: SpanKind, attributes: Attributes, parent: Context) => tracer.startSpan(name, { kind, attributes }, parent);
const leanStart = (name: string, kind: SpanKind, attributes: Attributes, parent: Context) => rpcSpans.start(name, kind, attributes, parent);

/** One traced call as the pattern's interceptor and a driver's wrapper make it, up to `upTo`. */
function call(start: typeof otelStart, upTo: "server" | "context" | "driver"): void {
  const parent = propagation.extract(ROOT_CONTEXT, carrier, getter);
  const span = start("prism.interfaces.keyvalue.KeyValueBasicInterface/Get", SpanKind.SERVER, serverAttrs("default"), parent);
  if (upTo !== "server")
    context.with(trace.setSpan(parent, span), () => {
      if (upTo !== "driver") return;
      const active = context.active();
      const d = trace.getSpan(active)?.isRecording() ? start("memory.get", SpanKind.CLIENT, driverAttrs, active) : undefined;
      d?.setAttribute("rpc.grpc.status_code", 0);
      d?.end();
    });
  span.setAttribute("rpc.grpc.status_code", 0);
  span.end();
}

const steps: Record<string, () => void> = {
  extract: () => {
    propagation.extract(ROOT_CONTEXT, carrier, getter);
  },
  "server span": () => call(otelStart, "server"),
  "+ context.with": () => call(otelStart, "context"),
  "+ driver span": () => call(otelStart, "driver"),
  "all, RpcSpans": () => call(leanStart, "driver"),
};

const calls = Number(values.calls);
console.log(`| round | ${Object.keys(steps).join(" µs | ")} µs |\n| ---: |${" ---: |".repeat(Object.keys(steps).length)}`);
for (let round = 1; round <= Number(values.rounds); round++) {
  const row: string[] = [];
  for (const fn of Object.values(steps)) {
    const started = performance.now();
    for (let i = 0; i < calls; i++) fn();
    row.push((((performance.now() - started) * 1000) / calls).toFixed(3));
  }
  console.log(`| ${round} | ${row.join(" | ")} |`);
}
