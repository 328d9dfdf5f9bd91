import { validate, ConfigError, type Schema, type DriverEnv } from "@prism/sdk";

/** Configuration of the NATS pattern (pub/sub on core NATS, streams on JetStream). */
export interface NatsConfig {
  /** One server URL or a comma-separated list. */
  url: string;
  name: string;
  connect_timeout: number;
  /** Bound on every request to the server: publish confirmation (flush), JetStream API calls and acks. */
  request_timeout: number;
  /** Consecutive failures that open the circuit breaker, and how long it stays open before one probe. */
  breaker: { failure_threshold: number; open_duration: number };
  /** First wait between reconnect attempts; doubles per attempt up to reconnect_max_wait. */
  reconnect_wait: number;
  reconnect_max_wait: number;
  ping_interval: number;
  max_pings_out: number;
  /** Messages buffered per subscription; beyond that the oldest are dropped (core NATS has no back-pressure). */
  subscriber_buffer: number;
  jetstream: {
    replicas: number;
    storage: "file" | "memory";
    /** 0 = keep forever. */
    max_age: number;
    /** 0 = unlimited. */
    max_bytes: number;
    max_msgs: number;
    /** Bytes a stream Read pulls at a time (raised to the server's max_payload when smaller). */
    fetch_bytes: number;
  };
  /** Queue topics (issue 21): one JetStream stream per topic (limits as jetstream:), one durable pull consumer per group. */
  queue: {
    /** How long a publish's idempotency key is remembered (the stream's duplicate_window, Nats-Msg-Id). */
    dedupe_window: number;
    /** Deliveries of one group in flight at once over every consumer (the durable's max_ack_pending). */
    max_ack_pending: number;
  };
  /** Key-value mode (JetStream KV bucket); undefined = the pattern serves no key-value. */
  kv?: NatsKvConfig;
  /** Credentials (one kind): user + password, token, NKey seed, or a creds file. Secrets may be {file} / {env}. */
  user?: string;
  password?: string;
  token?: string;
  nkey_seed?: string;
  creds_file?: string;
  /** TLS: the CA of the server's certificate; a client certificate and key when the server verifies clients. */
  tls?: { ca_file?: string; cert_file?: string; key_file?: string };
}

/** A JetStream key-value bucket (history 1), created when missing. */
export interface NatsKvConfig {
  bucket: string;
  replicas: number;
  storage: "file" | "memory";
  /** Bucket-wide age limit (NATS 2.9 has no per-key TTL); 0 = keep forever. */
  max_age: number;
  /** 0 = unlimited. */
  max_bytes: number;
  /** Largest value the bucket accepts; 0 = the server's max_payload. */
  max_value_size: number;
}

const duration = (d: string) => ({ type: "duration", default: d }) as const;

export const natsConfigSchema: Schema = {
  type: "object",
  fields: {
    url: { type: "string", default: "nats://127.0.0.1:4222" },
    name: { type: "string", default: "prism-nats" },
    connect_timeout: duration("2s"),
    request_timeout: duration("1s"),
    breaker: {
      type: "object",
      fields: {
        failure_threshold: { type: "integer", min: 1, default: 5 },
        open_duration: duration("1s"),
      },
    },
    reconnect_wait: duration("100ms"),
    reconnect_max_wait: duration("2s"),
    ping_interval: duration("2s"),
    max_pings_out: { type: "integer", min: 1, default: 2 },
    subscriber_buffer: { type: "integer", min: 1, default: 1024 },
    jetstream: {
      type: "object",
      fields: {
        replicas: { type: "integer", min: 1, max: 5, default: 1 },
        storage: { type: "string", enum: ["file", "memory"], default: "file" },
        max_age: duration("0s"),
        max_bytes: { type: "bytes", default: 0 },
        max_msgs: { type: "integer", min: 0, default: 0 },
        fetch_bytes: { type: "bytes", default: "4MiB" },
      },
    },
    queue: {
      type: "object",
      fields: {
        dedupe_window: duration("2m"),
        max_ack_pending: { type: "integer", min: 1, default: 20_000 },
      },
    },
    user: { type: "string" },
    password: { type: "string" },
    token: { type: "string" },
    nkey_seed: { type: "string" },
    creds_file: { type: "string" },
    tls: { type: "object", optional: true, fields: { ca_file: { type: "string" }, cert_file: { type: "string" }, key_file: { type: "string" } } },
    kv: {
      type: "object",
      fields: {
        bucket: { type: "string" },
        replicas: { type: "integer", min: 1, max: 5, default: 1 },
        storage: { type: "string", enum: ["file", "memory"], default: "file" },
        max_age: duration("0s"),
        max_bytes: { type: "bytes", default: 0 },
        max_value_size: { type: "bytes", default: 0 },
      },
    },
  },
};

/** Validates the pattern's configuration; unknown keys and bad values are errors with file and line. */
export function parseNatsConfig(config: Record<string, unknown>, env: Pick<DriverEnv, "configFile" | "lineOf">): NatsConfig {
  const cfg = validate<NatsConfig>(config, natsConfigSchema, { file: env.configFile, lineOf: env.lineOf });
  if (config.kv === undefined || config.kv === null) {
    delete cfg.kv;
  } else if (!cfg.kv?.bucket || !/^[-\w]+$/.test(cfg.kv.bucket)) {
    throw new ConfigError(
      env.configFile,
      "kv.bucket",
      env.lineOf?.(["kv", "bucket"]),
      "is required in key-value mode: a bucket name of letters, digits, - and _",
    );
  }
  for (const u of servers(cfg)) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s]+$|^[^\s:/]+:\d+$/.test(u)) {
      throw new ConfigError(env.configFile, "url", env.lineOf?.(["url"]), `"${u}" is not a NATS server URL (nats://host:port)`);
    }
  }
  const kinds = (["user", "token", "nkey_seed", "creds_file"] as const).filter((k) => cfg[k] !== undefined);
  if (kinds.length > 1) {
    throw new ConfigError(env.configFile, kinds[1]!, env.lineOf?.([kinds[1]!]), `use one kind of credential, not ${kinds.join(" and ")}`);
  }
  if ((cfg.user === undefined) !== (cfg.password === undefined)) {
    const k = cfg.user === undefined ? "password" : "user";
    throw new ConfigError(env.configFile, k, env.lineOf?.([k]), "user and password go together");
  }
  if (cfg.tls && (cfg.tls.cert_file === undefined) !== (cfg.tls.key_file === undefined)) {
    throw new ConfigError(env.configFile, "tls", env.lineOf?.(["tls"]), "cert_file and key_file go together");
  }
  if (cfg.reconnect_max_wait < cfg.reconnect_wait) {
    throw new ConfigError(env.configFile, "reconnect_max_wait", env.lineOf?.(["reconnect_max_wait"]), "must not be shorter than reconnect_wait");
  }
  return cfg;
}

/** The server URLs of the configuration. */
export function servers(cfg: Pick<NatsConfig, "url">): string[] {
  return cfg.url
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
