import { postgresDriverFactory } from "../../postgres/factory";
import type { BackendModule } from "./module";

/** PostgreSQL: a table queue claimed with FOR UPDATE SKIP LOCKED and visibility times; dead letters emulated in its key-value table. */
export const postgres: BackendModule = { factory: postgresDriverFactory };
