import { describe, expect, test } from "bun:test";
import { parseYaml } from "../sdk/config/yaml";
import { namespaceOf, parseKafkaConfig } from "./config";

const env = (text: string) => {
  const src = parseYaml(text, "kafka.yaml");
  return { config: src.value as Record<string, unknown>, env: { configFile: "kafka.yaml", lineOf: src.lineOf } };
};

describe("kafka config", () => {
  test("defaults: local broker, short timeouts, bounded retries", () => {
    const cfg = parseKafkaConfig({}, { configFile: "x" });
    expect(cfg.brokers).toEqual(["127.0.0.1:9092"]);
    expect(cfg.partitions).toBe(3);
    expect(cfg.replication_factor).toBe(1);
    expect(cfg.connection_timeout).toBe(1000);
    expect(cfg.retry).toEqual({ retries: 2, initial_retry_time: 100, max_retry_time: 500 });
    expect(cfg.consumer.buffer).toBe(256);
    expect(cfg.max_message_bytes).toBe(9 * 1024 * 1024);
  });

  test("durations and sizes are parsed", () => {
    const { config, env: e } = env("brokers: [a:1, b:2]\nrequest_timeout: 750ms\nconsumer: { session_timeout: 7s, buffer: 10 }\nmax_message_bytes: 2MiB\n");
    const cfg = parseKafkaConfig(config, e);
    expect(cfg.brokers).toEqual(["a:1", "b:2"]);
    expect(cfg.request_timeout).toBe(750);
    expect(cfg.consumer.session_timeout).toBe(7000);
    expect(cfg.consumer.heartbeat_interval).toBe(500);
    expect(cfg.consumer.buffer).toBe(10);
    expect(cfg.max_message_bytes).toBe(2 * 1024 * 1024);
  });

  test("an unknown key is an error naming file, key and line", () => {
    const { config, env: e } = env("brokers: [a:1]\nconsumer:\n  sesion_timeout: 7s\n");
    expect(() => parseKafkaConfig(config, e)).toThrow(/kafka\.yaml:3: consumer\.sesion_timeout: unknown key/);
  });

  test("brokers must be host:port", () => {
    const { config, env: e } = env("brokers: [localhost]\n");
    expect(() => parseKafkaConfig(config, e)).toThrow(/brokers\[0\]: must be host:port/);
    expect(() => parseKafkaConfig({ brokers: [] }, { configFile: "k" })).toThrow(/at least one/);
  });

  test("the namespace defaults to 'default' and must fit in topic names", () => {
    expect(namespaceOf({ namespace: "", configFile: "k" })).toBe("default");
    expect(namespaceOf({ namespace: "Team-a-2", configFile: "k" })).toBe("Team-a-2");
    expect(() => namespaceOf({ namespace: "has space", configFile: "k" })).toThrow(/cannot prefix Kafka topic names/);
  });

  test("namespaces with '.' or '_' are refused: `a.b` + `x` would be the topic of `a` + `b.x`", () => {
    expect(namespaceOf({ namespace: "a", configFile: "k" })).toBe("a");
    for (const ns of ["a.b", "a_b", ".a", "a_"]) {
      expect(() => namespaceOf({ namespace: ns, configFile: "k" })).toThrow(/k: namespace: .*cannot prefix Kafka topic names/);
    }
  });
});
