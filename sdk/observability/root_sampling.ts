import type { IdGenerator, Sampler } from "@opentelemetry/sdk-trace-base";

const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;
const POOL_BYTES = 4080; // a multiple of a trace id and span id together (24 bytes)

/**
 * Random bytes drawn 4 KiB at a time, also read out as hex once per draw: an id is then a slice of that string,
 * where RandomIdGenerator writes Math.random into a buffer and converts it to hex for every id.
 */
class RandomIds {
  private readonly pool = new Uint8Array(POOL_BYTES);
  readonly view = new DataView(this.pool.buffer);
  private hex = "";
  private at = POOL_BYTES;

  /** The offset in the pool of `bytes` new random bytes, not all zero (an all-zero id is invalid, W3C §3.2.2). */
  take(bytes: number): number {
    while (true) {
      if (this.at + bytes > POOL_BYTES) {
        crypto.getRandomValues(this.pool);
        this.hex = Buffer.from(this.pool.buffer).toString("hex");
        this.at = 0;
      }
      const at = this.at;
      this.at += bytes;
      for (let i = at; i < this.at; i++) if (this.pool[i] !== 0) return at;
    }
  }

  /** The bytes from `at` as lowercase hex. */
  hexOf(at: number, bytes: number): string {
    return this.hex.slice(2 * at, 2 * (at + bytes));
  }
}

/**
 * What the sampler decides for a new trace, read from the trace id's bytes, for the samplers whose decision
 * depends on nothing else: always on, always off, and TraceIdRatioBased (as the OTel SDK computes it: the XOR of
 * the id's four big-endian 32-bit words below ratio × 0xffffffff). Undefined for any other sampler.
 */
export function rootDecisionOf(sampler: Sampler): ((ids: DataView, at: number) => boolean) | undefined {
  const desc = sampler.toString();
  const root = /^ParentBased\{root=([^,]*),/.exec(desc)?.[1] ?? desc;
  if (root === "AlwaysOnSampler") return () => true;
  if (root === "AlwaysOffSampler") return () => false;
  const ratio = /^TraceIdRatioBased\{(.*)\}$/.exec(root)?.[1];
  if (ratio === undefined) return undefined;
  const r = Number(ratio);
  const upperBound = r === 1 ? 0x1_0000_0000 : Math.floor(r * 0xffffffff);
  return (ids, at) => (ids.getUint32(at) ^ ids.getUint32(at + 4) ^ ids.getUint32(at + 8) ^ ids.getUint32(at + 12)) >>> 0 < upperBound;
}

/**
 * The sampling decision for a call that starts a trace, made before any span is. At a ratio most such calls are
 * left out; for those only a traceparent is built (a trace id, a span id and the "not sampled" flag), not the
 * span, attributes and span context Tracer.startSpan builds first and then drops (in the proxy that was ~2.5 µs
 * of CPU per call at ratio 0, measured, and ~1 µs now). For a trace the sampler records, the root span started
 * next gets the trace id the decision was made on, so the sampler decides the same again.
 *
 * Only for the samplers rootDecisionOf reads (the OTEL_TRACES_SAMPLER ones); with any other, every new trace
 * goes through Tracer.startSpan, whose sampler may read the span's name and attributes. It is also the tracer
 * provider's id generator, which is how a recorded root span gets its trace id.
 */
export class RootSampling implements IdGenerator {
  private readonly ids = new RandomIds();
  private readonly decide: ((ids: DataView, at: number) => boolean) | undefined;
  private preset: string | undefined;

  constructor(sampler: Sampler) {
    this.decide = rootDecisionOf(sampler);
  }

  /**
   * The traceparent to send on when the sampler leaves a new trace out; undefined when it records the trace (or
   * is not one rootDecisionOf reads), and then the caller starts the root span at once: the next trace id
   * generated is this decision's.
   */
  unsampledTraceparent(): string | undefined {
    const decide = this.decide;
    if (decide === undefined) return undefined;
    const ids = this.ids;
    const at = ids.take(TRACE_ID_BYTES);
    if (decide(ids.view, at)) {
      this.preset = ids.hexOf(at, TRACE_ID_BYTES);
      return undefined;
    }
    return `00-${ids.hexOf(at, TRACE_ID_BYTES)}-${ids.hexOf(ids.take(SPAN_ID_BYTES), SPAN_ID_BYTES)}-00`;
  }

  generateTraceId(): string {
    const preset = this.preset;
    if (preset === undefined) return this.ids.hexOf(this.ids.take(TRACE_ID_BYTES), TRACE_ID_BYTES);
    this.preset = undefined;
    return preset;
  }

  generateSpanId(): string {
    return this.ids.hexOf(this.ids.take(SPAN_ID_BYTES), SPAN_ID_BYTES);
  }
}
