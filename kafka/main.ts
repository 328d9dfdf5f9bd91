import { serve } from "../sdk/serve";
import { kafkaPattern } from "./pattern";

await serve(kafkaPattern);
