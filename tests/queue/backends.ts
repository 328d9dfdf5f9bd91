/**
 * The backends of the queue slot the conformance suite runs against: one entry each (NATS and Kafka join with a
 * line here and a test file per mode). Each run gets a namespace of its own; cleanup removes what it left.
 */
import { Redis } from "ioredis";
import { SQL } from "bun";
import { connect as natsConnect } from "nats";
import { natsUrl, postgresUrl } from "../helpers/services";
import { postgresConfig } from "../postgres/target";
import { deletePrefix, sharedRedisAddress } from "../redis/harness";
import type { QueueBackend } from "./targets";

export const memstore: QueueBackend = {
  name: "memstore",
  needs: [],
  slots: async () => ({ slots: { queue: { driver: "memstore" } }, cleanup: async () => {} }),
};

export const redis: QueueBackend = {
  name: "redis",
  needs: ["redis"],
  slots: async (ns) => {
    const address = await sharedRedisAddress();
    return {
      slots: { queue: { driver: "redis", config: { address } } },
      cleanup: async () => {
        const r = new Redis(address, { maxRetriesPerRequest: 1 });
        try {
          await deletePrefix(r, `${ns}:`);
        } finally {
          r.disconnect();
        }
      },
    };
  },
};

export const postgres: QueueBackend = {
  name: "postgres",
  needs: ["postgres"],
  slots: async (ns) => ({
    slots: { queue: { driver: "postgres", config: postgresConfig() } },
    cleanup: async () => {
      const sql = new SQL({ url: postgresUrl(), max: 1 });
      try {
        for (const t of ["prism_kv", "prism_kv_queue_messages", "prism_kv_queue_groups", "prism_kv_queue_deliveries"]) {
          await sql.unsafe(`delete from ${t} where namespace = $1`, [ns]).catch(() => undefined);
        }
      } finally {
        await sql.close();
      }
    },
  }),
};

/** NATS JetStream on the shared server: the run's streams are `<namespace>_Q<topic>` and `<namespace>_D<topic>`. */
export const nats: QueueBackend = {
  name: "nats",
  needs: ["nats"],
  slots: async (ns) => ({
    slots: { queue: { driver: "nats", config: { url: natsUrl(), reconnect_wait: "50ms", reconnect_max_wait: "500ms" } } },
    cleanup: async () => {
      const nc = await natsConnect({ servers: natsUrl() });
      try {
        const jsm = await nc.jetstreamManager();
        for await (const s of jsm.streams.list()) {
          if (s.config.name.startsWith(`${ns}_Q`) || s.config.name.startsWith(`${ns}_D`)) await jsm.streams.delete(s.config.name);
        }
      } finally {
        await nc.close();
      }
    },
  }),
};

// Kafka's entry is kafka_backend.ts: a suite importing it runs in the serial Kafka unit of scripts/test_parallel.ts
// (group rebalances on the shared broker).
export const BACKENDS: readonly QueueBackend[] = [memstore, redis, postgres, nats];
