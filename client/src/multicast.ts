import { fromJson, type JsonObject, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  type Capabilities,
  type EnumerateRequestSchema,
  type EnumerateResponse,
  type Filter,
  FilterPerformance,
  type Identity,
  type MulticastMessage,
  MulticastRegistryPattern,
  type MulticastRequestSchema,
  type MulticastResponse,
  Operator,
  type RegisterResponse,
  type UnregisterResponse,
} from "../../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { definePattern, type ModuleContext, require } from "./pattern";
import type { CallOptions } from "./transport";

type FilterInit = MessageInitShape<typeof import("../../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb").FilterSchema>;

const cond = (field: string, op: Operator, value?: JsonValue, values?: JsonValue[]): FilterInit => ({
  kind: {
    case: "condition",
    value: { field, op, value: value === undefined ? undefined : fromJson(ValueSchema, value), values: values?.map((v) => fromJson(ValueSchema, v)) },
  },
});

/** Filters over identity metadata (dotted field paths), e.g. `where.and(where.eq("region", "eu"), where.gt("load", 3))`. */
export const where = {
  eq: (field: string, value: JsonValue) => cond(field, Operator.EQ, value),
  ne: (field: string, value: JsonValue) => cond(field, Operator.NE, value),
  in: (field: string, values: JsonValue[]) => cond(field, Operator.IN, undefined, values),
  exists: (field: string) => cond(field, Operator.EXISTS),
  prefix: (field: string, value: string) => cond(field, Operator.PREFIX, value),
  wildcard: (field: string, glob: string) => cond(field, Operator.WILDCARD, glob),
  lt: (field: string, n: number) => cond(field, Operator.LT, n),
  lte: (field: string, n: number) => cond(field, Operator.LTE, n),
  gt: (field: string, n: number) => cond(field, Operator.GT, n),
  gte: (field: string, n: number) => cond(field, Operator.GTE, n),
  and: (...filters: FilterInit[]): FilterInit => ({ kind: { case: "and", value: { filters } } }),
  or: (...filters: FilterInit[]): FilterInit => ({ kind: { case: "or", value: { filters } } }),
  not: (filter: FilterInit): FilterInit => ({ kind: { case: "not", value: filter } }),
};

/** Whether a filter uses prefix or wildcard conditions (which need supports_wildcard_filters). */
function usesWildcards(f: FilterInit | Filter | undefined): boolean {
  const k = f?.kind;
  if (!k || k.case === undefined) return false;
  if (k.case === "condition") return k.value.op === Operator.PREFIX || k.value.op === Operator.WILDCARD;
  if (k.case === "not") return usesWildcards(k.value);
  return (k.value.filters ?? []).some(usesWildcards);
}

/**
 * The Multicast Registry (prism.patterns.multicast_registry.MulticastRegistryPattern): identities with metadata
 * and a time to live, found by filters and sent messages. Register and Unregister are idempotent (retried);
 * Multicast is not (never sent twice); Subscribe is an async iterator that re-subscribes after a failure.
 */
export class MulticastClient {
  readonly backend: string;

  constructor(
    private readonly ctx: ModuleContext,
    readonly capabilities: Capabilities,
  ) {
    this.backend = capabilities.slots?.registryBackendType || "this backend";
  }

  private checkFilter(filter: FilterInit | undefined): void {
    if (filter === undefined) return;
    require(this.capabilities.supportsFiltering, "filters", this.backend, "the namespace's capabilities say supports_filtering=false");
    if (usesWildcards(filter))
      require(this.capabilities.supportsWildcardFilters, "wildcard filters", this.backend, "the namespace's capabilities say supports_wildcard_filters=false");
    if (this.capabilities.filterPerformance === FilterPerformance.FILTER_CLIENT_SIDE)
      this.ctx.emulated("multicast", "filter", this.backend, "identities read from the registry and filtered by the pattern (FILTER_CLIENT_SIDE)");
  }

  /** Asks again (connect() already did: `capabilities`). */
  async getCapabilities(_req: object = {}, opts?: CallOptions): Promise<Capabilities> {
    return this.ctx.transport.unary(MulticastRegistryPattern, "getCapabilities", {}, "read", opts);
  }
  /** Registers (or refreshes) an identity with its metadata; ttlSeconds 0 = until unregistered. */
  async register(identity: string, metadata: JsonObject = {}, options: CallOptions & { ttlSeconds?: number } = {}): Promise<RegisterResponse> {
    const { ttlSeconds, ...opts } = options;
    const ttl = ttlSeconds ? { seconds: BigInt(Math.floor(ttlSeconds)), nanos: Math.round((ttlSeconds % 1) * 1e9) } : undefined;
    return this.ctx.transport.unary(MulticastRegistryPattern, "register", { identity, metadata, ttl }, "idempotent", opts);
  }
  async unregister(identity: string, opts?: CallOptions): Promise<UnregisterResponse> {
    return this.ctx.transport.unary(MulticastRegistryPattern, "unregister", { identity }, "idempotent", opts);
  }
  /** One page of identities matching the filter (absent = every live identity). */
  async enumerate(req: MessageInitShape<typeof EnumerateRequestSchema> = {}, opts?: CallOptions): Promise<EnumerateResponse> {
    this.checkFilter(req.filter);
    return this.ctx.transport.unary(MulticastRegistryPattern, "enumerate", req, "read", opts);
  }
  /** Every identity matching the filter, following cursors. */
  async *identities(filter?: FilterInit, opts?: CallOptions): AsyncGenerator<Identity> {
    let cursor = "";
    do {
      const page = await this.enumerate({ filter, cursor }, opts);
      yield* page.identities;
      cursor = page.hasMore ? page.nextCursor : "";
    } while (cursor !== "");
  }
  /** Sends a payload to every identity the filter matches; never retried (a second send would deliver twice). */
  async multicast(req: MessageInitShape<typeof MulticastRequestSchema>, opts?: CallOptions): Promise<MulticastResponse> {
    this.checkFilter(req.filter);
    return this.ctx.transport.unary(MulticastRegistryPattern, "multicast", req, "write", opts);
  }
  /** Messages sent to `identity`, until the signal aborts or the server ends the stream. */
  async *subscribe(identity: string, opts: CallOptions = {}): AsyncGenerator<MulticastMessage> {
    require(this.capabilities.supportsStreaming, "subscribe", this.backend, "the namespace's capabilities say supports_streaming=false");
    yield* this.ctx.transport.stream(MulticastRegistryPattern, "subscribe", { identity }, { ...opts, subscribe: true });
  }
}

export const multicast = definePattern({
  name: "multicast",
  service: MulticastRegistryPattern,
  probe: (ctx: ModuleContext) => ctx.transport.unary<Capabilities>(MulticastRegistryPattern, "getCapabilities", {}, "read"),
  create: (ctx, caps) => new MulticastClient(ctx, caps!),
});
