import { serve } from "../sdk/serve";
import { memstorePattern } from "./pattern";

await serve(memstorePattern);
