import type { RedisDriver } from "../../redis/driver";
import { redisDriver } from "../../redis/factory";
import { redisNativeFilter } from "../native/redis_filter";
import type { BackendModule } from "./module";

/** Redis: registry with filters evaluated by a server-side Lua script (one server), and pub/sub messaging. */
export const redis: BackendModule = { factory: redisDriver, nativeFilter: (d) => redisNativeFilter(d as RedisDriver) };
