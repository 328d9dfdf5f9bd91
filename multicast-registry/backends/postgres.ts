import type { PostgresDriver } from "../../postgres/driver";
import { postgresDriverFactory } from "../../postgres/factory";
import { postgresNativeFilter } from "../native/postgres_filter";
import type { BackendModule } from "./module";

/** PostgreSQL: registry with filters evaluated as a JSONB query (expiry emulated by the driver). */
export const postgres: BackendModule = { factory: postgresDriverFactory, nativeFilter: (d) => postgresNativeFilter(d as PostgresDriver) };
