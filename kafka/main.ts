import { serve } from "@prism/sdk";
import { kafkaPattern } from "./pattern";

await serve(kafkaPattern);
