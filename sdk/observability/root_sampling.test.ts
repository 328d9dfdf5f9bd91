import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ROOT_CONTEXT, SamplingDecision, SpanKind } from "@opentelemetry/api";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from "@opentelemetry/sdk-trace-base";
import { samplerFromEnv } from "./otel_env";
import { RootSampling, rootDecisionOf } from "./root_sampling";

const TRACEPARENT_NOT_SAMPLED = /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/;

/** What the OTel sampler itself decides for a new trace with this id. */
const otelRecords = (sampler: Sampler, traceId: string) =>
  sampler.shouldSample(ROOT_CONTEXT, traceId, "s", SpanKind.SERVER, {}, []).decision !== SamplingDecision.NOT_RECORD;

describe("rootDecisionOf", () => {
  test("decides as the OTel sampler does, for every sampler OTEL_TRACES_SAMPLER names and any ratio", () => {
    const kinds = [
      (r: number) => new TraceIdRatioBasedSampler(r),
      (r: number) => new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(r) }),
      () => new AlwaysOnSampler(),
      () => new AlwaysOffSampler(),
      () => new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      () => new ParentBasedSampler({ root: new AlwaysOffSampler() }),
    ];
    const ratio = fc.oneof(fc.constantFrom(0, 1, 0.01, 0.5), fc.double({ min: 0, max: 1, noNaN: true }));
    const word = fc.integer({ min: 0, max: 0xffffffff });
    // The last word random, or chosen so that the XOR of the four lands on the ratio's bound, beside it, or at 2³² − 1.
    const last = fc.oneof(fc.record({ random: word }), fc.record({ nearBound: fc.constantFrom(-1, 0, 1) }), fc.constant({ allOnes: true }));
    fc.assert(
      fc.property(fc.nat(kinds.length - 1), ratio, fc.tuple(word, word, word), last, (kind, r, [a, b, c], choice) => {
        const sampler = kinds[kind]!(r);
        const bound = r === 1 ? 0xffffffff : Math.floor(r * 0xffffffff);
        const xor = "random" in choice ? undefined : "allOnes" in choice ? 0xffffffff : Math.min(0xffffffff, Math.max(0, bound + choice.nearBound));
        const d = "random" in choice ? choice.random : (a ^ b ^ c ^ xor!) >>> 0;
        const view = new DataView(new ArrayBuffer(16));
        [a, b, c, d].forEach((w, i) => view.setUint32(4 * i, w));
        if ([a, b, c, d].every((w) => w === 0)) return;
        const traceId = Buffer.from(view.buffer).toString("hex");
        expect(rootDecisionOf(sampler)!(view, 0)).toBe(otelRecords(sampler, traceId));
      }),
      { numRuns: 5000 },
    );
  });

  test("the samplers made from OTEL_TRACES_SAMPLER are all read", () => {
    for (const name of ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"]) {
      expect(rootDecisionOf(samplerFromEnv({ OTEL_TRACES_SAMPLER: name, OTEL_TRACES_SAMPLER_ARG: "0.25" }))).toBeDefined();
    }
  });

  test("any other sampler is not read (its decision may depend on the span's name or attributes)", () => {
    const byName: Sampler = {
      shouldSample: (_c, _t, name) => ({ decision: name === "x" ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD }),
      toString: () => "ByName",
    };
    expect(rootDecisionOf(byName)).toBeUndefined();
    expect(rootDecisionOf(new ParentBasedSampler({ root: byName }))).toBeUndefined();
  });
});

describe("RootSampling", () => {
  test("a new trace left out: a well-formed 'not sampled' traceparent, new ids every time", () => {
    const roots = new RootSampling(new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0) }));
    const seen = new Set<string>();
    // Past several refills of the random pool.
    for (let i = 0; i < 1000; i++) {
      const tp = roots.unsampledTraceparent();
      expect(tp).toMatch(TRACEPARENT_NOT_SAMPLED);
      seen.add(tp!.slice(3, 35));
      seen.add(tp!.slice(36, 52));
    }
    expect(seen.size).toBe(2000);
  });

  test("a new trace recorded: the root span started next has the trace id the decision was made on", () => {
    const sampler = new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.5) });
    const roots = new RootSampling(sampler);
    const tracer = new BasicTracerProvider({ sampler, idGenerator: roots }).getTracer("t");
    let recorded = 0;
    for (let i = 0; i < 2000; i++) {
      if (roots.unsampledTraceparent() !== undefined) continue;
      const span = tracer.startSpan("s", { kind: SpanKind.SERVER }, ROOT_CONTEXT);
      // The sampler, asked again inside startSpan, agrees: it is the same trace id.
      expect(span.isRecording()).toBe(true);
      expect(otelRecords(sampler, span.spanContext().traceId)).toBe(true);
      recorded++;
      // The preset is used once: the next root span (no decision made for it) gets a new trace id.
      expect(roots.generateTraceId()).not.toBe(span.spanContext().traceId);
    }
    // Half of 2,000, within bounds a fair draw leaves with probability above 1 − 1e-9.
    expect(recorded).toBeGreaterThan(850);
    expect(recorded).toBeLessThan(1150);
  });

  test("a sampler it does not read: no decision here, and no trace id kept for the next span", () => {
    const custom: Sampler = { shouldSample: () => ({ decision: SamplingDecision.NOT_RECORD }), toString: () => "Custom" };
    const roots = new RootSampling(custom);
    expect(roots.unsampledTraceparent()).toBeUndefined();
    const a = roots.generateTraceId();
    const b = roots.generateTraceId();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(a).not.toBe(b);
    expect(roots.generateSpanId()).toMatch(/^[0-9a-f]{16}$/);
  });
});
