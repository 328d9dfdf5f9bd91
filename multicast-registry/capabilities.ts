import type { MessageInitShape } from "@bufbuild/protobuf";
import { type CapabilitiesSchema, FilterPerformance, MulticastPerformance } from "../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { InterfaceSupport } from "../proto/gen/prism/patterns/schemas/slot_schema_pb";
import { type InterfaceName, type FilledSlot, type FilledSlots, type SlotDeclaration } from "@prism/sdk";

/** gRPC service of each interface, as InterfaceBinding.service names it. */
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

function binding(s: FilledSlot) {
  const emulated = new Set(s.driver.emulates ?? []);
  return {
    slot: s.slot,
    backendType: s.driverName,
    interfaces: s.interfaces.map((i) => ({ name: i, service: SERVICE[i], support: emulated.has(i) ? InterfaceSupport.EMULATED : InterfaceSupport.NATIVE })),
  };
}

/**
 * What this instance supports, from the slots actually filled: filtering is native when the registry
 * backend evaluates filters (a JsonFilterScanDriver), delivery is one publish per target (FANOUT), or QUEUED when a
 * durability slot keeps messages for identities not subscribed.
 */
export function capabilities(
  decls: readonly SlotDeclaration[],
  slots: FilledSlots,
  nativeFilter: boolean,
  maxIdentities: number,
): MessageInitShape<typeof CapabilitiesSchema> {
  const registry = slots.get("registry")!;
  const messaging = slots.get("messaging")!;
  const durability = slots.get("durability");
  return {
    slots: {
      registryBackendType: registry.driverName,
      registryInterfaces: [...registry.interfaces],
      messagingBackendType: messaging.driverName,
      messagingInterfaces: [...messaging.interfaces],
      durabilityBackendType: durability?.driverName,
      bindings: [...slots.values()].map(binding),
      schemas: decls.map((d) => ({ name: d.name, description: d.description, requiredInterfaces: [...d.requires], optional: d.optional ?? false })),
    },
    supportsDurability: durability !== undefined,
    supportsFiltering: true,
    filterPerformance: nativeFilter ? FilterPerformance.FILTER_NATIVE : FilterPerformance.FILTER_CLIENT_SIDE,
    supportsWildcardFilters: true,
    multicastPerformance: durability ? MulticastPerformance.MULTICAST_QUEUED : MulticastPerformance.MULTICAST_FANOUT,
    maxIdentities,
    supportsStreaming: true,
  };
}
