import { postgresDriverFactory } from "../../postgres/factory";
import type { BackendModule } from "./module";

/** PostgreSQL: registry with filters evaluated as a JSONB query (expiry emulated by the driver). */
export const postgres: BackendModule = { factory: postgresDriverFactory };
