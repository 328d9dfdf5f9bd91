import { type DriverFactory } from "@prism/sdk";
import { parsePostgresConfig } from "./config";
import { PostgresDriver } from "./driver";

/**
 * Builds a PostgreSQL key-value driver from a config map (the keys of postgres/README.md): for the postgres pattern
 * and for any pattern with a key-value slot (`driver: postgres`). It starts even when PostgreSQL is not reachable
 * yet (calls are UNAVAILABLE and health says why until it is); its table is created on first contact.
 */
export const postgresDriverFactory: DriverFactory<PostgresDriver> = {
  name: "postgres",
  interfaces: ["keyvalue_basic", "keyvalue_ttl", "keyvalue_scan", "keyvalue_batch", "queue"],
  async create(config, env) {
    const cfg = parsePostgresConfig(config, env);
    const driver = new PostgresDriver(cfg, env.logger.child({ driver: "postgres" }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reached = await Promise.race([driver.connected(), new Promise<false>((r) => (timer = setTimeout(() => r(false), cfg.connectTimeoutMs)))]);
    clearTimeout(timer);
    if (!reached) env.logger.warn("postgres not reachable yet; serving UNAVAILABLE until it is", { target: driver.target });
    driver.start();
    return driver;
  },
};
