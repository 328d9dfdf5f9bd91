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
  type ScanRequestSchema,
  type ScanResponse,
  ScanPerformance,
  type SetExpirationRequestSchema,
  type SetExpirationResponse,
  type StoreBatchRequestSchema,
  type StoreBatchResponse,
  type StoreRequestSchema,
  type StoreResponse,
} from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { definePattern, type ModuleContext, require } from "./pattern";
import type { CallOptions } from "./transport";

type Init<S> = S extends import("@bufbuild/protobuf").DescMessage ? MessageInitShape<S> : never;
type StoreInit = Init<typeof StoreRequestSchema>;

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

  private checkWrite(req: StoreInit): void {
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
