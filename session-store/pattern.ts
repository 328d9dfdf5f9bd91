import { ConfigError, DriverRegistry, type PatternDefinition, validate } from "@prism/sdk";
import type { BackendModule } from "./backends/module";
import { capabilities } from "./capabilities";
import type { SessionLimits } from "./limits";
import { SessionMetrics } from "./metrics";
import { SessionStoreInstance } from "./pattern_driver";
import { Replicator } from "./replication";
import { MAX_PAGE, sessionStoreService } from "./service";
import { fillSessionSlots, SESSION_SLOTS } from "./shards";
import { SessionStore } from "./store";

export const SESSION_STORE_VERSION = "0.1.0";

/** The pattern's own settings (beside `slots`). */
export const settingsSchema = {
  type: "object",
  fields: {
    region: { type: "string", default: "local" },
    virtual_nodes: { type: "integer", min: 1, max: 4096, default: 160 },
    default_ttl: { type: "duration", default: "30m" },
    max_ttl: { type: "duration", default: "24h" },
    max_attributes: { type: "integer", min: 1, max: 100_000, default: 64 },
    max_attribute_bytes: { type: "bytes", default: "64KiB" },
    max_owner_bytes: { type: "integer", min: 1, max: 4096, default: 256 },
    rebalance_interval: { type: "duration", default: "1s" },
    replication_stream: { type: "string", default: "sessions" },
    replication_checkpoint_interval: { type: "duration", default: "500ms" },
    replication_backlog: { type: "integer", min: 1, default: 100_000 },
    replication_partitions: { type: "integer", min: 1, max: 1024, default: 1 },
  },
} as const;

interface Settings {
  region: string;
  virtual_nodes: number;
  default_ttl: number;
  max_ttl: number;
  max_attributes: number;
  max_attribute_bytes: number;
  max_owner_bytes: number;
  rebalance_interval: number;
  replication_stream: string;
  replication_checkpoint_interval: number;
  replication_backlog: number;
  replication_partitions: number;
}

/**
 * The Session Store built with these drivers. Its slots are in its configuration (`slots: {store: one backend or
 * a list, replication?: …}`), from the proxy's namespace `slots:` or its `config:`, and filled by the pattern itself.
 */
export function sessionStorePattern(backends: readonly BackendModule[]): PatternDefinition<SessionStoreInstance> {
  const drivers = DriverRegistry.of(...backends.map((b) => b.factory));
  return {
    name: "session-store",
    version: SESSION_STORE_VERSION,
    bindings: [sessionStoreService],
    // Declared to the proxy (which checks a namespace's `slots:` against them), filled here: a shard entry has keys
    // of its own (name, draining) and its driver must offer compare-and-set by version.
    slots: SESSION_SLOTS,
    drivers,
    ownSlots: true,
    async create(config, env) {
      const { slots, ...own } = config;
      const origin = { file: env.configFile, lineOf: env.lineOf };
      const s = validate<Settings>(own, settingsSchema, origin);
      const seconds = (ms: number, key: string) => {
        if (ms < 1000) throw new ConfigError(env.configFile, key, env.lineOf?.([key]), "must be at least 1s");
        return Math.floor(ms / 1000);
      };
      const limits: SessionLimits = {
        maxAttributes: s.max_attributes,
        maxAttributeBytes: s.max_attribute_bytes,
        maxTtlSeconds: seconds(s.max_ttl, "max_ttl"),
        defaultTtlSeconds: seconds(s.default_ttl, "default_ttl"),
        maxOwnerBytes: s.max_owner_bytes,
      };
      if (limits.defaultTtlSeconds > limits.maxTtlSeconds)
        throw new ConfigError(env.configFile, "default_ttl", env.lineOf?.(["default_ttl"]), "must not exceed max_ttl");
      if (s.region === "") throw new ConfigError(env.configFile, "region", env.lineOf?.(["region"]), "must not be empty");
      const replicated = typeof slots === "object" && slots !== null && "replication" in slots;
      // Two regions both left at the default would each take the other's changes for its own and skip them.
      if (replicated && own.region === undefined) {
        throw new ConfigError(
          env.configFile,
          "region",
          env.lineOf?.(["region"]),
          "must be set, different in every region, when the replication slot is filled",
        );
      }
      const filled = await fillSessionSlots(slots, drivers, env);
      let store: SessionStore | undefined;
      try {
        const metrics = new SessionMetrics(env.registry, () => store?.shardList() ?? filled.shards);
        store = new SessionStore(filled.shards, {
          region: s.region,
          virtualNodes: s.virtual_nodes,
          limits,
          tombstones: filled.replication !== undefined,
          logger: env.logger,
          metrics,
          rebalanceIntervalMs: s.rebalance_interval,
        });
        let replicator: Replicator | undefined;
        if (filled.replication) {
          replicator = new Replicator(store, filled.replication.driver, {
            stream: s.replication_stream,
            partitions: s.replication_partitions,
            region: s.region,
            logger: env.logger,
            metrics,
            checkpointIntervalMs: s.replication_checkpoint_interval,
            retryDelayMs: 250,
            maxBacklog: s.replication_backlog,
          });
          const r = replicator;
          store.onChange = (rec) => r.ship(rec);
        }
        await store.start();
        await replicator?.start();
        const instance = new SessionStoreInstance(
          SESSION_STORE_VERSION,
          store,
          filled.shards,
          replicator,
          filled.replication && (() => filled.replication!.driver.close()),
        );
        instance.capabilities = capabilities(filled.shards, filled.replication, s.region, s.virtual_nodes, limits, MAX_PAGE);
        return instance;
      } catch (err) {
        await store?.close();
        await Promise.allSettled([...filled.shards.map((x) => x.driver.close()), filled.replication?.driver.close()]);
        throw err;
      }
    },
  };
}
