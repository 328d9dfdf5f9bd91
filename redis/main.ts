import { serve } from "../sdk/serve";
import { redisPattern } from "./pattern";

await serve(redisPattern);
