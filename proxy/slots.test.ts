import { describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { PatternMetadataSchema } from "../proto/gen/prism/interfaces/lifecycle_pb";
import { Registry } from "prom-client";
import { memstore } from "../multicast-registry/backends/memstore";
import { nats } from "../multicast-registry/backends/nats";
import { multicastRegistryPattern } from "../multicast-registry/pattern";
import { DriverMetrics } from "../sdk/drivers/instrument";
import { PatternRuntime } from "../sdk/lifecycle/runtime";
import { createLogger } from "../sdk/observability/logger";
import { sessionStorePattern } from "../session-store/pattern";
import { memstore as sessionMemstore } from "../session-store/backends/memstore";
import { checkSlots } from "./slots";

const registry = create(PatternMetadataSchema, {
  name: "multicast_registry",
  extra: {
    "slot.registry.requires": "keyvalue_basic,keyvalue_scan",
    "slot.messaging.requires": "pubsub_basic",
    "slot.durability.requires": "stream_basic",
    "slot.durability.optional": "true",
    "driver.redis.implements": "keyvalue_basic,keyvalue_ttl,keyvalue_scan,pubsub_basic",
    "driver.memcached.implements": "keyvalue_basic,keyvalue_ttl",
    "driver.nats.implements": "pubsub_basic",
  },
});
const slot = (driver: string) => ({ driver, config: {} });

describe("slot checks (contract §4)", () => {
  test("drivers that implement each slot's interfaces pass; optional slots may stay empty", () => {
    expect(checkSlots("multicast_registry", { registry: slot("redis"), messaging: slot("nats") }, registry)).toBeUndefined();
  });

  test("a driver missing a required interface is refused, naming slot, driver and interface", () => {
    expect(checkSlots("multicast_registry", { registry: slot("memcached"), messaging: slot("nats") }, registry)).toEqual({
      slot: "registry",
      message: 'slot "registry": driver "memcached" does not implement required interface keyvalue_scan',
    });
  });

  test("unknown slots, unknown drivers and missing required slots are refused", () => {
    expect(checkSlots("multicast_registry", { cache: slot("redis") }, registry)?.message).toMatch(
      /has no slot "cache" \(slots: registry, messaging, durability\)/,
    );
    expect(checkSlots("multicast_registry", { registry: slot("etcd") }, registry)?.message).toMatch(
      /driver "etcd" is not built into pattern multicast_registry/,
    );
    expect(checkSlots("multicast_registry", { registry: slot("redis") }, registry)).toEqual({
      slot: "messaging",
      message: 'slot "messaging" of pattern multicast_registry is required (needs pubsub_basic)',
    });
  });

  test("a pattern without slots accepts no slots config, and needs none", () => {
    const plain = create(PatternMetadataSchema, { name: "memstore" });
    expect(checkSlots("memstore", undefined, plain)).toBeUndefined();
    expect(checkSlots("memstore", { kv: slot("redis") }, plain)?.message).toMatch(/declares no slots/);
  });
});

describe("slot checks against a real pattern's metadata", () => {
  test("the Multicast Registry's declarations (sdk slotMetadata) are what checkSlots reads", () => {
    const registry = new Registry();
    const rt = new PatternRuntime(multicastRegistryPattern([memstore, nats]), {
      logger: createLogger({ level: "error", write: () => {} }),
      driverMetrics: new DriverMetrics(registry),
      registry,
      configFile: "test",
    });
    const md = rt.patternMetadata();
    expect(checkSlots("multicast-registry", { registry: slot("memstore"), messaging: slot("nats"), durability: slot("nats") }, md)).toBeUndefined();
    expect(checkSlots("multicast-registry", { registry: slot("nats"), messaging: slot("memstore") }, md)?.message).toBe(
      'slot "registry": driver "nats" does not implement required interface keyvalue_basic, keyvalue_scan',
    );
    expect(checkSlots("multicast-registry", { registry: slot("redis"), messaging: slot("memstore") }, md)?.message).toContain(
      'driver "redis" is not built into pattern multicast-registry (drivers: memstore, nats)',
    );
    expect(checkSlots("multicast-registry", { registry: slot("memstore") }, md)?.message).toContain(
      'slot "messaging" of pattern multicast-registry is required',
    );
  });
});

describe("list slots: the Session Store's store slot takes several backends", () => {
  const registry = new Registry();
  const md = new PatternRuntime(sessionStorePattern([sessionMemstore]), {
    logger: createLogger({ level: "error", write: () => {} }),
    driverMetrics: new DriverMetrics(registry),
    registry,
    configFile: "test",
  }).patternMetadata();

  test("a list of shards passes; a bad entry is named by its index; one backend still passes", () => {
    expect(md.extra["slot.store.list"]).toBe("true");
    expect(checkSlots("session-store", { store: [slot("memstore"), slot("memstore")] }, md)).toBeUndefined();
    expect(checkSlots("session-store", { store: slot("memstore") }, md)).toBeUndefined();
    expect(checkSlots("session-store", { store: [slot("memstore"), slot("redis")] }, md)).toEqual({
      slot: "store",
      path: ["store", 1, "driver"],
      message: 'slot "store": driver "redis" is not built into pattern session-store (drivers: memstore)',
    });
  });

  test("a list for a slot that takes one driver is refused", () => {
    expect(checkSlots("session-store", { store: slot("memstore"), replication: [slot("memstore")] }, md)?.message).toBe(
      'slot "replication" takes one driver, not a list',
    );
  });
});
