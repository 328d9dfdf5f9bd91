import { SQL } from "bun";
import { type Logger } from "@prism/sdk";
import type { PostgresConfig } from "./config";

/**
 * The connection pool: Bun's built-in PostgreSQL client (`Bun.sql`), chosen by measurement over the `postgres` npm
 * package (bench/pg_client.bench.ts; figures in bench/README.md). statement_timeout is set on every connection, so
 * the server cancels (and rolls back) a statement that runs too long.
 */
export function createPool(cfg: PostgresConfig, logger: Logger): { sql: SQL; state: PoolState } {
  const state = new PoolState();
  const sql = new SQL({
    adapter: "postgres",
    hostname: cfg.host,
    port: cfg.port,
    username: cfg.user,
    password: cfg.password,
    database: cfg.database,
    max: cfg.poolSize,
    connectionTimeout: Math.max(1, Math.ceil(cfg.connectTimeoutMs / 1000)),
    idleTimeout: 60,
    tls: tlsOption(cfg),
    connection: { statement_timeout: cfg.statementTimeoutMs, application_name: "prism-postgres" },
    onconnect: () => state.connected(logger, `${cfg.host}:${cfg.port}`),
    onclose: (err) => state.closed(err, logger, `${cfg.host}:${cfg.port}`),
  });
  return { sql, state };
}

/** The health check's connection: one, of its own, so its `select 1` never waits behind the pool's busy ones. */
export function createProbeConnection(cfg: PostgresConfig): SQL {
  return new SQL({
    adapter: "postgres",
    hostname: cfg.host,
    port: cfg.port,
    username: cfg.user,
    password: cfg.password,
    database: cfg.database,
    max: 1,
    connectionTimeout: Math.max(1, Math.ceil(cfg.connectTimeoutMs / 1000)),
    idleTimeout: 0,
    tls: tlsOption(cfg),
    connection: { statement_timeout: cfg.healthCheck.timeoutMs, application_name: "prism-postgres-health" },
  });
}

/** The TLS mode as Bun.sql takes it: off, encrypted without verification, or verified against a CA and a host name. */
export function tlsOption(cfg: Pick<PostgresConfig, "tls">): SQL.PostgresOrMySQLOptions["tls"] {
  switch (cfg.tls.mode) {
    case "disable":
      return false;
    case "require":
      return "require";
    case "verify-full":
      return { ...(cfg.tls.ca !== undefined ? { ca: cfg.tls.ca } : {}), serverName: cfg.tls.serverName, rejectUnauthorized: true };
  }
}

/** Connection events, for health reports and a log line per outage (not per reconnect attempt). */
export class PoolState {
  open = 0;
  lastError = "";
  /** Set by the driver before it closes the pool: the closes that follow are not outages. */
  closing = false;
  private down = false;

  connected(logger: Logger, target: string): void {
    this.open++;
    if (this.down) logger.info("postgres connection restored", { target });
    this.down = false;
    this.lastError = "";
  }

  closed(err: Error | null, logger: Logger, target: string): void {
    if (this.open > 0) this.open--;
    const code = (err as { code?: string } | null)?.code;
    if (!err || this.closing || code === "ERR_POSTGRES_IDLE_TIMEOUT" || code === "ERR_POSTGRES_LIFETIME_TIMEOUT") return;
    this.lastError = `${err.message}${code ? ` (${code})` : ""}`;
    if (this.down) return;
    this.down = true;
    logger.warn("postgres connection lost or refused", { target, error: this.lastError });
  }
}
