import { serve } from "@prism/sdk";
import { kafka } from "./backends/kafka";
import { memstore } from "./backends/memstore";
import { nats } from "./backends/nats";
import { postgres } from "./backends/postgres";
import { redis } from "./backends/redis";
import { queuePattern } from "./pattern";

await serve(queuePattern([memstore, redis, postgres, nats, kafka]));
