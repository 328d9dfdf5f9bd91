import type { PatternDefinition } from "../sdk/lifecycle/pattern";
import { keyValueBasic } from "../sdk/services/keyvalue_basic";
import { keyValueBatch } from "../sdk/services/keyvalue_batch";
import { keyValuePattern } from "../sdk/services/keyvalue_pattern";
import { keyValueScan } from "../sdk/services/keyvalue_scan";
import { keyValueTTL } from "../sdk/services/keyvalue_ttl";
import { DRIVER_VERSION, type PostgresDriver } from "./driver";
import { postgresDriverFactory } from "./factory";

/**
 * The PostgreSQL pattern: key-value basic, scan and batch natively; TTL emulated by the driver (expires_at column +
 * sweeper); the four interface services and KeyValuePattern.
 */
export const postgresPattern: PatternDefinition<PostgresDriver> = {
  name: "postgres",
  version: DRIVER_VERSION,
  dbSystem: "postgresql",
  bindings: [keyValueBasic, keyValueTTL, keyValueScan, keyValueBatch, keyValuePattern],
  create: (config, env) => postgresDriverFactory.create(config, env),
};
