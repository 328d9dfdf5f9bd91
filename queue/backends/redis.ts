import { redisDriver } from "../../redis/factory";
import type { BackendModule } from "./module";

/** Redis Streams: consumer groups, XAUTOCLAIM redelivery; dead letters emulated in the same Redis (key-value). */
export const redis: BackendModule = { factory: redisDriver };
