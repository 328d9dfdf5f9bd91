import { serve } from "../sdk/serve";
import { postgresPattern } from "./pattern";

await serve(postgresPattern);
