import { serve } from "@prism/sdk";
import { examplePattern } from "./pattern";

await serve(examplePattern);
