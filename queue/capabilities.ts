import type { MessageInitShape } from "@bufbuild/protobuf";
import { type FilledSlot, type FilledSlots, type QueueFeatures, type QueueSupport, type SlotDeclaration } from "@prism/sdk";
import { type ConsumerCapabilitiesSchema, DeliveryGuarantee } from "../proto/gen/prism/patterns/consumer/consumer_pattern_pb";
import { Ordering, type ProducerCapabilitiesSchema, type SlotConfigurationSchema, Support } from "../proto/gen/prism/patterns/producer/producer_pattern_pb";
import { InterfaceSupport } from "../proto/gen/prism/patterns/schemas/slot_schema_pb";
import type { QueueSettings } from "./queue";

const SERVICE: Record<string, string> = {
  keyvalue_basic: "prism.interfaces.keyvalue.KeyValueBasicInterface",
  keyvalue_ttl: "prism.interfaces.keyvalue.KeyValueTTLInterface",
  keyvalue_scan: "prism.interfaces.keyvalue.KeyValueScanInterface",
  keyvalue_batch: "prism.interfaces.keyvalue.KeyValueBatchInterface",
  list_basic: "prism.interfaces.list.ListBasicInterface",
  pubsub_basic: "prism.interfaces.pubsub.PubSubBasicInterface",
  stream_basic: "prism.interfaces.stream.StreamBasicInterface",
  queue: "prism.patterns.consumer.ConsumerPattern",
};

const SUPPORT: Record<QueueSupport, Support> = {
  native: Support.NATIVE,
  emulated: Support.EMULATED,
  unavailable: Support.UNAVAILABLE,
};

const ORDERING: Record<QueueFeatures["ordering"], Ordering> = {
  none: Ordering.NONE,
  per_key: Ordering.PER_KEY,
  total: Ordering.TOTAL,
};

function binding(s: FilledSlot) {
  const emulated = new Set(s.driver.emulates ?? []);
  return {
    slot: s.slot,
    backendType: s.driverName,
    interfaces: s.interfaces.map((i) => ({
      name: i,
      service: SERVICE[i] ?? i,
      support: emulated.has(i) ? InterfaceSupport.EMULATED : InterfaceSupport.NATIVE,
    })),
  };
}

function slotConfiguration(decls: readonly SlotDeclaration[], slots: FilledSlots): MessageInitShape<typeof SlotConfigurationSchema> {
  return {
    queueBackendType: slots.get("queue")!.driverName,
    deadLetterBackendType: slots.get("dead_letter")?.driverName,
    stateBackendType: slots.get("state")?.driverName,
    bindings: [...slots.values()].map(binding),
    schemas: decls.map((d) => ({ name: d.name, description: d.description, requiredInterfaces: [...d.requires], optional: d.optional ?? false })),
  };
}

/** What the instance offers, from the queue driver's features and how dead letters are kept (never per backend name). */
export function capabilities(
  decls: readonly SlotDeclaration[],
  slots: FilledSlots,
  features: QueueFeatures,
  deadLetter: QueueSupport,
  s: QueueSettings,
): { producer: MessageInitShape<typeof ProducerCapabilitiesSchema>; consumer: MessageInitShape<typeof ConsumerCapabilitiesSchema> } {
  const nativeDedupe = features.dedupeWindowMs !== undefined;
  return {
    producer: {
      ordering: ORDERING[features.ordering],
      supportsBatch: true,
      supportsIdempotence: true,
      dedupeWindowSeconds: Math.floor((nativeDedupe ? features.dedupeWindowMs! : s.dedupeWindowMs) / 1000),
      maxMessageSize: BigInt(s.maxMessageSize),
      slots: slotConfiguration(decls, slots),
      batch: features.batch === "native" ? Support.NATIVE : Support.EMULATED,
      idempotence: nativeDedupe ? Support.NATIVE : Support.EMULATED,
      maxBatchSize: s.maxBatchSize,
    },
    consumer: {
      delivery: DeliveryGuarantee.DELIVERY_AT_LEAST_ONCE,
      ordering: ORDERING[features.ordering],
      supportsConsumerGroups: true,
      deadLetter: SUPPORT[deadLetter],
      supportsReplay: false,
      maxDeliveries: deadLetter === "unavailable" ? 0 : s.maxDeliveries,
      ackDeadlineMs: s.ackDeadlineMs,
      maxMessageSize: BigInt(s.maxMessageSize),
      slots: slotConfiguration(decls, slots),
      durable: features.durable,
      maxInFlightLimit: s.maxInFlightLimit,
      durableStats: features.durableStats,
    },
  };
}
