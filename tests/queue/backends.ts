/**
 * The backends of the queue slot the conformance suite runs against: one entry each (NATS and Kafka join with a
 * line here and a test file per mode). Each run gets a namespace of its own; cleanup removes what it left.
 */
import type { QueueBackend } from "./targets";

export const memstore: QueueBackend = {
  name: "memstore",
  needs: [],
  slots: async () => ({ slots: { queue: { driver: "memstore" } }, cleanup: async () => {} }),
};

export const BACKENDS: readonly QueueBackend[] = [memstore];
