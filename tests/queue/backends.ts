/**
 * The backends of the queue slot the conformance suite runs against: one entry each (NATS and Kafka join with a
 * line here and a test file per mode). Each run gets a namespace of its own; cleanup removes what it left.
 */
import { connect as natsConnect } from "nats";
import { natsUrl } from "../helpers/services";
import type { QueueBackend } from "./targets";

export const memstore: QueueBackend = {
  name: "memstore",
  needs: [],
  slots: async () => ({ slots: { queue: { driver: "memstore" } }, cleanup: async () => {} }),
};

/** NATS JetStream on the shared server: the run's streams are `<namespace>_Q<topic>`. */
export const nats: QueueBackend = {
  name: "nats",
  needs: ["nats"],
  slots: async (ns) => ({
    slots: { queue: { driver: "nats", config: { url: natsUrl(), reconnect_wait: "50ms", reconnect_max_wait: "500ms" } } },
    cleanup: async () => {
      const nc = await natsConnect({ servers: natsUrl() });
      try {
        const jsm = await nc.jetstreamManager();
        for await (const s of jsm.streams.list()) if (s.config.name.startsWith(`${ns}_Q`)) await jsm.streams.delete(s.config.name);
      } finally {
        await nc.close();
      }
    },
  }),
};

// Kafka's entry is in kafka.test.ts: a suite importing ../kafka/target runs in the serial Kafka unit of
// scripts/test_parallel.ts (group rebalances on the shared broker).
export const BACKENDS: readonly QueueBackend[] = [memstore, nats];
