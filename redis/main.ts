import { serve } from "@prism/sdk";
import { redisPattern } from "./pattern";

await serve(redisPattern);
