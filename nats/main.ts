import { serve } from "@prism/sdk";
import { natsPattern } from "./pattern";

await serve(natsPattern);
