import { postgresDriverFactory } from "../../postgres/factory";
import type { BackendModule } from "./module";

/** PostgreSQL: a shard; expiry kept in a column by the driver (emulated), compare-and-set by row version. */
export const postgres: BackendModule = { factory: postgresDriverFactory };
