import {
  keyValueBasic,
  keyValueBatch,
  keyValuePattern,
  keyValueScan,
  keyValueTTL,
  listBasic,
  pubSubBasic,
  streamBasic,
  type PatternDefinition,
} from "@prism/sdk";
import { parseRedisConfig } from "./config";
import { DRIVER_VERSION, RedisDriver } from "./driver";

/**
 * The Redis pattern: key-value (basic, TTL, scan, batch), lists, pub/sub and streams on one Redis server or cluster.
 * It starts even when Redis is not reachable yet (health says why) and connects as soon as Redis answers.
 */
export const redisPattern: PatternDefinition<RedisDriver> = {
  name: "redis",
  version: DRIVER_VERSION,
  dbSystem: "redis",
  bindings: [keyValueBasic, keyValueTTL, keyValueScan, keyValueBatch, keyValuePattern, listBasic, pubSubBasic, streamBasic],
  async create(config, env) {
    const parsed = parseRedisConfig(config, env);
    const driver = new RedisDriver(parsed, env.logger, env.registry);
    if (!(await driver.connected(parsed.connectTimeoutMs))) {
      env.logger.warn("redis not reachable yet; serving UNAVAILABLE until it is", {
        target: driver.conn.target,
        error: driver.conn.lastError,
      });
    }
    return driver;
  },
};
