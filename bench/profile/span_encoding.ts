// CPU per span of OTLP/protobuf encoding: OTel's ProtobufTraceSerializer on a batch of 512 spans, against
// SpanBatchEncoder (sdk/observability/otlp_span_encoder.ts) adding the same spans one by one and taking the batch.
// The spans are what a pattern's server span is (a gRPC method name and five attributes).
//   bun bench/profile/span_encoding.ts [--rounds 5]
import { parseArgs } from "node:util";
import { SpanKind } from "@opentelemetry/api";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { SpanBatchEncoder } from "../../sdk/observability/otlp_span_encoder";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" } } });
const kept = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ "service.name": "memstore", "service.version": "0.1.0" }),
  spanProcessors: [new SimpleSpanProcessor(kept)],
});
const tracer = provider.getTracer("memstore", "0.1.0");
for (let i = 0; i < 512; i++) {
  const span = tracer.startSpan("prism.interfaces.keyvalue.KeyValueBasicInterface/Get", {
    kind: SpanKind.SERVER,
    attributes: { "rpc.system": "grpc", "rpc.service": "prism.interfaces.keyvalue.KeyValueBasicInterface", "rpc.method": "Get", "prism.namespace": "default" },
  });
  span.setAttribute("rpc.grpc.status_code", 0);
  span.end();
}
const spans = kept.getFinishedSpans();
const encoder = new SpanBatchEncoder();
const BATCHES = 400;

function perSpanUs(encode: () => void): number {
  const started = performance.now();
  for (let i = 0; i < BATCHES; i++) encode();
  return ((performance.now() - started) * 1000) / (BATCHES * spans.length);
}

console.log("| round | OTel ProtobufTraceSerializer µs/span | SpanBatchEncoder µs/span |\n| ---: | ---: | ---: |");
for (let round = 1; round <= Number(values.rounds); round++) {
  const otel = perSpanUs(() => ProtobufTraceSerializer.serializeRequest(spans));
  const ours = perSpanUs(() => {
    for (const s of spans) encoder.add(s);
    encoder.take();
  });
  console.log(`| ${round} | ${otel.toFixed(3)} | ${ours.toFixed(3)} |`);
}
