import type { MessageInitShape } from "@bufbuild/protobuf";
import type { InterfaceName } from "@prism/sdk";
import { Consistency, type SessionStoreCapabilitiesSchema, Support } from "../proto/gen/prism/patterns/session/session_store_pattern_pb";
import { InterfaceSupport } from "../proto/gen/prism/patterns/schemas/slot_schema_pb";
import type { SessionLimits } from "./limits";
import { type ReplicationBackend, SESSION_SLOTS, type Shard } from "./shards";

const SERVICE: Record<InterfaceName, string> = {
  keyvalue_basic: "prism.interfaces.keyvalue.KeyValueBasicInterface",
  keyvalue_ttl: "prism.interfaces.keyvalue.KeyValueTTLInterface",
  keyvalue_scan: "prism.interfaces.keyvalue.KeyValueScanInterface",
  keyvalue_batch: "prism.interfaces.keyvalue.KeyValueBatchInterface",
  list_basic: "prism.interfaces.list.ListBasicInterface",
  pubsub_basic: "prism.interfaces.pubsub.PubSubBasicInterface",
  stream_basic: "prism.interfaces.stream.StreamBasicInterface",
  queue: "prism.patterns.consumer.ConsumerPattern",
};

function binding(slot: string, driverName: string, interfaces: readonly InterfaceName[], emulates: readonly InterfaceName[] | undefined) {
  const emulated = new Set(emulates ?? []);
  return {
    slot,
    backendType: driverName,
    interfaces: interfaces.map((i) => ({ name: i, service: SERVICE[i], support: emulated.has(i) ? InterfaceSupport.EMULATED : InterfaceSupport.NATIVE })),
  };
}

/** What this instance gives, from the drivers actually in its slots. */
export function capabilities(
  shards: readonly Shard[],
  replication: ReplicationBackend | undefined,
  region: string,
  virtualNodes: number,
  limits: SessionLimits,
  maxPage: number,
): MessageInitShape<typeof SessionStoreCapabilitiesSchema> {
  const expiryOf = (s: Shard) => (s.driver.emulates?.includes("keyvalue_ttl") ? Support.EMULATED : Support.NATIVE);
  const allNative = shards.every((s) => expiryOf(s) === Support.NATIVE);
  return {
    sharding: {
      strategy: "consistent-hash",
      virtualNodes,
      shards: shards.map((s) => ({ name: s.name, backendType: s.driverName, expiry: expiryOf(s), draining: s.draining })),
    },
    replication: replication
      ? { support: Support.NATIVE, backendType: replication.driverName, region, conflictRule: "highest-version-then-region" }
      : { support: Support.UNAVAILABLE, region, conflictRule: "" },
    consistency: replication ? Consistency.READ_YOUR_WRITES_EVENTUAL_ACROSS_REGIONS : Consistency.STRONG_PER_SESSION,
    compareAndSet: Support.NATIVE,
    slidingExpiry: allNative ? Support.NATIVE : Support.EMULATED,
    limits: {
      maxAttributes: limits.maxAttributes,
      maxAttributeBytes: BigInt(limits.maxAttributeBytes),
      maxTtlSeconds: limits.maxTtlSeconds,
      defaultTtlSeconds: limits.defaultTtlSeconds,
      maxPage,
    },
    slots: SESSION_SLOTS.map((d) => ({ name: d.name, description: d.description, requiredInterfaces: [...d.requires], optional: d.optional ?? false })),
    bindings: [
      ...shards.map((s) => binding("store", s.driverName, s.interfaces, s.driver.emulates)),
      ...(replication ? [binding("replication", replication.driverName, replication.interfaces, replication.driver.emulates)] : []),
    ],
  };
}
