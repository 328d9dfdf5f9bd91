import { describe, expect, test } from "bun:test";
import { parseYaml } from "../sdk/config/yaml";
import { parseNatsConfig, servers } from "./config";

const fromYaml = (text: string) => {
  const src = parseYaml(text, "nats.yaml");
  return parseNatsConfig(src.value as Record<string, unknown>, { configFile: "nats.yaml", lineOf: src.lineOf });
};

describe("nats config", () => {
  test("defaults: local server, prompt timeouts, bounded reconnect backoff, file storage", () => {
    const cfg = parseNatsConfig({}, { configFile: "x" });
    expect(cfg.url).toBe("nats://127.0.0.1:4222");
    expect(cfg.request_timeout).toBe(1000);
    expect(cfg.breaker).toEqual({ failure_threshold: 5, open_duration: 1000 });
    expect([cfg.reconnect_wait, cfg.reconnect_max_wait]).toEqual([100, 2000]);
    expect(cfg.subscriber_buffer).toBe(1024);
    expect(cfg.jetstream).toEqual({ replicas: 1, storage: "file", max_age: 0, max_bytes: 0, max_msgs: 0, fetch_bytes: 4 * 1024 * 1024 });
  });

  test("jetstream settings and server lists", () => {
    const cfg = fromYaml("url: nats://a:4222, nats://b:4222\njetstream: { storage: memory, max_age: 1h, replicas: 3 }\n");
    expect(servers(cfg)).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(cfg.jetstream.storage).toBe("memory");
    expect(cfg.jetstream.max_age).toBe(3_600_000);
    expect(cfg.jetstream.replicas).toBe(3);
  });

  test("unknown keys and bad values are errors with the line", () => {
    expect(() => fromYaml("url: nats://a:1\njetstream:\n  storag: memory\n")).toThrow(/nats\.yaml:3: jetstream\.storag: unknown key/);
    expect(() => fromYaml("jetstream: { storage: disk }\n")).toThrow(/must be one of file, memory/);
    expect(() => fromYaml("url: http://a:1\n")).toThrow(/not a NATS server URL/);
    expect(() => fromYaml("reconnect_wait: 5s\nreconnect_max_wait: 1s\n")).toThrow(/reconnect_max_wait: must not be shorter/);
  });
});
