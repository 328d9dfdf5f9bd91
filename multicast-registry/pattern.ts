import { validate, ConfigError, offersJsonFilterScan, DriverRegistry, type PatternDefinition, type SlotDeclaration } from "@prism/sdk";
import type { BackendModule } from "./backends/module";
import { capabilities } from "./capabilities";
import type { MessagingDriver } from "./dispatcher";
import { IdentityStore, type RegistryDriver } from "./identities";
import { type DurabilityDriver, MulticastRegistry } from "./registry";
import { multicastRegistryService } from "./service";

export const MULTICAST_REGISTRY_VERSION = "0.1.0";

/** The three slots of the Multicast Registry (seed 003, RFC-025). */
export const MULTICAST_SLOTS: readonly SlotDeclaration[] = [
  {
    name: "registry",
    requires: ["keyvalue_basic", "keyvalue_scan"],
    description: "identities and their metadata, with expiry (native or emulated); filters run here when the backend can",
  },
  { name: "messaging", requires: ["pubsub_basic"], description: "delivery of multicast messages to subscribed identities" },
  {
    name: "durability",
    requires: ["stream_basic"],
    optional: true,
    description: "messages for identities not subscribed at the time, delivered when they subscribe",
  },
];

/** The pattern's own settings (beside `slots`). */
export const settingsSchema = {
  type: "object",
  fields: {
    max_identities: { type: "integer", min: 0, default: 0 },
    delivery_concurrency: { type: "integer", min: 1, max: 10_000, default: 128 },
    delivery_batch: { type: "integer", min: 1, max: 1_000, default: 100 },
    subscriber_buffer: { type: "integer", min: 1, default: 10_000 },
    presence_ttl: { type: "duration", default: "30s" },
    multicast_timeout: { type: "duration", default: "30s" },
  },
} as const;

interface Settings {
  max_identities: number;
  delivery_concurrency: number;
  delivery_batch: number;
  subscriber_buffer: number;
  presence_ttl: number;
  multicast_timeout: number;
}

/** The Multicast Registry built with these drivers (each executable picks its own: main.ts, build variants). */
export function multicastRegistryPattern(backends: readonly BackendModule[]): PatternDefinition<MulticastRegistry> {
  const drivers = DriverRegistry.of(...backends.map((b) => b.factory));
  return {
    name: "multicast-registry",
    version: MULTICAST_REGISTRY_VERSION,
    bindings: [multicastRegistryService],
    slots: MULTICAST_SLOTS,
    drivers,
    create(config, env, slots) {
      const s = validate<Settings>(config, settingsSchema, { file: env.configFile, lineOf: env.lineOf });
      if (s.presence_ttl < 1000) throw new ConfigError(env.configFile, "presence_ttl", env.lineOf?.(["presence_ttl"]), "must be at least 1s");
      const registrySlot = slots!.get("registry")!;
      const registryDriver = registrySlot.driver as RegistryDriver;
      const native = offersJsonFilterScan(registryDriver) ? registryDriver : undefined;
      const store = new IdentityStore(registryDriver, native, s.max_identities);
      const registry = new MulticastRegistry(
        MULTICAST_REGISTRY_VERSION,
        store,
        slots!.get("messaging")!.driver as MessagingDriver,
        slots!.get("durability")?.driver as DurabilityDriver | undefined,
        {
          maxIdentities: s.max_identities,
          deliveryConcurrency: s.delivery_concurrency,
          deliveryBatch: s.delivery_batch,
          subscriberBuffer: s.subscriber_buffer,
          presenceTtlMs: s.presence_ttl,
          multicastTimeoutMs: s.multicast_timeout,
        },
        env.logger,
      );
      registry.capabilities = capabilities(MULTICAST_SLOTS, slots!, native !== undefined, s.max_identities);
      return registry;
    },
  };
}
