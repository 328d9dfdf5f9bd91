import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { SpanKind, SpanStatusCode, type Attributes, type HrTime, type Link, type SpanContext } from "@opentelemetry/api";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type TimedEvent } from "@opentelemetry/sdk-trace-base";
import { TraceState } from "@opentelemetry/core";
import { ProtoWriter, SpanBatchEncoder } from "./otlp_span_encoder";

/** What OTel's own serializer makes of the spans: the bytes the encoder must make too. */
function otel(spans: ReadableSpan[]): Uint8Array {
  return ProtobufTraceSerializer.serializeRequest(spans)!;
}

function encoded(spans: ReadableSpan[]): Uint8Array {
  const encoder = new SpanBatchEncoder();
  for (const s of spans) encoder.add(s);
  const batch = encoder.take();
  expect(batch.length).toBe(spans.length);
  return batch.bytes;
}

describe("SpanBatchEncoder", () => {
  test("spans of the OTel SDK: the bytes of OTel's serializer", () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "memstore", "service.version": "0.1.0", pid: 4242 }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer("memstore", "0.1.0");
    const other = provider.getTracer("driver");
    const root = tracer.startSpan("prism.interfaces.keyvalue.KeyValueBasicInterface/Get", {
      kind: SpanKind.SERVER,
      attributes: { "rpc.system": "grpc", "rpc.method": "Get", "prism.namespace": "défaut", retries: 3, ratio: 0.25, ok: true, tags: ["a", "b"] },
    });
    root.addEvent("cache miss", { key: "k1" });
    root.addLink({ context: { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1, isRemote: true } });
    root.setStatus({ code: SpanStatusCode.ERROR, message: "not found: k1" });
    root.end();
    const child = other.startSpan("memstore.get", { kind: SpanKind.CLIENT, attributes: { "db.system": "memory", big: 2 ** 60, negative: -5 } });
    child.end();
    const plain = tracer.startSpan("plain");
    plain.end();
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(3);
    expect(encoded(spans)).toEqual(otel(spans));
    // Again: now with the bytes of the strings seen once (names, keys, values) kept.
    expect(encoded(spans)).toEqual(otel(spans));
  });

  test("any span: the bytes of OTel's serializer (generated spans, several resources and scopes)", () => {
    fc.assert(
      fc.property(fc.array(arbitrarySpan, { minLength: 1, maxLength: 12 }), (spans) => {
        expect(encoded(spans)).toEqual(otel(spans));
      }),
      { numRuns: 300 },
    );
  });

  test("a span past 16 KiB and one under 128 bytes (lengths of 3 and 1 bytes where 2 are reserved)", () => {
    fc.assert(
      fc.property(arbitrarySpan, fc.string({ minLength: 17_000, maxLength: 20_000 }), (span, long) => {
        const large = { ...span, spanContext: span.spanContext, name: long };
        const small = { ...span, spanContext: span.spanContext, name: "", attributes: {}, events: [], links: [], status: { code: 0 } };
        expect(encoded([large, small])).toEqual(otel([large, small]));
      }),
      { numRuns: 20 },
    );
  });

  test("take empties the encoder: batch after batch, each request stands alone", () => {
    fc.assert(
      fc.property(fc.array(fc.array(arbitrarySpan, { minLength: 1, maxLength: 6 }), { minLength: 2, maxLength: 4 }), (batches) => {
        const encoder = new SpanBatchEncoder();
        for (const spans of batches) {
          for (const s of spans) encoder.add(s);
          expect(encoder.take().bytes).toEqual(otel(spans));
          expect(encoder.count).toBe(0);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe("ProtoWriter", () => {
  test("varint of any integer in int64: two's complement for negatives, as OTel writes an int_value", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (big) => {
        const value = Number(big);
        if (value >= 2 ** 63) return; // rounded up out of range: a double_value then
        const w = new ProtoWriter(1);
        w.varint(value);
        let u = BigInt.asUintN(64, BigInt(value));
        const expected: number[] = [];
        while (u > 0x7fn) {
          expected.push(Number(u & 0x7fn) | 0x80);
          u >>= 7n;
        }
        expected.push(Number(u));
        expect([...w.bytes()]).toEqual(expected);
      }),
    );
  });

  test("hrTime: seconds × 1e9 + nanoseconds, exact as fixed64", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 999_999_999 }), (s, ns) => {
        const w = new ProtoWriter(1);
        w.hrTime([s, ns]);
        expect(new DataView(w.buf.buffer).getBigUint64(0, true)).toBe(BigInt(s) * 1_000_000_000n + BigInt(ns));
      }),
    );
  });
});

const hexId = (bytes: number) =>
  fc.tuple(fc.uint8Array({ minLength: bytes, maxLength: bytes }), fc.boolean()).map(([b, upper]) => {
    const hex = Buffer.from(b).toString("hex");
    return upper ? hex.toUpperCase() : hex;
  });

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 20 }), fc.string({ unit: "binary", maxLength: 10 }));

const scalar = fc.oneof(
  text,
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 53, 2 ** 60, -(2 ** 63), 2 ** 63, -0, Number.MAX_SAFE_INTEGER, -(2 ** 40)),
  fc.uint8Array({ maxLength: 20 }),
);

const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  fc.array(fc.oneof(scalar, fc.constant(null), fc.constant(undefined)), { maxLength: 4 }),
  fc.dictionary(text, scalar, { maxKeys: 3 }),
  fc.constant(undefined),
);

const attributes = fc.dictionary(text, value, { maxKeys: 6 }) as fc.Arbitrary<Attributes>;

const hrTime = fc.tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 999_999_999 })) as fc.Arbitrary<HrTime>;

const traceState = fc.option(
  fc.constantFrom("", "congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").map((s) => new TraceState(s)),
  { nil: undefined },
);

const spanContext: fc.Arbitrary<SpanContext> = fc.record(
  { traceId: hexId(16), spanId: hexId(8), traceFlags: fc.integer({ min: 0, max: 255 }), isRemote: fc.option(fc.boolean(), { nil: undefined }), traceState },
  { requiredKeys: ["traceId", "spanId", "traceFlags"] },
);

const event: fc.Arbitrary<TimedEvent> = fc.record(
  { time: hrTime, name: text, attributes, droppedAttributesCount: fc.nat(1000) },
  { requiredKeys: ["time", "name"] },
);

const link: fc.Arbitrary<Link> = fc.record({ context: spanContext, attributes, droppedAttributesCount: fc.nat(1000) }, { requiredKeys: ["context"] });

const resources = [
  resourceFromAttributes({ "service.name": "prism-proxy", "service.version": "1.2.3" }),
  resourceFromAttributes({ "service.name": "memstore", "host.id": 7, labels: ["a", "é"] }, { schemaUrl: "https://opentelemetry.io/schemas/1.30.0" }),
  resourceFromAttributes({}),
];
const scopes = [{ name: "prism-proxy", version: "1.2.3" }, { name: "driver" }, { name: "with-schema", version: "", schemaUrl: "https://example.com/s" }];

const arbitrarySpan: fc.Arbitrary<ReadableSpan> = fc
  .record({
    context: spanContext,
    parent: fc.option(fc.record({ spanId: fc.oneof(hexId(8), fc.constant("")), isRemote: fc.option(fc.boolean(), { nil: undefined }) }), { nil: undefined }),
    name: text,
    kind: fc.option(fc.constantFrom(SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER), { nil: undefined }),
    startTime: hrTime,
    endTime: hrTime,
    attributes,
    events: fc.array(event, { maxLength: 3 }),
    links: fc.array(link, { maxLength: 2 }),
    status: fc.record(
      { code: fc.constantFrom(SpanStatusCode.UNSET, SpanStatusCode.OK, SpanStatusCode.ERROR), message: fc.option(text, { nil: undefined }) },
      { requiredKeys: ["code"] },
    ),
    dropped: fc.tuple(fc.nat(100_000), fc.nat(1000), fc.nat(1000)),
    resource: fc.constantFrom(...resources),
    scope: fc.constantFrom(...scopes),
  })
  .map(
    (g) =>
      ({
        spanContext: () => g.context,
        parentSpanContext: g.parent && { traceId: g.context.traceId, spanId: g.parent.spanId, traceFlags: 1, isRemote: g.parent.isRemote },
        name: g.name,
        kind: g.kind as SpanKind,
        startTime: g.startTime,
        endTime: g.endTime,
        duration: [0, 0],
        attributes: g.attributes,
        events: g.events,
        links: g.links,
        status: g.status,
        ended: true,
        droppedAttributesCount: g.dropped[0],
        droppedEventsCount: g.dropped[1],
        droppedLinksCount: g.dropped[2],
        resource: g.resource,
        instrumentationScope: g.scope,
      }) as ReadableSpan,
  );
