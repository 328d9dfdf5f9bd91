import { type DriverFactory } from "@prism/sdk";
import { parseRedisConfig } from "./config";
import { RedisDriver } from "./driver";

/**
 * Redis as a driver any pattern can put in a slot (`driver: redis`). Like the Redis pattern, it is
 * created even when Redis is not reachable yet (health says why) and connects as soon as Redis answers.
 */
export const redisDriver: DriverFactory<RedisDriver> = {
  name: "redis",
  interfaces: ["keyvalue_basic", "keyvalue_ttl", "keyvalue_scan", "keyvalue_batch", "list_basic", "pubsub_basic", "stream_basic", "queue"],
  async create(config, env) {
    const parsed = parseRedisConfig(config, env);
    const driver = new RedisDriver(parsed, env.logger, env.registry);
    if (!(await driver.connected(parsed.connectTimeoutMs))) {
      env.logger.warn("redis not reachable yet; serving UNAVAILABLE until it is", { target: driver.conn.target, error: driver.conn.lastError });
    }
    return driver;
  },
};
