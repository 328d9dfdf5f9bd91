/**
 * dist/multicast-registry over each slot combination, run directly (its own --config) or launched by
 * dist/proxy (slots in the namespace entry). Each target gets a namespace of its own on the shared Redis and
 * Kafka, and a dedicated nats-server (cheap, and free to stop for the messaging-failure test).
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { Target } from "../acceptance/target";
import { configuredPattern } from "../helpers/process";
import { proxyTarget } from "../helpers/proxy_target";
import { kafkaBrokers, redisClusterSeeds, requireService } from "../helpers/services";
import { deleteNamespaceTopics } from "../kafka/target";
import { dropNamespace, postgresConfig } from "../postgres/target";
import { startNatsServer } from "../nats/server";
import { deletePrefix, sharedRedisAddress } from "../redis/harness";

export type SlotMap = Record<string, { driver: string; config?: Record<string, unknown> }>;

/** What a combination must report in GetCapabilities. */
export interface Expectations {
  registry: string;
  messaging: string;
  durability?: string;
  filterNative: boolean;
}

export interface MulticastTarget extends Target {
  expect: Expectations;
  /** Stops the messaging backend for good (the suite's last test), when the target can. */
  stopMessaging?: () => Promise<void>;
}

interface Backends {
  slots: SlotMap;
  cleanup: () => Promise<void>;
  stopMessaging?: () => Promise<void>;
}

export interface Combo {
  name: string;
  expect: Expectations;
  needs: ("redis" | "redis-cluster" | "kafka" | "postgres")[];
  /** Run directly only (not also through the proxy). */
  directOnly?: boolean;
  /** Its backends include a messaging server of its own that the suite may stop (stopMessaging). */
  stopsMessaging?: boolean;
  backends(namespace: string): Promise<Backends>;
}

const kafkaConfig = () => ({
  brokers: kafkaBrokers(),
  partitions: 1,
  consumer: { session_timeout: "6s", heartbeat_interval: "200ms", rebalance_timeout: "6s", max_wait: "100ms" },
});

async function redisSlot(ns: string): Promise<{ config: Record<string, unknown>; cleanup: () => Promise<void> }> {
  const address = await sharedRedisAddress();
  return {
    config: { address },
    cleanup: async () => {
      const r = new Redis(address, { maxRetriesPerRequest: 1 });
      try {
        await deletePrefix(r, `${ns}:`);
      } finally {
        r.disconnect();
      }
    },
  };
}

async function natsServer() {
  const server = await startNatsServer();
  const config = { url: server.url, ping_interval: "1s", reconnect_wait: "50ms", reconnect_max_wait: "500ms" };
  return { server, config };
}

export const COMBOS: Combo[] = [
  {
    name: "memstore",
    expect: { registry: "memstore", messaging: "memstore", filterNative: false },
    needs: [],
    backends: async () => ({ slots: { registry: { driver: "memstore" }, messaging: { driver: "memstore" } }, cleanup: async () => {} }),
  },
  {
    name: "memstore + memstore durability",
    expect: { registry: "memstore", messaging: "memstore", durability: "memstore", filterNative: false },
    needs: [],
    backends: async () => ({
      slots: { registry: { driver: "memstore" }, messaging: { driver: "memstore" }, durability: { driver: "memstore" } },
      cleanup: async () => {},
    }),
  },
  {
    name: "redis + nats",
    stopsMessaging: true,
    expect: { registry: "redis", messaging: "nats", filterNative: true },
    needs: ["redis"],
    backends: async (ns) => {
      const redis = await redisSlot(ns);
      const { server, config } = await natsServer();
      return {
        slots: { registry: { driver: "redis", config: redis.config }, messaging: { driver: "nats", config } },
        cleanup: async () => {
          await redis.cleanup();
          await server.close();
        },
        stopMessaging: () => server.stop(),
      };
    },
  },
  {
    name: "redis + nats + jetstream durability",
    expect: { registry: "redis", messaging: "nats", durability: "nats", filterNative: true },
    needs: ["redis"],
    backends: async (ns) => {
      const redis = await redisSlot(ns);
      const { server, config } = await natsServer();
      return {
        slots: { registry: { driver: "redis", config: redis.config }, messaging: { driver: "nats", config }, durability: { driver: "nats", config } },
        cleanup: async () => {
          await redis.cleanup();
          await server.close();
        },
      };
    },
  },
  {
    name: "redis + nats + redis streams durability",
    expect: { registry: "redis", messaging: "nats", durability: "redis", filterNative: true },
    needs: ["redis"],
    backends: async (ns) => {
      const redis = await redisSlot(ns);
      const { server, config } = await natsServer();
      return {
        slots: {
          registry: { driver: "redis", config: redis.config },
          messaging: { driver: "nats", config },
          durability: { driver: "redis", config: redis.config },
        },
        cleanup: async () => {
          await redis.cleanup();
          await server.close();
        },
      };
    },
  },
  {
    name: "redis + kafka",
    expect: { registry: "redis", messaging: "kafka", filterNative: true },
    needs: ["redis", "kafka"],
    backends: async (ns) => {
      const redis = await redisSlot(ns);
      return {
        slots: { registry: { driver: "redis", config: redis.config }, messaging: { driver: "kafka", config: kafkaConfig() } },
        cleanup: async () => {
          await redis.cleanup();
          await deleteNamespaceTopics(kafkaBrokers(), ns);
        },
      };
    },
  },
  {
    // A cluster cannot run one script over every node: the pattern filters (the same suite, same results).
    name: "redis cluster + memstore",
    expect: { registry: "redis", messaging: "memstore", filterNative: false },
    needs: ["redis-cluster"],
    directOnly: true,
    backends: async (ns) => ({
      slots: { registry: { driver: "redis", config: { cluster: redisClusterSeeds() } }, messaging: { driver: "memstore" } },
      cleanup: async () => {
        for (const seed of redisClusterSeeds()) {
          const r = new Redis(`redis://${seed}`, { maxRetriesPerRequest: 1 });
          try {
            if ((await r.role())[0] === "master") await deletePrefix(r, `${ns}:`);
          } finally {
            r.disconnect();
          }
        }
      },
    }),
  },
  {
    name: "redis + kafka + kafka durability",
    expect: { registry: "redis", messaging: "kafka", durability: "kafka", filterNative: true },
    needs: ["redis", "kafka"],
    directOnly: true,
    backends: async (ns) => {
      const redis = await redisSlot(ns);
      return {
        slots: {
          registry: { driver: "redis", config: redis.config },
          messaging: { driver: "kafka", config: kafkaConfig() },
          durability: { driver: "kafka", config: { ...kafkaConfig(), partitions: 3 } },
        },
        cleanup: async () => {
          await redis.cleanup();
          await deleteNamespaceTopics(kafkaBrokers(), ns);
        },
      };
    },
  },
  {
    name: "postgres + kafka",
    expect: { registry: "postgres", messaging: "kafka", filterNative: true },
    needs: ["postgres", "kafka"],
    backends: async (ns) => ({
      slots: { registry: { driver: "postgres", config: postgresConfig() }, messaging: { driver: "kafka", config: kafkaConfig() } },
      cleanup: async () => {
        await dropNamespace(ns);
        await deleteNamespaceTopics(kafkaBrokers(), ns);
      },
    }),
  },
];

/** A namespace no other run uses (letters, digits and '-': valid for every backend's naming). */
export const uniqueNamespace = (label: string) => `mc-${label.replace(/[^a-z0-9]+/g, "-").slice(0, 20)}-${randomBytes(3).toString("hex")}`;

async function prepare(combo: Combo, ns: string): Promise<Backends> {
  for (const s of combo.needs) await requireService(s);
  return combo.backends(ns);
}

/** The pattern run directly from its own config file. */
export async function directTarget(combo: Combo, settings: Record<string, unknown> = {}): Promise<MulticastTarget> {
  const ns = uniqueNamespace(combo.name);
  const b = await prepare(combo, ns);
  try {
    const p = await configuredPattern("multicast-registry", { namespace: ns, ...settings, slots: b.slots }, b.cleanup);
    return { ...p, expect: combo.expect, stopMessaging: b.stopMessaging };
  } catch (err) {
    await b.cleanup();
    throw err;
  }
}

/** The pattern launched by the proxy for one namespace, with the slots in the namespace entry. */
export async function viaProxyTarget(combo: Combo, settings: Record<string, unknown> = {}): Promise<MulticastTarget> {
  const ns = uniqueNamespace(`p-${combo.name}`);
  const b = await prepare(combo, ns);
  try {
    const t = await proxyTarget("multicast-registry", ns, settings, b.cleanup, b.slots);
    return { ...t, expect: combo.expect, stopMessaging: b.stopMessaging };
  } catch (err) {
    await b.cleanup();
    throw err;
  }
}
