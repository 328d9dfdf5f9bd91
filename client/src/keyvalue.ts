import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  BatchPerformance,
  type Capabilities,
  type CountRequestSchema,
  type CountResponse,
  type DeleteBatchRequestSchema,
  type DeleteBatchResponse,
  type DeleteRequestSchema,
  type DeleteResponse,
  type ExistsRequestSchema,
  type ExistsResponse,
  ExpirationPerformance,
  type GetExpirationRequestSchema,
  type GetExpirationResponse,
  KeyValuePattern,
  type RetrieveBatchRequestSchema,
  type RetrieveBatchResponse,
  type RetrieveRequestSchema,
  type RetrieveResponse,
  type RetrieveStreamResponse,
  type ScanRequestSchema,
  type ScanResponse,
  ScanPerformance,
  type SetExpirationRequestSchema,
  type SetExpirationResponse,
  type StoreBatchRequestSchema,
  type StoreBatchResponse,
  type StoreRequestSchema,
  type StoreResponse,
  type StoreStreamRequestSchema,
  type StoreStreamStartSchema,
} from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { Code, PrismClientError } from "./errors";
import { definePattern, type ModuleContext, require } from "./pattern";
import type { CallOptions } from "./transport";

type Init<S> = S extends import("@bufbuild/protobuf").DescMessage ? MessageInitShape<S> : never;
type StoreInit = Init<typeof StoreRequestSchema>;
type StoreStreamInit = Init<typeof StoreStreamRequestSchema>;
type StartInit = Init<typeof StoreStreamStartSchema>;

/** Bytes per StoreStream message setStream sends: well under gRPC's default 4 MiB message limit. */
const STREAM_CHUNK = 1 << 20;

/** A value's bytes in messages of at most `size` bytes (a caller's larger chunks are cut, smaller ones kept). */
async function* sliced(value: Uint8Array | AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  const parts = value instanceof Uint8Array ? [value] : value;
  for await (const part of parts) for (let at = 0; at < part.byteLength; at += size) yield part.subarray(at, at + size);
}

/** A value read by getStream: the header RetrieveStream sends first, then its bytes as they arrive. */
export interface ValueStream {
  found: boolean;
  version: string;
  totalSize: bigint;
  /** The value's bytes in order; read at your pace (the server is held back meanwhile). Readable once. */
  chunks: AsyncIterable<Uint8Array>;
}

const encoder = new TextEncoder();
const bytes = (v: string | Uint8Array): Uint8Array => (typeof v === "string" ? encoder.encode(v) : v);

/** How each feature is provided, in the words of the capability enums. */
const SCAN_HOW: Record<number, string> = {
  [ScanPerformance.SCAN_EMULATED]: "keys listed by the SDK's scan emulation",
  [ScanPerformance.SCAN_UNAVAILABLE]: "SCAN_UNAVAILABLE",
};
const BATCH_HOW: Record<number, string> = {
  [BatchPerformance.BATCH_PIPELINE]: "one call per entry (BATCH_PIPELINE)",
  [BatchPerformance.BATCH_UNAVAILABLE]: "BATCH_UNAVAILABLE",
};
const EXPIRY_HOW: Record<number, string> = {
  [ExpirationPerformance.EXPIRATION_EMULATED]: "expiry kept beside the value by the SDK (EXPIRATION_EMULATED)",
  [ExpirationPerformance.EXPIRATION_UNAVAILABLE]: "EXPIRATION_UNAVAILABLE",
};

/**
 * The key-value pattern (prism.patterns.keyvalue.KeyValuePattern) of a namespace. The methods named like the
 * RPCs take and return the protocol's messages; get/set/del/keys are the short forms. Every call is checked
 * against the namespace's capabilities first: an unavailable feature is refused before calling
 * (PrismClientError UNIMPLEMENTED, reason "unsupported", naming the backend), an emulated one is reported.
 */
export class KeyValueClient {
  readonly backend: string;

  constructor(
    private readonly ctx: ModuleContext,
    /** The namespace's GetCapabilities answer, fetched on connect. */
    readonly capabilities: Capabilities,
  ) {
    this.backend = capabilities.slots?.primaryBackendType || "this backend";
  }

  private call<T>(method: string, req: unknown, safety: "read" | "keyed", opts?: CallOptions): Promise<T> {
    return this.ctx.transport.unary<T>(KeyValuePattern, method, req, safety, opts);
  }

  private check(feature: "scan" | "batch" | "expiration"): void {
    const c = this.capabilities;
    const [perf, none, emulated, how] =
      feature === "scan"
        ? [c.scanPerformance, ScanPerformance.SCAN_UNAVAILABLE, ScanPerformance.SCAN_EMULATED, SCAN_HOW]
        : feature === "batch"
          ? [c.batchPerformance, BatchPerformance.BATCH_UNAVAILABLE, BatchPerformance.BATCH_PIPELINE, BATCH_HOW]
          : [c.expirationPerformance, ExpirationPerformance.EXPIRATION_UNAVAILABLE, ExpirationPerformance.EXPIRATION_EMULATED, EXPIRY_HOW];
    require(perf !== none, feature, this.backend, `the namespace's capabilities say ${how[none]}`);
    if (perf === emulated) this.ctx.emulated("keyValue", feature, this.backend, how[emulated]!);
  }

  private checkChunked(): void {
    require(this.capabilities.supportsChunkedValues, "chunked values", this.backend, "the namespace's capabilities say supports_chunked_values=false");
  }

  private checkWrite(req: StoreInit | StartInit): void {
    if (req.tags && Object.keys(req.tags.tags ?? {}).length > 0)
      require(this.capabilities.supportsTags, "tags", this.backend, "the namespace's capabilities say supports_tags=false (values are stored without tags)");
    if (req.expectedVersion !== undefined)
      require(this.capabilities.supportsConditionalWrites, "conditional writes", this
        .backend, "the namespace's capabilities say supports_conditional_writes=false");
    if (req.expirationSeconds !== undefined && BigInt(req.expirationSeconds) > 0n) this.check("expiration");
  }

  /** Asks again (connect() already did: `capabilities`). */
  async getCapabilities(_req: object = {}, opts?: CallOptions): Promise<Capabilities> {
    return this.call("getCapabilities", {}, "read", opts);
  }
  async store(req: StoreInit, opts?: CallOptions): Promise<StoreResponse> {
    this.checkWrite(req);
    return this.call("store", req, "keyed", opts);
  }
  async retrieve(req: Init<typeof RetrieveRequestSchema>, opts?: CallOptions): Promise<RetrieveResponse> {
    return this.call("retrieve", req, "read", opts);
  }
  async delete(req: Init<typeof DeleteRequestSchema>, opts?: CallOptions): Promise<DeleteResponse> {
    if (req.expectedVersion !== undefined)
      require(this.capabilities.supportsConditionalWrites, "conditional writes", this
        .backend, "the namespace's capabilities say supports_conditional_writes=false");
    return this.call("delete", req, "keyed", opts);
  }
  async exists(req: Init<typeof ExistsRequestSchema>, opts?: CallOptions): Promise<ExistsResponse> {
    return this.call("exists", req, "read", opts);
  }
  /** Pages of keys; a page stream that breaks after some pages is resumed from the last next_cursor (limit 0 only). */
  async *scan(req: Init<typeof ScanRequestSchema>, opts?: CallOptions): AsyncGenerator<ScanResponse> {
    this.check("scan");
    const resume = req.limit ? undefined : (r: unknown, last: ScanResponse) => (last.hasMore ? { ...(r as object), cursor: last.nextCursor } : r);
    yield* this.ctx.transport.stream<ScanResponse>(KeyValuePattern, "scan", req, { ...opts, resume });
  }
  async count(req: Init<typeof CountRequestSchema>, opts?: CallOptions): Promise<CountResponse> {
    this.check("scan");
    return this.call("count", req, "read", opts);
  }
  async storeBatch(req: Init<typeof StoreBatchRequestSchema>, opts?: CallOptions): Promise<StoreBatchResponse> {
    this.check("batch");
    for (const r of req.requests ?? []) this.checkWrite(r);
    return this.call("storeBatch", req, "keyed", opts);
  }
  async retrieveBatch(req: Init<typeof RetrieveBatchRequestSchema>, opts?: CallOptions): Promise<RetrieveBatchResponse> {
    this.check("batch");
    return this.call("retrieveBatch", req, "read", opts);
  }
  async deleteBatch(req: Init<typeof DeleteBatchRequestSchema>, opts?: CallOptions): Promise<DeleteBatchResponse> {
    this.check("batch");
    return this.call("deleteBatch", req, "keyed", opts);
  }
  async setExpiration(req: Init<typeof SetExpirationRequestSchema>, opts?: CallOptions): Promise<SetExpirationResponse> {
    this.check("expiration");
    return this.call("setExpiration", req, "keyed", opts);
  }
  async getExpiration(req: Init<typeof GetExpirationRequestSchema>, opts?: CallOptions): Promise<GetExpirationResponse> {
    this.check("expiration");
    return this.call("getExpiration", req, "read", opts);
  }

  /**
   * StoreStream as the protocol has it: a `start` message (with total_size), then `chunk`s. It carries an
   * idempotency key like every write, but is sent once: the messages of an iterable cannot be read again (setStream
   * with a Uint8Array is retried). The signal cancels the call at the next message.
   */
  async storeStream(requests: AsyncIterable<StoreStreamInit>, opts?: CallOptions): Promise<StoreResponse> {
    this.checkChunked();
    const it = requests[Symbol.asyncIterator]();
    const first = await it.next();
    if (!first.done && first.value.part?.case === "start") this.checkWrite(first.value.part.value);
    const all = async function* () {
      if (first.done) return;
      yield first.value;
      for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
    };
    return this.ctx.transport.clientStream(KeyValuePattern, "storeStream", all, false, opts);
  }
  /** RetrieveStream as the protocol has it: the header, then the value's chunks; retried only before the first message. */
  async *retrieveStream(req: Init<typeof RetrieveRequestSchema>, opts?: CallOptions): AsyncGenerator<RetrieveStreamResponse> {
    this.checkChunked();
    yield* this.ctx.transport.stream<RetrieveStreamResponse>(KeyValuePattern, "retrieveStream", req, opts);
  }

  /**
   * Stores a value of any size (past the single-message limit) through StoreStream; resolves with its new version.
   * A Uint8Array is retried safely under its idempotency key; an async iterable of chunks is read once and needs
   * `size` (the value's total length: the server stores nothing when the stream ends short of it).
   */
  async setStream(
    key: string,
    value: Uint8Array | AsyncIterable<Uint8Array>,
    options: CallOptions & { ttlSeconds?: number; ifVersion?: string; size?: number | bigint } = {},
  ): Promise<string> {
    const { ttlSeconds, ifVersion, size, ...opts } = options;
    const whole = value instanceof Uint8Array;
    if (!whole && size === undefined)
      throw new PrismClientError(Code.INVALID_ARGUMENT, "setStream: a value given as chunks needs its size", { reason: "invalid_argument" });
    const start: StartInit = {
      key,
      totalSize: BigInt(whole ? value.byteLength : size!),
      expirationSeconds: ttlSeconds ? BigInt(ttlSeconds) : undefined,
      expectedVersion: ifVersion,
    };
    this.checkChunked();
    this.checkWrite(start);
    const messages = async function* () {
      yield { part: { case: "start" as const, value: start } };
      for await (const chunk of sliced(value, STREAM_CHUNK)) yield { part: { case: "chunk" as const, value: chunk } };
    };
    const r = await this.ctx.transport.clientStream<StoreResponse>(KeyValuePattern, "storeStream", messages, whole, opts);
    return r.version;
  }

  /** Opens a value of any size for reading: its header, then `chunks` as they arrive (abort with the signal). */
  async getStream(key: string, opts?: CallOptions): Promise<ValueStream> {
    const it = this.retrieveStream({ key }, opts)[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done || first.value.part.case !== "header")
      throw new PrismClientError(Code.INTERNAL, "RetrieveStream answered without a header first", { reason: "failed" });
    const { found, version, totalSize } = first.value.part.value;
    const chunks = async function* () {
      try {
        for (let n = await it.next(); !n.done; n = await it.next()) if (n.value.part.case === "chunk") yield n.value.part.value;
      } finally {
        await it.return?.(undefined); // a reader that stops early ends the call
      }
    };
    return { found, version, totalSize, chunks: chunks() };
  }

  /**
   * A value of any size read whole, or undefined when the key does not exist. A value larger than `maxBytes` is
   * refused from its header (RESOURCE_EXHAUSTED, reason "exhausted") before any of its bytes are read.
   */
  async getAll(key: string, options: CallOptions & { maxBytes: number }): Promise<Uint8Array | undefined> {
    const { maxBytes, ...opts } = options;
    const ac = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, ac.signal]) : ac.signal;
    const v = await this.getStream(key, { ...opts, signal });
    if (!v.found) return undefined;
    if (v.totalSize > BigInt(maxBytes)) {
      ac.abort();
      throw new PrismClientError(Code.RESOURCE_EXHAUSTED, `${key}: the value has ${v.totalSize} bytes, more than maxBytes ${maxBytes}`, {
        reason: "exhausted",
      });
    }
    const out = new Uint8Array(Number(v.totalSize));
    let at = 0;
    for await (const c of v.chunks) {
      if (at + c.byteLength > out.byteLength)
        throw new PrismClientError(Code.DATA_LOSS, `${key}: more bytes than the header's total_size`, { reason: "failed" });
      out.set(c, at);
      at += c.byteLength;
    }
    if (at !== out.byteLength) throw new PrismClientError(Code.DATA_LOSS, `${key}: ${at} bytes of the header's ${out.byteLength}`, { reason: "failed" });
    return out;
  }

  /** The value, or undefined when the key does not exist. */
  async get(key: string, opts?: CallOptions): Promise<Uint8Array | undefined> {
    const r = await this.retrieve({ key }, opts);
    return r.found ? r.value : undefined;
  }
  /** The value as UTF-8 text, or undefined. */
  async getText(key: string, opts?: CallOptions): Promise<string | undefined> {
    const v = await this.get(key, opts);
    return v === undefined ? undefined : new TextDecoder().decode(v);
  }
  /** Stores a value (strings as UTF-8), optionally expiring after ttlSeconds; resolves with its new version. */
  async set(key: string, value: string | Uint8Array, options: CallOptions & { ttlSeconds?: number; ifVersion?: string } = {}): Promise<string> {
    const { ttlSeconds, ifVersion, ...opts } = options;
    const r = await this.store({ key, value: bytes(value), expirationSeconds: ttlSeconds ? BigInt(ttlSeconds) : undefined, expectedVersion: ifVersion }, opts);
    return r.version;
  }
  /** Deletes a key; true when it existed. */
  async del(key: string, opts?: CallOptions): Promise<boolean> {
    return (await this.delete({ key }, opts)).found;
  }
  /** Every key (and value, with values: true) under a prefix, page after page. */
  async *entries(prefix: string, options: CallOptions & { values?: boolean } = {}): AsyncGenerator<[string, Uint8Array | undefined]> {
    const { values, ...opts } = options;
    for await (const page of this.scan({ prefix, includeValues: values === true }, opts))
      for (let i = 0; i < page.keys.length; i++) yield [page.keys[i]!, values ? page.values[i] : undefined];
  }
}

export const keyValue = definePattern({
  name: "keyValue",
  service: KeyValuePattern,
  probe: (ctx: ModuleContext) => ctx.transport.unary<Capabilities>(KeyValuePattern, "getCapabilities", {}, "read"),
  create: (ctx, caps) => new KeyValueClient(ctx, caps!),
});
