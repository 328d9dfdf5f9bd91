import { redisDriver } from "../../redis/factory";
import type { BackendModule } from "./module";

/** Redis: registry with filters evaluated by a server-side Lua script (one server), and pub/sub messaging. */
export const redis: BackendModule = { factory: redisDriver };
