import type { JsonObject } from "@bufbuild/protobuf";
import { DeliveryStatus, MulticastRegistryPattern } from "../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { invalidArgument, defineBinding, checkValue } from "@prism/sdk";
import { compileFilter } from "./filter";
import type { IdentityRecord } from "./identities";
import type { MulticastRegistry } from "./registry";

const DEFAULT_PAGE = 1000;
const MAX_PAGE = 10_000;

const status: Record<string, DeliveryStatus> = {
  DELIVERED: DeliveryStatus.DELIVERED,
  QUEUED: DeliveryStatus.QUEUED,
  FAILED: DeliveryStatus.FAILED,
  NOT_SUBSCRIBED: DeliveryStatus.NOT_SUBSCRIBED,
  TIMEOUT: DeliveryStatus.TIMEOUT,
};

function identityMessage(r: IdentityRecord, subscribed: boolean) {
  return {
    identity: r.identity,
    metadata: r.metadata,
    registeredAt: BigInt(r.registeredAt),
    expiresAt: r.expiresAt > 0 ? BigInt(r.expiresAt) : undefined,
    subscribed,
  };
}

/** prism.patterns.multicast_registry.MulticastRegistryPattern over a MulticastRegistry. */
export const multicastRegistryService = defineBinding({
  interfaceName: "multicast_registry",
  service: MulticastRegistryPattern,
  // The slot drivers are instrumented themselves (driver_operation_* by driver name).
  driverMethods: [],
  implement: (served: { readonly current: MulticastRegistry }, limits) => ({
    getCapabilities: () => served.current.capabilities,

    async register(req) {
      const ttlMs = req.ttl ? Number(req.ttl.seconds) * 1000 + req.ttl.nanos / 1e6 : 0;
      if (!(ttlMs >= 0) || !Number.isFinite(ttlMs)) throw invalidArgument("ttl must not be negative");
      const metadata: JsonObject = req.metadata ?? {};
      checkValue(new TextEncoder().encode(JSON.stringify(metadata)), limits);
      const { record, created } = await served.current.register(req.identity, metadata, ttlMs);
      return { success: true, identity: req.identity, created, expiresAt: BigInt(record.expiresAt) };
    },

    async unregister(req) {
      const found = await served.current.unregister(req.identity);
      return { success: true, found };
    },

    async enumerate(req, ctx) {
      if (req.limit < 0 || req.limit > MAX_PAGE) throw invalidArgument(`limit must be 0..${MAX_PAGE}`);
      const filter = compileFilter(req.filter);
      const registry = served.current;
      const page = await registry.enumerate(filter, req.limit || DEFAULT_PAGE, req.cursor, ctx.signal);
      const subscribed = await registry.subscribed(
        page.records.map((r) => r.identity),
        ctx.signal,
      );
      return {
        identities: page.records.map((r, i) => identityMessage(r, subscribed[i]!)),
        totalCount: page.records.length,
        hasMore: page.next !== "",
        nextCursor: page.next,
      };
    },

    async multicast(req, ctx) {
      if (req.timeoutMs < 0) throw invalidArgument("timeout_ms must not be negative");
      checkValue(req.payload, limits);
      const filter = compileFilter(req.filter);
      const { messageId, results } = await served.current.multicast(filter, req.payload, req.timeoutMs, ctx.signal);
      let delivered = 0;
      let queued = 0;
      for (const r of results) {
        if (r.status === "DELIVERED") delivered++;
        else if (r.status === "QUEUED") queued++;
      }
      return {
        targetCount: results.length,
        deliveredCount: delivered,
        queuedCount: queued,
        failedCount: results.length - delivered - queued,
        messageId,
        results: results.map((r) => ({ identity: r.identity, status: status[r.status]!, latencyMs: r.latencyMs, error: r.error })),
      };
    },

    async *subscribe(req, ctx) {
      for await (const d of served.current.subscribe(req.identity, ctx.signal)) {
        yield { payload: d.payload, messageId: d.messageId, timestamp: BigInt(d.timestamp) };
      }
    },
  }),
});
