import { serve } from "@prism/sdk";
import { memstorePattern } from "./pattern";

await serve(memstorePattern);
