import { redisDriver } from "../../redis/factory";
import type { BackendModule } from "./module";

/** Redis: a shard with native expiry and compare-and-set, or the replication stream (Redis Streams). */
export const redis: BackendModule = { factory: redisDriver };
