import type { Attributes, AttributeValue, HrTime, SpanContext } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";

/**
 * OTLP/protobuf encoding of finished spans, one span at a time as each ends, into the bytes of an
 * ExportTraceServiceRequest: the same bytes as OTel's ProtobufTraceSerializer (otlp_span_encoder.test.ts checks
 * it on generated spans), which encodes a whole batch at export in two passes (sizes, then bytes) over spans kept
 * until then. Encoding as they end lets a span die young: kept for their batch, spans cost CPU of their own besides
 * their serialization (bench/profile/threads.ts, tracing always on: in the pattern, half what serializing cost).
 */

const SPAN_FLAGS_HAS_IS_REMOTE = 0x100;
const SPAN_FLAGS_IS_REMOTE = 0x200;
const TWO_32 = 0x1_0000_0000;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64_EXCLUSIVE = 2 ** 63;

/** Protobuf wire writing into a buffer that grows; a length-delimited field reserves its length and fixes it after. */
export class ProtoWriter {
  buf: Uint8Array;
  pos = 0;
  private view: DataView;
  private readonly text = new TextEncoder();

  constructor(size = 16 * 1024) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  reset(): void {
    this.pos = 0;
  }

  /** The bytes written so far (a view: copy before reset). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  /** A varint of an integer: uint32 as is, anything else as its 64-bit two's complement. */
  varint(value: number): void {
    this.ensure(10);
    const buf = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    const abs = Math.abs(value);
    let low = abs >>> 0;
    let high = (abs / TWO_32) >>> 0;
    if (value < 0) {
      low = (~low + 1) >>> 0;
      high = (~high + (low === 0 ? 1 : 0)) >>> 0;
    }
    while (high > 0 || low > 0x7f) {
      buf[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  string(s: string): void {
    const known = KNOWN_STRINGS.get(s);
    if (known !== undefined) {
      this.lengthDelimitedBytes(known);
      return;
    }
    const n = s.length;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
    let size = n;
    if (!ascii) {
      const bytes = this.text.encode(s);
      size = bytes.length;
      this.lengthDelimitedBytes(bytes);
    } else {
      this.varint(n);
      this.ensure(n);
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
      this.pos = p;
    }
    // Span names, attribute keys and most values recur: their bytes are kept, up to a bound.
    if (n <= MAX_KNOWN_LENGTH && KNOWN_STRINGS.size < MAX_KNOWN_STRINGS) KNOWN_STRINGS.set(s, this.buf.slice(this.pos - size, this.pos));
  }

  lengthDelimitedBytes(b: Uint8Array): void {
    this.varint(b.length);
    this.raw(b);
  }

  /** An id in hex (trace or span id) as its bytes, length-delimited. */
  hexBytes(hex: string): void {
    const n = hex.length >>> 1;
    this.varint(n);
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = (hexValue(hex.charCodeAt(2 * i)) << 4) | hexValue(hex.charCodeAt(2 * i + 1));
    this.pos = p;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  /** An HrTime ([seconds, nanoseconds]) as fixed64 nanoseconds, exact past 2^53. */
  hrTime(t: HrTime): void {
    const seconds = t[0];
    const nanos = t[1];
    // seconds × 1e9 + nanos = upper × 1e9 × 2^16 + (lower × 1e9 + nanos), each product below 2^53.
    const lower = (seconds % 0x10000) * 1e9 + nanos;
    const upper = Math.floor(seconds / 0x10000) * 1e9;
    const lowSum = (upper % 0x10000) * 0x10000 + (lower % TWO_32);
    this.ensure(8);
    this.view.setUint32(this.pos, lowSum >>> 0, true);
    this.view.setUint32(this.pos + 4, (Math.floor(upper / 0x10000) + Math.floor(lower / TWO_32) + Math.floor(lowSum / TWO_32)) >>> 0, true);
    this.pos += 8;
  }

  double(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** Starts a length-delimited field's body, `reserve` bytes left for its length; returns where it starts. */
  begin(reserve = 1): number {
    this.ensure(reserve);
    const start = this.pos;
    this.pos += reserve;
    return start;
  }

  /** Writes the length of the body begun at `start`, moving the body when its length takes other than `reserve` bytes. */
  end(start: number, reserve = 1): void {
    const length = this.pos - start - reserve;
    const size = varintSize(length);
    if (size !== reserve) {
      this.ensure(size - reserve);
      this.buf.copyWithin(start + size, start + reserve, this.pos);
      this.pos += size - reserve;
    }
    const buf = this.buf;
    let v = length;
    let p = start;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p] = v;
  }

  /** Appends bytes as they are. */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x20_0000 ? 3 : v < 0x1000_0000 ? 4 : 5;
}

// As OTel's hexToBinary reads a digit (ids are lowercase hex; uppercase reads the same).
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return c - 55;
}

const HEX_DIGITS = Int32Array.from({ length: 128 }, (_, c) => hexDigit(c));

function hexValue(c: number): number {
  return c < 128 ? HEX_DIGITS[c]! : hexDigit(c);
}

/** Strings' UTF-8 bytes, kept once encoded (a bounded set: the first ones seen stay). */
const KNOWN_STRINGS = new Map<string, Uint8Array>();
const MAX_KNOWN_STRINGS = 1024;
const MAX_KNOWN_LENGTH = 120;

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | SPAN_FLAGS_HAS_IS_REMOTE | (isRemote ? SPAN_FLAGS_IS_REMOTE : 0);
}

function attributes(w: ProtoWriter, attrs: Attributes, field: number): void {
  for (const key in attrs) {
    if (!Object.hasOwn(attrs, key)) continue;
    w.tag(field, 2);
    const kv = w.begin();
    keyValue(w, key, attrs[key]);
    w.end(kv);
  }
}

function keyValue(w: ProtoWriter, key: string, value: unknown): void {
  w.tag(1, 2);
  w.string(key);
  w.tag(2, 2);
  const v = w.begin();
  anyValue(w, value);
  w.end(v);
}

/** An AnyValue of an attribute value; anything else (undefined, a function) is an empty AnyValue, as OTel writes it. */
function anyValue(w: ProtoWriter, value: AttributeValue | unknown): void {
  switch (typeof value) {
    case "string":
      w.tag(1, 2);
      w.string(value);
      return;
    case "boolean":
      w.tag(2, 0);
      w.varint(value ? 1 : 0);
      return;
    case "number":
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64_EXCLUSIVE) {
        w.tag(3, 0);
        w.varint(value);
      } else {
        w.tag(4, 1);
        w.double(value);
      }
      return;
  }
  if (value instanceof Uint8Array) {
    w.tag(7, 2);
    w.lengthDelimitedBytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, 2);
    const list = w.begin();
    for (const item of value) {
      w.tag(1, 2);
      const at = w.begin();
      anyValue(w, item);
      w.end(at);
    }
    w.end(list);
  } else if (typeof value === "object" && value !== null) {
    // A KeyValueList: its values are field 1, as a span's attributes are field 9.
    w.tag(6, 2);
    const list = w.begin();
    attributes(w, value as Attributes, 1);
    w.end(list);
  }
}

function spanContextIds(w: ProtoWriter, ctx: SpanContext): void {
  w.tag(1, 2);
  w.hexBytes(ctx.traceId);
  w.tag(2, 2);
  w.hexBytes(ctx.spanId);
  const traceState = ctx.traceState?.serialize();
  if (traceState) {
    w.tag(3, 2);
    w.string(traceState);
  }
}

/** A Span message, as field 2 of ScopeSpans (tag and length included). */
export function encodeSpan(w: ProtoWriter, span: ReadableSpan): void {
  w.tag(2, 2);
  // A span is mostly 128 bytes to 16 KiB long: its length takes two bytes.
  const at = w.begin(2);
  const ctx = span.spanContext();
  spanContextIds(w, ctx);
  const parent = span.parentSpanContext?.spanId;
  if (parent) {
    w.tag(4, 2);
    w.hexBytes(parent);
  }
  w.tag(5, 2);
  w.string(span.name);
  // SpanKind in OTLP counts from 1 (0 is unspecified).
  if (span.kind != null) {
    w.tag(6, 0);
    w.varint(span.kind + 1);
  }
  w.tag(7, 1);
  w.hrTime(span.startTime);
  w.tag(8, 1);
  w.hrTime(span.endTime);
  if (span.attributes) attributes(w, span.attributes, 9);
  w.tag(10, 0);
  w.varint(span.droppedAttributesCount);
  for (const event of span.events) {
    w.tag(11, 2);
    const e = w.begin();
    w.tag(1, 1);
    w.hrTime(event.time);
    w.tag(2, 2);
    w.string(event.name);
    if (event.attributes) attributes(w, event.attributes, 3);
    w.tag(4, 0);
    w.varint(event.droppedAttributesCount || 0);
    w.end(e);
  }
  w.tag(12, 0);
  w.varint(span.droppedEventsCount);
  for (const link of span.links) {
    w.tag(13, 2);
    const l = w.begin();
    spanContextIds(w, link.context);
    if (link.attributes) attributes(w, link.attributes, 4);
    w.tag(5, 0);
    w.varint(link.droppedAttributesCount || 0);
    w.tag(6, 5);
    w.fixed32(spanFlags(link.context.traceFlags, link.context.isRemote));
    w.end(l);
  }
  w.tag(14, 0);
  w.varint(span.droppedLinksCount);
  w.tag(15, 2);
  const status = w.begin();
  if (span.status.message) {
    w.tag(2, 2);
    w.string(span.status.message);
  }
  w.tag(3, 0);
  w.varint(span.status.code);
  w.end(status);
  w.tag(16, 5);
  w.fixed32(spanFlags(ctx.traceFlags, span.parentSpanContext?.isRemote));
  w.end(at, 2);
}

type Resource = ReadableSpan["resource"];
type Scope = ReadableSpan["instrumentationScope"];

/** The spans of one instrumentation scope in a batch, encoded. */
interface ScopeSpans {
  scope: Scope;
  spans: ProtoWriter;
}

/** A batch's request, encoded; `length` is its number of spans (what OTel's export delegate counts). */
export interface EncodedSpans {
  readonly length: number;
  readonly bytes: Uint8Array;
}

/**
 * Finished spans encoded as they are added, grouped by resource and instrumentation scope (by identity, in the
 * order first seen), until `take` makes them one ExportTraceServiceRequest and starts again.
 */
export class SpanBatchEncoder {
  private readonly byResource = new Map<Resource, Map<Scope, ScopeSpans>>();
  /** Writers of taken batches, kept for the next ones: a process has a few scopes, and the same ones all along. */
  private readonly spare: ProtoWriter[] = [];
  private readonly request = new ProtoWriter(64 * 1024);
  count = 0;

  add(span: ReadableSpan): void {
    const resource = span.resource;
    let scopes = this.byResource.get(resource);
    if (scopes === undefined) {
      scopes = new Map();
      this.byResource.set(resource, scopes);
    }
    const scope = span.instrumentationScope;
    let group = scopes.get(scope);
    if (group === undefined) {
      group = { scope, spans: this.spare.pop() ?? new ProtoWriter() };
      scopes.set(scope, group);
    }
    encodeSpan(group.spans, span);
    this.count++;
  }

  /** The batch as one request (its own copy of the bytes); the encoder is empty after. */
  take(): EncodedSpans {
    const w = this.request;
    w.reset();
    for (const [resource, scopes] of this.byResource) {
      w.tag(1, 2);
      const rs = w.begin(3);
      w.tag(1, 2);
      const r = w.begin();
      attributes(w, resource.attributes, 1);
      w.tag(2, 0);
      w.varint(0);
      w.end(r);
      for (const { scope, spans } of scopes.values()) {
        w.tag(2, 2);
        const ss = w.begin(3);
        w.tag(1, 2);
        const s = w.begin();
        w.tag(1, 2);
        w.string(scope.name);
        if (scope.version) {
          w.tag(2, 2);
          w.string(scope.version);
        }
        const extra = scope as { attributes?: Attributes; droppedAttributesCount?: number };
        if (extra.attributes) attributes(w, extra.attributes, 3);
        if (extra.droppedAttributesCount) {
          w.tag(4, 0);
          w.varint(extra.droppedAttributesCount);
        }
        w.end(s);
        w.raw(spans.bytes());
        if (scope.schemaUrl) {
          w.tag(3, 2);
          w.string(scope.schemaUrl);
        }
        w.end(ss, 3);
        spans.reset();
        this.spare.push(spans);
      }
      if (resource.schemaUrl) {
        w.tag(3, 2);
        w.string(resource.schemaUrl);
      }
      w.end(rs, 3);
    }
    const taken = { length: this.count, bytes: w.bytes().slice() };
    this.byResource.clear();
    this.count = 0;
    return taken;
  }
}
