import {
  ConfigError,
  type Driver,
  DriverRegistry,
  EmulatedDeadLetters,
  isDeadLetterStore,
  isQueueDriver,
  offersQueueDeadLetters,
  type PatternDefinition,
  type QueueDeadLetterDriver,
  type QueueDriver,
  type QueueSupport,
  type SlotDeclaration,
  validate,
} from "@prism/sdk";
import type { BackendModule } from "./backends/module";
import { capabilities } from "./capabilities";
import { QueueMetrics } from "./metrics";
import { QueuePattern } from "./queue";
import { consumerService, producerService } from "./service";

export const QUEUE_VERSION = "0.1.0";

/** The slots of the queue pattern (issue 21). */
export const QUEUE_SLOTS: readonly SlotDeclaration[] = [
  { name: "queue", requires: ["queue"], description: "messages, consumer groups, in-flight deliveries and their redelivery" },
  {
    name: "dead_letter",
    requires: ["keyvalue_basic", "keyvalue_scan"],
    optional: true,
    description: "dead letters, when the queue backend keeps none itself (else the queue backend's own key-value, if any)",
  },
  {
    name: "state",
    requires: ["keyvalue_basic"],
    optional: true,
    description: "idempotency keys of publishes, so the dedupe window survives a restart of the pattern",
  },
];

export const settingsSchema = {
  type: "object",
  fields: {
    max_deliveries: { type: "integer", min: 0, max: 1000, default: 5 },
    ack_deadline: { type: "duration", default: "30s" },
    max_in_flight: { type: "integer", min: 1, max: 100_000, default: 100 },
    max_in_flight_limit: { type: "integer", min: 1, max: 100_000, default: 10_000 },
    max_message_size: { type: "bytes", default: "1MiB" },
    max_batch_size: { type: "integer", min: 1, max: 100_000, default: 1000 },
    dedupe_window: { type: "duration", default: "2m" },
  },
} as const;

interface Settings {
  max_deliveries: number;
  ack_deadline: number;
  max_in_flight: number;
  max_in_flight_limit: number;
  max_message_size: number;
  max_batch_size: number;
  dedupe_window: number;
}

/** Dead letters: the driver's own, else emulated in the dead_letter slot or the queue driver's key-value, else none. */
function deadLetterSide(queue: QueueDriver, slot: Driver | undefined): { driver: QueueDeadLetterDriver | undefined; support: QueueSupport } {
  if (offersQueueDeadLetters(queue)) return { driver: queue, support: "native" };
  if (slot && isDeadLetterStore(slot)) return { driver: new EmulatedDeadLetters(queue, slot), support: "emulated" };
  if (isDeadLetterStore(queue)) return { driver: new EmulatedDeadLetters(queue, queue), support: "emulated" };
  return { driver: undefined, support: "unavailable" };
}

/** The queue pattern built with these drivers: ProducerPattern and ConsumerPattern over the `queue` slot. */
export function queuePattern(backends: readonly BackendModule[]): PatternDefinition<QueuePattern> {
  return {
    name: "queue",
    version: QUEUE_VERSION,
    bindings: [producerService, consumerService],
    slots: QUEUE_SLOTS,
    drivers: DriverRegistry.of(...backends.map((b) => b.factory)),
    create(config, env, slots) {
      const s = validate<Settings>(config, settingsSchema, { file: env.configFile, lineOf: env.lineOf });
      if (s.ack_deadline < 100) throw new ConfigError(env.configFile, "ack_deadline", env.lineOf?.(["ack_deadline"]), "must be at least 100ms");
      if (s.max_in_flight > s.max_in_flight_limit) {
        throw new ConfigError(env.configFile, "max_in_flight", env.lineOf?.(["max_in_flight"]), "must not exceed max_in_flight_limit");
      }
      const queueSlot = slots!.get("queue")!;
      const driver = queueSlot.driver;
      if (!isQueueDriver(driver)) throw new Error(`driver ${queueSlot.driverName} lists the queue interface but does not implement it`);
      const dl = deadLetterSide(driver, slots!.get("dead_letter")?.driver);
      const settings = {
        maxDeliveries: s.max_deliveries,
        ackDeadlineMs: s.ack_deadline,
        defaultMaxInFlight: s.max_in_flight,
        maxInFlightLimit: s.max_in_flight_limit,
        maxMessageSize: Math.min(s.max_message_size, driver.queueFeatures.maxMessageSize),
        maxBatchSize: s.max_batch_size,
        dedupeWindowMs: s.dedupe_window,
      };
      const state = slots!.get("state")?.driver;
      const pattern = new QueuePattern(QUEUE_VERSION, driver, dl.driver, settings, env.logger, state);
      pattern.metrics = new QueueMetrics(env.registry, pattern);
      pattern.capabilities = capabilities(QUEUE_SLOTS, slots!, driver.queueFeatures, dl.support, settings);
      return pattern;
    },
  };
}
