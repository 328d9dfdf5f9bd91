import { redisDriver } from "../../redis/factory";
import type { BackendModule } from "./module";

/** Redis: a shard with native expiry and compare-and-set. (The redis driver has no stream_basic: no replication slot.) */
export const redis: BackendModule = { factory: redisDriver };
