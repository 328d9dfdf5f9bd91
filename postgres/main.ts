import { serve } from "@prism/sdk";
import { postgresPattern } from "./pattern";

await serve(postgresPattern);
