import { readFileSync } from "node:fs";
import { BREAKER_CONFIG, RETRY_CONFIG, validate, ConfigError, type Schema, type DriverEnv } from "@prism/sdk";

/** Namespace used when the pattern runs without one, the name the proxy gives an unnamed namespace. */
export const DEFAULT_NAMESPACE = "default";

export type TlsMode = "disable" | "require" | "verify-full";

/** The PostgreSQL driver's configuration after validation, with every default filled in. */
export interface PostgresConfig {
  host: string;
  port: number;
  database: string;
  user: string;
  /** From `password` or the first line of `password_file`; "" = none. */
  password: string;
  tls: {
    mode: TlsMode;
    /** PEM text of the CA the server certificate must chain to (verify-full); undefined = the system's CAs. */
    ca?: string;
    /** Name checked against the certificate (verify-full); default host. */
    serverName: string;
  };
  poolSize: number;
  /** Server-side bound of every statement (statement_timeout); the client gives up shortly after it. */
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  /** `select 1` on a connection of its own every intervalMs; no answer within timeoutMs = down, calls refused. */
  healthCheck: { intervalMs: number; timeoutMs: number };
  /** Table holding every namespace's keys (one row per namespace + key). */
  table: string;
  /** Rows of this namespace: keys of another namespace are never read, listed or swept. */
  namespace: string;
  sweep: { intervalMs: number; batch: number; maxBatchesPerRun: number };
  retry: { maxAttempts: number; initialDelayMs: number; maxDelayMs: number };
  breaker: { failureThreshold: number; openDurationMs: number };
}

export const postgresConfigSchema: Schema = {
  type: "object",
  fields: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "integer", min: 1, max: 65535, default: 5432 },
    database: { type: "string", default: "prism" },
    user: { type: "string", default: "prism" },
    password: { type: "string" },
    password_file: { type: "string" },
    tls: {
      type: "object",
      fields: {
        mode: { type: "string", enum: ["disable", "require", "verify-full"], default: "disable" },
        ca_file: { type: "string" },
        server_name: { type: "string" },
      },
    },
    pool_size: { type: "integer", min: 1, max: 200, default: 10 },
    statement_timeout: { type: "duration", default: "5s" },
    connect_timeout: { type: "duration", default: "5s" },
    health_check: {
      type: "object",
      fields: {
        interval: { type: "duration", default: "250ms" },
        timeout: { type: "duration", default: "750ms" },
      },
    },
    table: { type: "string", default: "prism_kv" },
    sweep: {
      type: "object",
      fields: {
        interval: { type: "duration", default: "1s" },
        batch: { type: "integer", min: 1, max: 100_000, default: 1000 },
        max_batches_per_run: { type: "integer", min: 1, max: 1000, default: 10 },
      },
    },
    retry: RETRY_CONFIG,
    breaker: BREAKER_CONFIG,
  },
};

interface RawConfig {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  password_file?: string;
  tls: { mode: TlsMode; ca_file?: string; server_name?: string };
  pool_size: number;
  statement_timeout: number;
  connect_timeout: number;
  health_check: { interval: number; timeout: number };
  table: string;
  sweep: { interval: number; batch: number; max_batches_per_run: number };
  retry: { max_attempts: number; initial_delay: number; max_delay: number };
  breaker: { failure_threshold: number; open_duration: number };
}

/** A plain SQL identifier, optionally schema-qualified: safe to splice into statements. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;

/**
 * Validates the driver's config map (unknown keys and wrong types are ConfigErrors naming file, key and line) and
 * resolves the password file and the CA file.
 */
export function parsePostgresConfig(config: Record<string, unknown>, env: Pick<DriverEnv, "configFile" | "lineOf" | "namespace">): PostgresConfig {
  const raw = validate<RawConfig>(config, postgresConfigSchema, { file: env.configFile, lineOf: env.lineOf });
  const fail = (path: string[], reason: string): never => {
    throw new ConfigError(env.configFile, path.join("."), env.lineOf?.(path), reason);
  };
  if (raw.password !== undefined && raw.password_file !== undefined) fail(["password_file"], "set either password or password_file, not both");
  let password = raw.password ?? "";
  if (raw.password_file !== undefined) {
    try {
      password = readFileSync(raw.password_file, "utf8").split(/\r?\n/)[0] ?? "";
    } catch (err) {
      fail(["password_file"], `cannot read ${raw.password_file}: ${(err as Error).message}`);
    }
  }
  if (!IDENTIFIER.test(raw.table)) fail(["table"], `must be a lower-case SQL identifier (optionally schema.table), got "${raw.table}"`);
  if (raw.tls.mode !== "verify-full") {
    if (raw.tls.ca_file !== undefined) fail(["tls", "ca_file"], "is used only with mode verify-full");
    if (raw.tls.server_name !== undefined) fail(["tls", "server_name"], "is used only with mode verify-full");
  }
  let ca: string | undefined;
  if (raw.tls.ca_file !== undefined) {
    try {
      ca = readFileSync(raw.tls.ca_file, "utf8");
    } catch (err) {
      fail(["tls", "ca_file"], `cannot read ${raw.tls.ca_file}: ${(err as Error).message}`);
    }
    if (!ca!.includes("-----BEGIN CERTIFICATE-----")) fail(["tls", "ca_file"], `${raw.tls.ca_file} holds no PEM certificate`);
  }
  if (raw.health_check.interval <= 0) fail(["health_check", "interval"], "must be positive");
  if (raw.health_check.timeout <= 0) fail(["health_check", "timeout"], "must be positive");
  if (raw.retry.max_delay < raw.retry.initial_delay) fail(["retry", "max_delay"], "must not be shorter than retry.initial_delay");
  return {
    host: raw.host,
    port: raw.port,
    database: raw.database,
    user: raw.user,
    password,
    tls: { mode: raw.tls.mode, ca, serverName: raw.tls.server_name ?? raw.host },
    poolSize: raw.pool_size,
    statementTimeoutMs: raw.statement_timeout,
    connectTimeoutMs: raw.connect_timeout,
    healthCheck: { intervalMs: raw.health_check.interval, timeoutMs: raw.health_check.timeout },
    table: raw.table,
    namespace: env.namespace || DEFAULT_NAMESPACE,
    sweep: { intervalMs: raw.sweep.interval, batch: raw.sweep.batch, maxBatchesPerRun: raw.sweep.max_batches_per_run },
    retry: { maxAttempts: raw.retry.max_attempts, initialDelayMs: raw.retry.initial_delay, maxDelayMs: raw.retry.max_delay },
    breaker: { failureThreshold: raw.breaker.failure_threshold, openDurationMs: raw.breaker.open_duration },
  };
}
