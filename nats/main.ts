import { serve } from "../sdk/serve";
import { natsPattern } from "./pattern";

await serve(natsPattern);
