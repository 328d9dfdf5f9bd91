import { serve } from "@prism/sdk";
import { oneSlotPattern } from "./pattern";

await serve(oneSlotPattern);
