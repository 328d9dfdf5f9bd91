import { keyValueBasic, keyValueBatch, keyValuePattern, keyValueScan, keyValueTTL, type PatternDefinition } from "@prism/sdk";
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
