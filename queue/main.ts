import { serve } from "@prism/sdk";
import { kafka } from "./backends/kafka";
import { memstore } from "./backends/memstore";
import { nats } from "./backends/nats";
import { queuePattern } from "./pattern";

await serve(queuePattern([memstore, nats, kafka]));
