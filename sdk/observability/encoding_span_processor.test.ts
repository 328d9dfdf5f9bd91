import { describe, expect, test } from "bun:test";
import { SpanKind, TraceFlags } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type Sampler,
} from "@opentelemetry/sdk-trace-base";
import { EncodingBatchSpanProcessor, type EncodedSpanExporter, type EncodingBatchOptions } from "./encoding_span_processor";
import type { EncodedSpans } from "./otlp_span_encoder";

/** An exporter that keeps each batch and answers as `answer` says (undefined: never). */
class Recorder implements EncodedSpanExporter {
  readonly batches: EncodedSpans[] = [];
  readonly pending: Array<(r: ExportResult) => void> = [];
  shutdowns = 0;
  constructor(private readonly answer: () => ExportResult | undefined = () => ({ code: ExportResultCode.SUCCESS })) {}
  export(batch: EncodedSpans, done: (r: ExportResult) => void): void {
    this.batches.push(batch);
    const r = this.answer();
    if (r) queueMicrotask(() => done(r));
    else this.pending.push(done);
  }
  async shutdown(): Promise<void> {
    this.shutdowns++;
  }
  spans(): number {
    return this.batches.reduce((n, b) => n + b.length, 0);
  }
}

/** A tracer whose spans go to the processor under test, and also kept as objects (to compare with OTel's bytes). */
function setUp(exporter: EncodedSpanExporter, opts: EncodingBatchOptions = {}, sampler?: Sampler) {
  const processor = new EncodingBatchSpanProcessor(exporter, opts);
  const kept = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    sampler,
    resource: resourceFromAttributes({ "service.name": "memstore" }),
    spanProcessors: [processor, new SimpleSpanProcessor(kept)],
  });
  const tracer = provider.getTracer("memstore", "0.1.0");
  const end = (n: number) => {
    for (let i = 0; i < n; i++) tracer.startSpan(`op-${i}`, { kind: SpanKind.SERVER, attributes: { i } }).end();
  };
  return { processor, end, kept: () => kept.getFinishedSpans() as ReadableSpan[] };
}

describe("EncodingBatchSpanProcessor", () => {
  test("a full batch (512 by default) is exported at once, as the bytes OTel's serializer makes of its spans", async () => {
    const exporter = new Recorder();
    const { end, kept } = setUp(exporter);
    end(511);
    expect(exporter.batches).toHaveLength(0);
    end(1);
    expect(exporter.batches).toHaveLength(1);
    expect(exporter.batches[0]!.length).toBe(512);
    expect(exporter.batches[0]!.bytes).toEqual(ProtobufTraceSerializer.serializeRequest(kept())!);
  });

  test("a batch not full is exported after the delay", async () => {
    const exporter = new Recorder();
    const { end } = setUp(exporter, { scheduledDelayMillis: 30 });
    end(3);
    await Bun.sleep(10);
    expect(exporter.batches).toHaveLength(0);
    await Bun.sleep(60);
    expect(exporter.batches.map((b) => b.length)).toEqual([3]);
  });

  test("one export at a time: full batches wait for the one under way, then go in order", async () => {
    const exporter = new Recorder(() => undefined);
    const { end } = setUp(exporter, { maxExportBatchSize: 10 });
    end(35);
    expect(exporter.batches.map((b) => b.length)).toEqual([10]);
    exporter.pending.shift()!({ code: ExportResultCode.SUCCESS });
    await Bun.sleep(5);
    expect(exporter.batches.map((b) => b.length)).toEqual([10, 10]);
    exporter.pending.shift()!({ code: ExportResultCode.SUCCESS });
    await Bun.sleep(5);
    expect(exporter.batches.map((b) => b.length)).toEqual([10, 10, 10]);
  });

  test("past maxQueueSize spans ended and not handed to the exporter, a span is dropped", async () => {
    const exporter = new Recorder(() => undefined);
    const { end } = setUp(exporter, { maxQueueSize: 30, maxExportBatchSize: 10 });
    end(100);
    // The first batch went to the exporter at once; 30 more wait; the rest were dropped.
    expect(exporter.spans()).toBe(10);
    for (let i = 0; i < 3; i++) {
      exporter.pending.shift()!({ code: ExportResultCode.SUCCESS });
      await Bun.sleep(5);
    }
    expect(exporter.spans()).toBe(40);
    exporter.pending.shift()!({ code: ExportResultCode.SUCCESS });
    await Bun.sleep(5);
    expect(exporter.spans()).toBe(40);
  });

  test("forceFlush exports everything ended; shutdown flushes, shuts the exporter down once and takes no more spans", async () => {
    const exporter = new Recorder();
    const { processor, end } = setUp(exporter, { maxExportBatchSize: 8 });
    end(20);
    await processor.forceFlush();
    expect(exporter.spans()).toBe(20);
    end(5);
    await Promise.all([processor.shutdown(), processor.shutdown()]);
    expect(exporter.spans()).toBe(25);
    expect(exporter.shutdowns).toBe(1);
    end(5);
    await processor.forceFlush();
    expect(exporter.spans()).toBe(25);
  });

  test("a span not sampled is not exported", async () => {
    const exporter = new Recorder();
    const { processor, end } = setUp(exporter, {}, new AlwaysOffSampler());
    end(5);
    await processor.forceFlush();
    expect(exporter.spans()).toBe(0);
    // A recording span without the sampled flag (the processor reads the flag, as OTel's does).
    const unsampled = { spanContext: () => ({ traceId: "1".repeat(32), spanId: "2".repeat(16), traceFlags: TraceFlags.NONE }) } as ReadableSpan;
    processor.onEnd(unsampled);
    await processor.forceFlush();
    expect(exporter.spans()).toBe(0);
  });

  test("a failed export fails the flush, and later batches still go", async () => {
    let fail = true;
    const exporter = new Recorder(() => (fail ? { code: ExportResultCode.FAILED, error: new Error("collector said no") } : { code: ExportResultCode.SUCCESS }));
    const { processor, end } = setUp(exporter);
    end(2);
    await expect(processor.forceFlush()).rejects.toThrow("collector said no");
    fail = false;
    end(3);
    await processor.forceFlush();
    expect(exporter.batches.map((b) => b.length)).toEqual([2, 3]);
  });

  test("an exporter that never answers fails the flush after exportTimeoutMillis", async () => {
    const exporter = new Recorder(() => undefined);
    const { processor, end } = setUp(exporter, { exportTimeoutMillis: 50 });
    end(1);
    const started = Date.now();
    await expect(processor.forceFlush()).rejects.toThrow("Timeout");
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
  });
});
