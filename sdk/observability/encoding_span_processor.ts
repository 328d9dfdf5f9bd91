import { context, diag, TraceFlags } from "@opentelemetry/api";
import { ExportResultCode, globalErrorHandler, suppressTracing, type ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { SpanBatchEncoder, type EncodedSpans } from "./otlp_span_encoder";

/** What takes a batch's encoded request (OTLP/HTTP with OTel's export delegate: otlp_fetch.ts). */
export interface EncodedSpanExporter {
  export(batch: EncodedSpans, done: (result: ExportResult) => void): void;
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface EncodingBatchOptions {
  /** Spans ended and not yet handed to the exporter; past it, a span is dropped. */
  maxQueueSize?: number;
  maxExportBatchSize?: number;
  scheduledDelayMillis?: number;
  exportTimeoutMillis?: number;
}

/**
 * OTel's BatchSpanProcessor with the same limits and defaults (2,048 queued, batches of 512, 5 s delay, 30 s
 * export timeout, one export at a time), except that a span is encoded to OTLP/protobuf when it ends
 * (otlp_span_encoder.ts) instead of being kept as an object until its batch is exported. A resource's attributes
 * are read when its batch is full, so they must not come later (as a resource detector's may): tracing.ts gives
 * its provider a resource of plain attributes.
 */
export class EncodingBatchSpanProcessor implements SpanProcessor {
  private readonly maxQueueSize: number;
  private readonly maxExportBatchSize: number;
  private readonly scheduledDelayMillis: number;
  private readonly exportTimeoutMillis: number;
  private readonly encoder = new SpanBatchEncoder();
  /** Full batches waiting for their export, oldest first. */
  private readonly sealed: EncodedSpans[] = [];
  private sealedSpans = 0;
  private exporting = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private dropped = 0;
  private shutdownPromise: Promise<void> | undefined;

  constructor(
    private readonly exporter: EncodedSpanExporter,
    opts: EncodingBatchOptions = {},
  ) {
    this.maxQueueSize = opts.maxQueueSize ?? 2048;
    this.maxExportBatchSize = Math.min(opts.maxExportBatchSize ?? 512, this.maxQueueSize);
    this.scheduledDelayMillis = opts.scheduledDelayMillis ?? 5000;
    this.exportTimeoutMillis = opts.exportTimeoutMillis ?? 30_000;
  }

  onStart(_span: Span): void {}

  onEnd(span: ReadableSpan): void {
    if (this.shutdownPromise !== undefined || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.encoder.count + this.sealedSpans >= this.maxQueueSize) {
      if (this.dropped++ === 0) diag.debug("maxQueueSize reached, dropping spans");
      return;
    }
    if (this.dropped > 0) {
      diag.warn(`Dropped ${this.dropped} spans because maxQueueSize reached`);
      this.dropped = 0;
    }
    this.encoder.add(span);
    if (this.encoder.count >= this.maxExportBatchSize) this.seal();
    this.schedule();
  }

  forceFlush(): Promise<void> {
    return this.shutdownPromise ?? this.flushAll();
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.flushAll().then(() => this.exporter.shutdown());
    return this.shutdownPromise;
  }

  private seal(): void {
    if (this.encoder.count === 0) return;
    const batch = this.encoder.take();
    this.sealed.push(batch);
    this.sealedSpans += batch.length;
  }

  /** A full batch goes now, the rest after the delay; one export at a time. */
  private schedule(): void {
    if (this.exporting) return;
    if (this.sealed.length > 0) {
      this.clearTimer();
      this.exportNext().catch(globalErrorHandler);
      return;
    }
    if (this.timer !== undefined || this.encoder.count === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.seal();
      this.schedule();
    }, this.scheduledDelayMillis);
    this.timer.unref?.();
  }

  private async exportNext(): Promise<void> {
    this.exporting = true;
    try {
      await this.exportOne();
    } finally {
      this.exporting = false;
      this.schedule();
    }
  }

  /** Exports the oldest sealed batch; resolves when the exporter has answered or the export's time is up. */
  private async exportOne(): Promise<void> {
    const batch = this.sealed.shift();
    if (batch === undefined) return;
    this.sealedSpans -= batch.length;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("Timeout")), this.exportTimeoutMillis);
      // Nothing the exporter does is traced.
      context.with(suppressTracing(context.active()), () =>
        this.exporter.export(batch, (result) => {
          clearTimeout(timer);
          if (result.code === ExportResultCode.SUCCESS) resolve();
          else reject(result.error ?? new Error("EncodingBatchSpanProcessor: span export failed"));
        }),
      );
    });
  }

  /** Everything ended so far, exported (after an export under way). */
  private async flushAll(): Promise<void> {
    this.clearTimer();
    this.seal();
    const exports: Promise<void>[] = [];
    while (this.sealed.length > 0) exports.push(this.exportOne());
    await Promise.all(exports);
    await this.exporter.forceFlush?.();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
