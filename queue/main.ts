import { serve } from "@prism/sdk";
import { memstore } from "./backends/memstore";
import { queuePattern } from "./pattern";

await serve(queuePattern([memstore]));
