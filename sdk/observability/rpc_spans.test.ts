import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  context,
  ROOT_CONTEXT,
  SamplingDecision,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Context,
  INVALID_SPAN_CONTEXT,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import { hrTimeDuration, suppressTracing, TraceState } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type IdGenerator,
  type ReadableSpan,
  type Sampler,
  type SpanLimits,
} from "@opentelemetry/sdk-trace-base";
import { RecordedSpan, RpcSpans } from "./rpc_spans";
import { SpanBatchEncoder } from "./otlp_span_encoder";

/** Ids counted up from a seed: two generators with one seed give the same ids in the same order. */
class CountingIds implements IdGenerator {
  constructor(private n: number) {}
  generateTraceId(): string {
    return (++this.n).toString(16).padStart(32, "0");
  }
  generateSpanId(): string {
    return (++this.n).toString(16).padStart(16, "0");
  }
}

/** A sampler that adds attributes and a trace state to what it records, and drops spans named "drop". */
class AddingSampler implements Sampler {
  shouldSample(_c: Context, _t: string, name: string, _k: SpanKind, attributes: Attributes) {
    if (name === "drop") return { decision: SamplingDecision.NOT_RECORD };
    return {
      decision: name === "record only" ? SamplingDecision.RECORD : SamplingDecision.RECORD_AND_SAMPLED,
      attributes: { "sampler.seen": Object.keys(attributes).length, "rpc.method": "from sampler" },
      traceState: new TraceState("prism=1"),
    };
  }
  toString() {
    return "AddingSampler";
  }
}

/** One provider as tracing.ts builds it, keeping every span that ends (sampled or not). */
function provider(sampler: Sampler, limits: SpanLimits = {}, seed = 0) {
  const exporter = new InMemorySpanExporter();
  const ended: ReadableSpan[] = [];
  const p = new BasicTracerProvider({
    sampler,
    idGenerator: new CountingIds(seed),
    spanLimits: limits,
    resource: resourceFromAttributes({ "service.name": "memstore", "service.version": "0.1.0" }),
    spanProcessors: [
      new SimpleSpanProcessor(exporter),
      { onStart: () => {}, onEnd: (s) => ended.push(s), forceFlush: async () => {}, shutdown: async () => {} },
    ],
  });
  return { tracer: p.getTracer("memstore", "0.1.0"), ended, exporter };
}

/** What a finished span says, times left out (each span reads its own clock). */
function fields(s: ReadableSpan) {
  return {
    name: s.name,
    kind: s.kind,
    spanContext: { ...s.spanContext(), traceState: s.spanContext().traceState?.serialize() },
    parentSpanContext: s.parentSpanContext,
    attributes: s.attributes,
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({ name: e.name, attributes: e.attributes, droppedAttributesCount: e.droppedAttributesCount })),
    droppedEventsCount: s.droppedEventsCount,
    links: s.links,
    droppedLinksCount: s.droppedLinksCount,
    status: s.status,
    ended: s.ended,
    resource: s.resource.attributes,
    scope: s.instrumentationScope,
  };
}

const remoteSampled = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState("vendor=x"),
});
const remoteUnsampled = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
  traceFlags: 0,
  isRemote: true,
});

type Op =
  | { op: "attr"; key: string; value: unknown }
  | { op: "event"; name: string; attributes?: Attributes }
  | { op: "link"; attributes?: Attributes }
  | { op: "status"; code: SpanStatusCode; message?: string }
  | { op: "name"; name: string }
  | { op: "exception"; error: Error };

function apply(span: Span, ops: Op[]): void {
  for (const o of ops) {
    if (o.op === "attr") span.setAttribute(o.key, o.value as AttributeValue);
    else if (o.op === "event") span.addEvent(o.name, o.attributes);
    else if (o.op === "link") span.addLink({ context: { traceId: "1".repeat(32), spanId: "2".repeat(16), traceFlags: 1 }, attributes: o.attributes });
    else if (o.op === "status") span.setStatus({ code: o.code, message: o.message });
    else if (o.op === "name") span.updateName(o.name);
    else span.recordException(o.error);
  }
}

// Valid attribute values and the invalid ones SpanImpl drops (mixed arrays, objects).
const value: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.constant(null),
  fc.constant([1, "mixed"]),
  fc.constant({ not: "a value" }),
);
const key = fc.oneof(fc.constantFrom("a", "b", "c", "rpc.method", ""), fc.string({ maxLength: 4 }));
const attributes = fc.dictionary(key, value, { maxKeys: 5 }) as fc.Arbitrary<Attributes>;
const op: fc.Arbitrary<Op> = fc.oneof(
  // Mostly a few keys: overwriting one must not count against attributeCountLimit.
  { arbitrary: fc.record({ op: fc.constant("attr" as const), key: fc.constantFrom("a", "b", "c", "d"), value }), weight: 4 },
  fc.record({ op: fc.constant("attr" as const), key, value }),
  fc.record({ op: fc.constant("event" as const), name: fc.string({ maxLength: 5 }), attributes: fc.option(attributes, { nil: undefined }) }),
  fc.record({ op: fc.constant("link" as const), attributes: fc.option(attributes, { nil: undefined }) }),
  fc.record({
    op: fc.constant("status" as const),
    code: fc.constantFrom(SpanStatusCode.UNSET, SpanStatusCode.OK, SpanStatusCode.ERROR),
    message: fc.option(fc.string({ maxLength: 5 }), { nil: undefined }),
  }),
  fc.record({ op: fc.constant("name" as const), name: fc.string({ maxLength: 5 }) }),
  // One Error for both spans: its stack is part of the event.
  fc.record({ op: fc.constant("exception" as const), error: fc.string({ minLength: 1, maxLength: 5 }).map((m) => new Error(m)) }),
);
const limit = fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined });
const limits: fc.Arbitrary<SpanLimits> = fc.record({
  attributeCountLimit: limit,
  attributeValueLengthLimit: fc.option(fc.constantFrom(0, 1, 3, 8, Number.POSITIVE_INFINITY), { nil: undefined }),
  eventCountLimit: limit,
  linkCountLimit: limit,
  attributePerEventCountLimit: limit,
  attributePerLinkCountLimit: limit,
});

describe("RpcSpans", () => {
  test("any span: what OTel's Tracer.startSpan and SpanImpl record, for any attributes, limits, parent and operations", () => {
    const parents: Array<[string, Context]> = [
      ["none", ROOT_CONTEXT],
      ["remote sampled", remoteSampled],
      ["remote not sampled", remoteUnsampled],
    ];
    fc.assert(
      fc.property(
        attributes,
        limits,
        fc.constantFrom(...parents),
        fc.constantFrom("rpc", "drop", "record only"),
        fc.constantFrom(SpanKind.SERVER, SpanKind.CLIENT),
        fc.array(op, { maxLength: 12 }),
        (attrs, spanLimits, [, parent], name, kind, ops) => {
          const sampler = new ParentBasedSampler({ root: new AddingSampler(), remoteParentSampled: new AddingSampler() });
          const theirs = provider(sampler, spanLimits);
          const ours = provider(sampler, spanLimits);
          const a = theirs.tracer.startSpan(name, { kind, attributes: attrs }, parent);
          const b = new RpcSpans(ours.tracer).start(name, kind, attrs, parent);
          expect(b.isRecording()).toBe(a.isRecording());
          expect({ ...b.spanContext(), traceState: b.spanContext().traceState?.serialize() }).toEqual({
            ...a.spanContext(),
            traceState: a.spanContext().traceState?.serialize(),
          });
          apply(a, ops);
          apply(b, ops);
          a.end();
          b.end();
          expect(ours.ended.map(fields)).toEqual(theirs.ended.map(fields));
          expect(ours.exporter.getFinishedSpans().map(fields)).toEqual(theirs.exporter.getFinishedSpans().map(fields));
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("the SDK's spans (server span, then a backend call's span in its context) encode to the same bytes but for ids' times", () => {
    const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
    const theirs = provider(sampler);
    const ours = provider(sampler);
    const spans = new RpcSpans(ours.tracer);
    const attrs = {
      "rpc.system": "grpc",
      "rpc.service": "prism.interfaces.keyvalue.KeyValueBasicInterface",
      "rpc.method": "Get",
      "prism.namespace": "default",
    };
    const a = theirs.tracer.startSpan("KeyValueBasicInterface/Get", { kind: SpanKind.SERVER, attributes: attrs }, remoteSampled);
    const b = spans.start("KeyValueBasicInterface/Get", SpanKind.SERVER, attrs, remoteSampled);
    const ac = theirs.tracer.startSpan("memory.get", { kind: SpanKind.CLIENT, attributes: { "db.system": "memory" } }, trace.setSpan(ROOT_CONTEXT, a));
    const bc = spans.start("memory.get", SpanKind.CLIENT, { "db.system": "memory" }, trace.setSpan(ROOT_CONTEXT, b));
    for (const s of [ac, bc, a, b]) {
      s.setAttribute("rpc.grpc.status_code", 0);
      s.end();
    }
    const timeless = (s: ReadableSpan) =>
      ({
        ...s,
        startTime: [0, 0],
        endTime: [0, 0],
        duration: [0, 0],
        spanContext: s.spanContext,
        resource: s.resource,
        instrumentationScope: s.instrumentationScope,
      }) as ReadableSpan;
    const bytes = (list: ReadableSpan[]) => {
      const encoder = new SpanBatchEncoder();
      for (const s of list) encoder.add(timeless(s));
      return encoder.take().bytes;
    };
    expect(ours.exporter.getFinishedSpans()).toHaveLength(2);
    expect(bytes(ours.exporter.getFinishedSpans())).toEqual(bytes(theirs.exporter.getFinishedSpans()));
    expect(bc.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect((ours.exporter.getFinishedSpans()[0] as ReadableSpan).parentSpanContext?.spanId).toBe(b.spanContext().spanId);
  });

  test("times: start on the wall clock, end and events after it on the monotonic one; explicit times as SpanImpl reads them", () => {
    const { tracer } = provider(new AlwaysOnSampler());
    const before = Date.now();
    const span = new RpcSpans(tracer).start("t", SpanKind.SERVER, {}, ROOT_CONTEXT) as RecordedSpan;
    const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
    expect(ms(span.startTime)).toBeGreaterThanOrEqual(before);
    expect(ms(span.startTime)).toBeLessThanOrEqual(Date.now());
    span.addEvent("at a Date", new Date(1_700_000_000_123));
    span.addEvent("at epoch ms", 1_700_000_000_456);
    span.addEvent("at an HrTime", [1_700_000_000, 789]);
    span.addEvent("now");
    span.end();
    expect(span.events.map((e) => e.time)).toEqual([[1_700_000_000, 123_000_000], [1_700_000_000, 456_000_000], [1_700_000_000, 789], span.events[3]!.time]);
    expect(ms(span.events[3]!.time)).toBeGreaterThanOrEqual(ms(span.startTime));
    expect(ms(span.endTime)).toBeGreaterThanOrEqual(ms(span.events[3]!.time));
    expect(span.duration).toEqual(hrTimeDuration(span.startTime, span.endTime));
    for (let i = 0; i < 2000; i++) {
      const quick = new RpcSpans(tracer).start("t", SpanKind.SERVER, {}, ROOT_CONTEXT) as RecordedSpan;
      quick.end();
      expect(quick.duration).toEqual(hrTimeDuration(quick.startTime, quick.endTime));
    }
    const early = new RpcSpans(tracer).start("t", SpanKind.SERVER, {}, ROOT_CONTEXT) as RecordedSpan;
    early.end(new Date(0));
    expect(early.endTime).toEqual(early.startTime);
    expect(early.duration).toEqual([0, 0]);
  });

  test("suppressed tracing, a dropped span, and ending twice", () => {
    const { tracer, ended } = provider(new TraceIdRatioBasedSampler(0));
    const spans = new RpcSpans(tracer);
    expect(spans.start("x", SpanKind.SERVER, {}, suppressTracing(ROOT_CONTEXT)).spanContext().traceId).toBe("00000000000000000000000000000000");
    const dropped = spans.start("x", SpanKind.SERVER, {}, ROOT_CONTEXT);
    expect(dropped.isRecording()).toBe(false);
    expect(dropped.spanContext().traceFlags).toBe(TraceFlags.NONE);
    const on = provider(new AlwaysOnSampler());
    const span = new RpcSpans(on.tracer).start("x", SpanKind.SERVER, {}, context.active());
    span.end();
    span.end();
    expect(on.ended).toHaveLength(1);
    expect(span.isRecording()).toBe(false);
    expect(ended).toHaveLength(0);
  });

  test("spans without events or links share no list anyone can add to", () => {
    const spans = new RpcSpans(provider(new AlwaysOnSampler()).tracer);
    const a = spans.start("a", SpanKind.SERVER, {}, ROOT_CONTEXT) as RecordedSpan;
    const b = spans.start("b", SpanKind.SERVER, {}, ROOT_CONTEXT) as RecordedSpan;
    expect(() => (a.events as unknown[]).push({})).toThrow();
    expect(() => (a.links as unknown[]).push({})).toThrow();
    a.addEvent("only a's");
    expect([a.events.length, b.events.length]).toEqual([1, 0]);
  });

  test("a tracer that is not the OTel SDK's: its own startSpan", () => {
    // As the API's no-op tracer: the parent's span context in a non-recording span.
    const noopTracer = {
      startSpan: (_name: string, _opts: unknown, ctx: Context) => trace.wrapSpanContext(trace.getSpanContext(ctx) ?? INVALID_SPAN_CONTEXT),
    } as unknown as Tracer;
    const spans = new RpcSpans(noopTracer);
    expect(spans.lean).toBe(false);
    expect(spans.start("x", SpanKind.SERVER, { a: 1 }, remoteSampled).spanContext().spanId).toBe("b7ad6b7169203331");
    expect(new RpcSpans(provider(new AlwaysOnSampler()).tracer).lean).toBe(true);
  });
});
