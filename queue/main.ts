import { serve } from "@prism/sdk";
import { memstore } from "./backends/memstore";
import { postgres } from "./backends/postgres";
import { redis } from "./backends/redis";
import { queuePattern } from "./pattern";

await serve(queuePattern([memstore, redis, postgres]));
