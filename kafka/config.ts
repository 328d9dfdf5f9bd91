import { validate, ConfigError, type Schema, type DriverEnv } from "@prism/sdk";

/**
 * Configuration of the Kafka pattern. Every timeout is deliberate: kafkajs's defaults (30 s requests,
 * 5 retries with up to 30 s backoff, infinite retries for the idempotent producer) hide a dead broker for
 * many seconds; these turn it into UNAVAILABLE in well under two seconds.
 */
export interface KafkaConfig {
  brokers: string[];
  client_id: string;
  /** Partitions of the topics this pattern creates. */
  partitions: number;
  replication_factor: number;
  /** max.message.bytes of the topics this pattern creates (the broker's default is 1 MiB). */
  max_message_bytes: number;
  connection_timeout: number;
  request_timeout: number;
  retry: { retries: number; initial_retry_time: number; max_retry_time: number };
  /**
   * linger: how long a record may wait for others before its request goes out (Kafka's linger.ms), counted from
   * when it was sent, so a record that waited behind the request in flight goes as soon as that one is answered.
   */
  producer: { max_batch_bytes: number; max_batch_messages: number; linger: number };
  consumer: {
    session_timeout: number;
    heartbeat_interval: number;
    rebalance_timeout: number;
    max_wait: number;
    /** Messages buffered per subscription before its partitions are paused. */
    buffer: number;
    commit_interval: number;
  };
  circuit_breaker: { failure_threshold: number; open_duration: number };
  /**
   * Queue topics (issue 21): what one group holds in this process before it stops fetching: unfinished messages
   * (in flight included), their bytes, and messages fetched ahead of the consumers' demand.
   */
  queue: { max_held: number; max_held_bytes: number; fetch_ahead: number; linger: number };
  /** Bound on one publish, append or trim as the caller sees it (creating a topic on first use is bounded apart). */
  call_timeout: number;
  health_timeout: number;
  /** SASL (PLAIN or SCRAM); the password may be {file} / {env}. */
  sasl?: { mechanism: "plain" | "scram-sha-256" | "scram-sha-512"; username: string; password: string };
  /** TLS to the brokers: CA of their certificates; client certificate and key when they verify clients. */
  ssl?: { ca_file?: string; cert_file?: string; key_file?: string; server_name?: string };
}

const duration = (d: string) => ({ type: "duration", default: d }) as const;

export const kafkaConfigSchema: Schema = {
  type: "object",
  fields: {
    brokers: { type: "array", items: { type: "string" }, default: ["127.0.0.1:9092"] },
    client_id: { type: "string", default: "prism-kafka" },
    partitions: { type: "integer", min: 1, default: 3 },
    replication_factor: { type: "integer", min: 1, default: 1 },
    max_message_bytes: { type: "bytes", default: "9MiB" },
    connection_timeout: duration("1s"),
    request_timeout: duration("5s"),
    retry: {
      type: "object",
      fields: {
        retries: { type: "integer", min: 0, default: 2 },
        initial_retry_time: duration("100ms"),
        max_retry_time: duration("500ms"),
      },
    },
    producer: {
      type: "object",
      fields: {
        max_batch_bytes: { type: "bytes", default: "1MiB" },
        max_batch_messages: { type: "integer", min: 1, default: 1000 },
        linger: duration("1ms"),
      },
    },
    consumer: {
      type: "object",
      fields: {
        // The broker refuses sessions shorter than group.min.session.timeout.ms (6 s by default).
        session_timeout: duration("10s"),
        heartbeat_interval: duration("500ms"),
        rebalance_timeout: duration("10s"),
        max_wait: duration("250ms"),
        buffer: { type: "integer", min: 1, default: 256 },
        commit_interval: duration("100ms"),
      },
    },
    circuit_breaker: {
      type: "object",
      fields: {
        failure_threshold: { type: "integer", min: 1, default: 3 },
        open_duration: duration("1s"),
      },
    },
    queue: {
      type: "object",
      fields: {
        max_held: { type: "integer", min: 1, default: 5_000 },
        max_held_bytes: { type: "bytes", default: "16MiB" },
        fetch_ahead: { type: "integer", min: 1, default: 64 },
        linger: duration("5s"),
      },
    },
    call_timeout: duration("2s"),
    health_timeout: duration("1s"),
    sasl: {
      type: "object",
      optional: true,
      required: ["mechanism", "username", "password"],
      fields: {
        mechanism: { type: "string", enum: ["plain", "scram-sha-256", "scram-sha-512"] },
        username: { type: "string" },
        password: { type: "string" },
      },
    },
    ssl: {
      type: "object",
      optional: true,
      fields: { ca_file: { type: "string" }, cert_file: { type: "string" }, key_file: { type: "string" }, server_name: { type: "string" } },
    },
  },
};

/** Kafka topic names: letters, digits, '.', '_' and '-', at most 249 characters. */
export const TOPIC_NAME = /^[A-Za-z0-9._-]+$/;

/** Validates the pattern's configuration (unknown keys are errors) and checks the namespace is usable in topic names. */
export function parseKafkaConfig(config: Record<string, unknown>, env: Pick<DriverEnv, "configFile" | "lineOf">): KafkaConfig {
  const cfg = validate<KafkaConfig>(config, kafkaConfigSchema, { file: env.configFile, lineOf: env.lineOf });
  if (cfg.brokers.length === 0) throw new ConfigError(env.configFile, "brokers", env.lineOf?.(["brokers"]), "must list at least one host:port");
  for (const [i, b] of cfg.brokers.entries()) {
    if (!/^[^\s:]+:\d+$/.test(b)) throw new ConfigError(env.configFile, `brokers[${i}]`, env.lineOf?.(["brokers", i]), `must be host:port, got "${b}"`);
  }
  if (cfg.ssl && (cfg.ssl.cert_file === undefined) !== (cfg.ssl.key_file === undefined)) {
    throw new ConfigError(env.configFile, "ssl", env.lineOf?.(["ssl"]), "cert_file and key_file go together");
  }
  if (cfg.sasl?.mechanism === "plain" && !cfg.ssl) {
    // PLAIN sends the password as is: only over TLS.
    throw new ConfigError(env.configFile, "sasl.mechanism", env.lineOf?.(["sasl", "mechanism"]), "plain sends the password in clear text: configure ssl too");
  }
  return cfg;
}

/**
 * Namespaces usable as the prefix of topic names: letters, digits and '-'. Without '.' the first '.' of a
 * topic name ends its namespace, so `<namespace>.<name>` is unambiguous (namespace `a` + topic `b.x` and
 * namespace `a.b` + topic `x` would both be `a.b.x`); without '_' neither is Kafka's '.'/'_' collision rule
 * able to relate topics of two namespaces.
 */
export const NAMESPACE_NAME = /^[A-Za-z0-9-]+$/;

/** The namespace part of topic names: the configured namespace, or "default" as the contract names an absent one. */
export function namespaceOf(env: Pick<DriverEnv, "namespace" | "configFile" | "lineOf">): string {
  const ns = env.namespace || "default";
  if (!NAMESPACE_NAME.test(ns)) {
    throw new ConfigError(
      env.configFile,
      "namespace",
      env.lineOf?.(["namespace"]),
      `"${ns}" cannot prefix Kafka topic names: use letters, digits and '-' only ('.' and '_' would let two namespaces share topics)`,
    );
  }
  return ns;
}
