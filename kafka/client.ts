import { readFileSync } from "node:fs";
import { Kafka, logLevel, type KafkaConfig as KafkaConfig_, type logCreator } from "kafkajs";
import { type Logger } from "@prism/sdk";
import type { KafkaConfig } from "./config";

// kafkajs warns on every producer creation about its v2 partitioner change; Prism picks partitions itself.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

/** Messages kafkajs logs that say nothing useful to an operator of this pattern. */
const QUIET = [/Limiting retries for the idempotent producer/];

/**
 * Routes kafkajs's own logs through the SDK logger: errors and warnings at warn (kafkajs logs every failed
 * connection attempt as an error, which during a broker outage is expected noise), the rest at debug.
 */
export function kafkaLogCreator(logger: Logger, repeatWindowMs = 5_000): logCreator {
  // A dead broker makes kafkajs log the same connection error many times a second; say it once per window.
  const lastSaid = new Map<string, number>();
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _t, logger: _l, ...fields } = log as { message: string; timestamp?: string; logger?: string };
      if (QUIET.some((re) => re.test(message))) return;
      const rec = { kafkajs: namespace, ...fields };
      if (level > logLevel.WARN) {
        logger.debug(`kafkajs: ${message}`, rec);
        return;
      }
      const now = Date.now();
      const key = `${namespace}:${message.slice(0, 120)}`;
      if (now - (lastSaid.get(key) ?? 0) < repeatWindowMs) return;
      if (lastSaid.size > 1000) lastSaid.clear();
      lastSaid.set(key, now);
      logger.warn(`kafkajs: ${message}`, rec);
    };
}

/** The kafkajs client with this pattern's timeouts and retry policy. */
export function createKafka(cfg: KafkaConfig, logger: Logger): Kafka {
  return new Kafka({
    clientId: cfg.client_id,
    brokers: cfg.brokers,
    connectionTimeout: cfg.connection_timeout,
    requestTimeout: cfg.request_timeout,
    enforceRequestTimeout: true,
    retry: {
      retries: cfg.retry.retries,
      initialRetryTime: cfg.retry.initial_retry_time,
      maxRetryTime: cfg.retry.max_retry_time,
    },
    logLevel: logger.debugEnabled ? logLevel.INFO : logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    ...securityOptions(cfg),
  });
}

/** SASL and TLS options of kafkajs from the pattern's sasl: / ssl: settings (issue 11). */
export function securityOptions(cfg: Pick<KafkaConfig, "sasl" | "ssl">): Pick<KafkaConfig_, "ssl" | "sasl"> {
  const o: Pick<KafkaConfig_, "ssl" | "sasl"> = {};
  if (cfg.ssl) {
    const read = (f?: string) => (f === undefined ? undefined : readFileSync(f, "utf8"));
    o.ssl = {
      ca: read(cfg.ssl.ca_file),
      cert: read(cfg.ssl.cert_file),
      key: read(cfg.ssl.key_file),
      ...(cfg.ssl.server_name && { servername: cfg.ssl.server_name }),
    };
  }
  if (cfg.sasl) {
    const { username, password } = cfg.sasl;
    o.sasl =
      cfg.sasl.mechanism === "plain"
        ? { mechanism: "plain", username, password }
        : cfg.sasl.mechanism === "scram-sha-256"
          ? { mechanism: "scram-sha-256", username, password }
          : { mechanism: "scram-sha-512", username, password };
  }
  return o;
}

/** Kafka's "-1" (no offset / no timestamp) and string offsets, as numbers. */
export function offsetNumber(s: string): number {
  return Number(s);
}
