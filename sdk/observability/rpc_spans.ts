import {
  diag,
  INVALID_SPAN_CONTEXT,
  trace,
  SamplingDecision,
  SpanStatusCode,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  type TimeInput,
  type Tracer,
} from "@opentelemetry/api";
import {
  addHrTimes,
  hrTime,
  hrTimeDuration,
  isAttributeValue,
  isTimeInput,
  isTimeInputHrTime,
  isTracingSuppressed,
  millisToHrTime,
  sanitizeAttributes,
} from "@opentelemetry/core";
import type { IdGenerator, ReadableSpan, Sampler, SpanLimits, SpanProcessor, TimedEvent } from "@opentelemetry/sdk-trace-base";

type Resource = ReadableSpan["resource"];
type Scope = ReadableSpan["instrumentationScope"];

/** What an OTel SDK Tracer was built with: the pieces every span it starts shares. */
interface TracerPieces {
  _sampler: Sampler;
  _spanLimits: SpanLimits;
  _idGenerator: IdGenerator;
  _resource: Resource;
  _spanProcessor: SpanProcessor;
  instrumentationScope: Scope;
}

// Shared by every span without events or links: frozen, so that no one can add to all of them at once.
const NONE = Object.freeze([]) as unknown as never[];
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

/**
 * Starts the SDK's own spans (one per RPC served or forwarded, one per backend call) with the sampler, id
 * generator, limits, resource, scope and span processors of an OTel SDK tracer, as its startSpan does, but as a
 * RecordedSpan: attributes checked and copied once (startSpan copies them twice, then sets them one by one),
 * no self-metrics (OTel's otel.sdk.span.*, which go to a no-op meter in our providers), events and links
 * allocated only when added. Why: timed in place under load, startSpan was ~2 µs of the pattern's CPU per
 * traced call, ~1.3 µs this way (rpc_spans.test.ts checks that the spans are the same).
 */
export class RpcSpans {
  /** Undefined for a tracer that is not the OTel SDK's (a no-op one, another SDK): its startSpan is used. */
  private readonly pieces: TracerPieces | undefined;

  constructor(private readonly tracer: Tracer) {
    const t = tracer as unknown as Partial<TracerPieces>;
    const complete =
      t._sampler !== undefined &&
      t._spanLimits !== undefined &&
      t._idGenerator !== undefined &&
      t._resource !== undefined &&
      t._spanProcessor !== undefined &&
      t.instrumentationScope !== undefined;
    this.pieces = complete ? (t as TracerPieces) : undefined;
  }

  /** Whether spans are built here (true for the OTel SDK's tracer) rather than by the tracer's startSpan. */
  get lean(): boolean {
    return this.pieces !== undefined;
  }

  /**
   * A span child of `parent`'s span (or a new trace's root): recording, or a non-recording span carrying the
   * decision when the sampler drops it. `attributes` is copied, not kept.
   */
  start(name: string, kind: SpanKind, attributes: Attributes, parent: Context): Span {
    const p = this.pieces;
    if (p === undefined) return this.tracer.startSpan(name, { kind, attributes }, parent);
    if (isTracingSuppressed(parent)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const parentSpanContext = trace.getSpanContext(parent);
    const spanId = p._idGenerator.generateSpanId();
    let traceId: string;
    let traceState;
    let validParent: SpanContext | undefined;
    if (parentSpanContext !== undefined && trace.isSpanContextValid(parentSpanContext)) {
      traceId = parentSpanContext.traceId;
      traceState = parentSpanContext.traceState;
      validParent = parentSpanContext;
    } else {
      traceId = p._idGenerator.generateTraceId();
    }
    // The sampler sees attributes as startSpan gives them to it: without invalid keys and values.
    const result = p._sampler.shouldSample(parent, traceId, name, kind, allValid(attributes) ? attributes : sanitizeAttributes(attributes), NONE);
    traceState = result.traceState ?? traceState;
    const sampled = result.decision === SamplingDecision.RECORD_AND_SAMPLED;
    const spanContext: SpanContext = { traceId, spanId, traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, traceState };
    if (result.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(spanContext);
    const span = new RecordedSpan(name, kind, spanContext, validParent, p);
    // The sampler's attributes replace the caller's of the same key, in the caller's order, as in startSpan.
    span.setAttributes(result.attributes === undefined ? attributes : sanitizeAttributes(Object.assign(sanitizeAttributes(attributes), result.attributes)));
    p._spanProcessor.onStart(span, parent);
    return span;
  }
}

/** An OTel span (api Span and SDK ReadableSpan) with the behaviour of the SDK's SpanImpl for what it records. */
export class RecordedSpan implements Span, ReadableSpan {
  readonly resource: Resource;
  readonly instrumentationScope: Scope;
  readonly attributes: Attributes = {};
  links: Link[] = NONE;
  events: TimedEvent[] = NONE;
  status: SpanStatus = UNSET;
  readonly startTime: HrTime;
  endTime: HrTime = [0, 0];
  duration: HrTime = [-1, -1];
  ended = false;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  private attributeCount = 0;
  /** Date.now() and performance.now() at the start: as in OTel's SpanImpl, a time is the start plus a monotonic duration. */
  private readonly startMs: number;
  private readonly startedAt: number;
  private readonly limits: SpanLimits;
  private readonly processor: SpanProcessor;

  constructor(
    public name: string,
    readonly kind: SpanKind,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    pieces: TracerPieces,
  ) {
    this.startMs = Date.now();
    this.startedAt = performance.now();
    this.startTime = millisToHrTime(this.startMs);
    this.resource = pieces._resource;
    this.instrumentationScope = pieces.instrumentationScope;
    this.limits = pieces._spanLimits;
    this.processor = pieces._spanProcessor;
  }

  spanContext(): SpanContext {
    return this.context;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (value == null || this.endedWarn()) return this;
    if (key.length === 0 || !isAttributeValue(value)) {
      diag.warn(`Invalid attribute ${key.length === 0 ? "key" : "value"} for key: ${key}`);
      return this;
    }
    const attrs = this.attributes as Record<string, AttributeValue>;
    const isNew = !Object.hasOwn(attrs, key);
    if (isNew && this.attributeCount >= (this.limits.attributeCountLimit ?? Number.POSITIVE_INFINITY)) {
      this.droppedAttributesCount++;
      return this;
    }
    attrs[key] = truncated(value, this.limits.attributeValueLengthLimit);
    if (isNew) this.attributeCount++;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.endedWarn()) return this;
    const limit = this.limits.eventCountLimit ?? Number.POSITIVE_INFINITY;
    if (this.events.length >= limit) this.droppedEventsCount++;
    const events = withRoom(this.events, limit);
    if (events === undefined) return this;
    this.events = events;
    let attributes: Attributes | undefined;
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime;
    } else {
      attributes = attributesOrTime;
    }
    const [kept, dropped] = limitedAttributes(attributes, this.limits.attributePerEventCountLimit, this.limits.attributeValueLengthLimit);
    events.push({ name, attributes: kept, time: this.time(time), droppedAttributesCount: dropped });
    return this;
  }

  addLink(link: Link): this {
    if (this.endedWarn()) return this;
    const limit = this.limits.linkCountLimit ?? Number.POSITIVE_INFINITY;
    if (this.links.length >= limit) this.droppedLinksCount++;
    const links = withRoom(this.links, limit);
    if (links === undefined) return this;
    this.links = links;
    const [kept, dropped] = limitedAttributes(link.attributes, this.limits.attributePerLinkCountLimit, this.limits.attributeValueLengthLimit);
    const added: Link & { droppedAttributesCount?: number } = { context: link.context };
    if (Object.keys(kept).length > 0) added.attributes = kept;
    if (dropped > 0) added.droppedAttributesCount = dropped;
    links.push(added);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.endedWarn() || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    this.status =
      status.code === SpanStatusCode.ERROR && typeof status.message === "string" ? { code: status.code, message: status.message } : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.endedWarn()) this.name = name;
    return this;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === "string") attributes["exception.message"] = exception;
    else if (exception) {
      if (exception.code) attributes["exception.type"] = exception.code.toString();
      else if (exception.name) attributes["exception.type"] = exception.name;
      if (exception.message) attributes["exception.message"] = exception.message;
      if (exception.stack) attributes["exception.stacktrace"] = exception.stack;
    }
    if (attributes["exception.type"] || attributes["exception.message"]) this.addEvent("exception", attributes, time);
    else diag.warn(`Failed to record an exception ${exception}`);
  }

  end(endTime?: TimeInput): void {
    if (this.ended) {
      diag.error(`${this.name} ${this.context.traceId}-${this.context.spanId} - You can only call end() on a span once.`);
      return;
    }
    if (endTime === undefined) {
      // The monotonic time since the start is the duration hrTimeDuration would compute from the end it makes.
      this.duration = millisToHrTime(performance.now() - this.startedAt);
      this.endTime = addHrTimes(this.startTime, this.duration);
    } else {
      this.endTime = this.time(endTime);
      this.duration = hrTimeDuration(this.startTime, this.endTime);
    }
    if (this.duration[0] < 0) {
      this.endTime = this.startTime.slice() as HrTime;
      this.duration = [0, 0];
    }
    this.processor.onEnding?.(this);
    this.ended = true;
    this.processor.onEnd(this);
  }

  /** A time given to addEvent or end, read as SpanImpl reads it (a number up to performance.now() is one of its times). */
  private time(input: TimeInput | undefined): HrTime {
    if (typeof input === "number")
      return input <= performance.now() ? hrTime(input + this.startMs - (this.startedAt + performance.timeOrigin)) : millisToHrTime(input);
    if (input instanceof Date) return millisToHrTime(input.getTime());
    if (isTimeInputHrTime(input)) return input;
    return addHrTimes(this.startTime, millisToHrTime(performance.now() - this.startedAt));
  }

  private endedWarn(): boolean {
    if (this.ended) diag.warn(`Cannot execute the operation on ended Span {traceId: ${this.context.traceId}, spanId: ${this.context.spanId}}`);
    return this.ended;
  }
}

/**
 * The list to add one more event or link to, as SpanImpl keeps them: none when the limit keeps none; the oldest
 * dropped when it is full (the caller counts what is dropped); a list of its own for a span that had none.
 */
function withRoom<T>(list: T[], limit: number): T[] | undefined {
  if (limit === 0) return undefined;
  const own = list === NONE ? [] : list;
  if (own.length >= limit) own.shift();
  return own;
}

function allValid(attributes: Attributes): boolean {
  for (const key in attributes) if (Object.hasOwn(attributes, key) && (key === "" || !isAttributeValue(attributes[key]))) return false;
  return true;
}

/** A value within the length limit, as SpanImpl stores it: with no positive limit as given, an array always copied. */
function truncated(value: AttributeValue, limit = 0): AttributeValue {
  if (limit <= 0) return value;
  if (typeof value === "string") return value.length <= limit ? value : value.substring(0, limit);
  if (Array.isArray(value)) return value.map((v) => (typeof v === "string" && v.length > limit ? v.substring(0, limit) : v)) as AttributeValue;
  return value;
}

/** An event's or link's attributes, sanitized and within their count and length limits; and how many were dropped. */
function limitedAttributes(attributes: Attributes | undefined, countLimit: number | undefined, lengthLimit: number | undefined): [Attributes, number] {
  const kept: Attributes = {};
  let count = 0;
  let dropped = 0;
  const clean = sanitizeAttributes(attributes);
  for (const key in clean) {
    if (!Object.hasOwn(clean, key)) continue;
    if (countLimit !== undefined && count >= countLimit) {
      dropped++;
      continue;
    }
    kept[key] = truncated(clean[key]!, lengthLimit);
    count++;
  }
  return [kept, dropped];
}
