import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseYaml } from "../sdk/config/yaml";
import { parseHostPort, parseRedisConfig, parseRedisUrl } from "./config";

const origin = { configFile: "test.yaml", namespace: "orders" };

function parseText(text: string, namespace = "orders") {
  const src = parseYaml(text, "pattern.yaml");
  return parseRedisConfig(src.value as Record<string, unknown>, { configFile: "pattern.yaml", lineOf: src.lineOf, namespace });
}

describe("parseRedisConfig", () => {
  test("defaults: local standalone server, namespace prefix, bounded timeouts", () => {
    const c = parseRedisConfig({}, origin);
    expect(c.mode).toBe("standalone");
    expect(c.nodes).toEqual([{ host: "127.0.0.1", port: 6379 }]);
    expect(c.db).toBe(0);
    expect(c.tls).toBeUndefined();
    expect(c.keyPrefix).toBe("orders:");
    expect(c.connectTimeoutMs).toBe(2000);
    expect(c.commandTimeoutMs).toBe(1000);
    expect(c.retry).toEqual({ maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 200 });
    expect(c.breaker).toEqual({ failureThreshold: 5, openDurationMs: 2000 });
  });

  test("an empty namespace gets the default prefix; key_prefix overrides, even with an empty string", () => {
    expect(parseRedisConfig({}, { ...origin, namespace: "" }).keyPrefix).toBe("default:");
    expect(parseRedisConfig({ key_prefix: "app/" }, origin).keyPrefix).toBe("app/");
    expect(parseRedisConfig({ key_prefix: "" }, origin).keyPrefix).toBe("");
  });

  test("host:port, bare host and IPv6 addresses", () => {
    expect(parseRedisConfig({ address: "10.0.0.5:6400" }, origin).nodes).toEqual([{ host: "10.0.0.5", port: 6400 }]);
    expect(parseRedisConfig({ address: "cache" }, origin).nodes).toEqual([{ host: "cache", port: 6379 }]);
    expect(parseRedisConfig({ address: "[::1]:7001" }, origin).nodes).toEqual([{ host: "::1", port: 7001 }]);
  });

  test("redis:// URL carries credentials and db; explicit keys win", () => {
    const c = parseRedisConfig({ address: "redis://app:s%40cret@127.0.0.1:6380/3" }, origin);
    expect(c.nodes).toEqual([{ host: "127.0.0.1", port: 6380 }]);
    expect(c).toMatchObject({ username: "app", password: "s@cret", db: 3 });
    expect(c.tls).toBeUndefined();
    expect(parseRedisConfig({ address: "redis://:pw@h/3", db: 5, password: "other" }, origin)).toMatchObject({ db: 5, password: "other" });
    expect(parseRedisConfig({ address: "rediss://h:6390" }, origin).tls).toEqual({});
  });

  test("cluster seeds switch to cluster mode", () => {
    const c = parseRedisConfig({ cluster: ["127.0.0.1:7000", "127.0.0.1:7001"] }, origin);
    expect(c.mode).toBe("cluster");
    expect(c.nodes).toEqual([
      { host: "127.0.0.1", port: 7000 },
      { host: "127.0.0.1", port: 7001 },
    ]);
  });

  test("durations and nested retry/breaker settings", () => {
    const c = parseRedisConfig(
      { command_timeout: "250ms", connect_timeout: 1, retry: { max_attempts: 1 }, breaker: { failure_threshold: 2, open_duration: "500ms" } },
      origin,
    );
    expect(c.commandTimeoutMs).toBe(250);
    expect(c.connectTimeoutMs).toBe(1000);
    expect(c.retry.maxAttempts).toBe(1);
    expect(c.breaker).toEqual({ failureThreshold: 2, openDurationMs: 500 });
  });

  test("tls: true, or a map of PEM files and servername", () => {
    expect(parseRedisConfig({ tls: true }, origin).tls).toEqual({});
    expect(parseRedisConfig({ tls: false }, origin).tls).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), "prism-redis-tls-"));
    writeFileSync(join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n");
    const c = parseRedisConfig({ tls: { ca: join(dir, "ca.pem"), servername: "redis.internal" } }, origin);
    expect(c.tls?.ca).toContain("BEGIN CERTIFICATE");
    expect(c.tls?.servername).toBe("redis.internal");
  });

  test("errors name the key and the line", () => {
    expect(() => parseText("address: 127.0.0.1:6379\nportt: 1\n")).toThrow(/pattern\.yaml:2: portt: unknown key/);
    expect(() => parseText("db: -1\n")).toThrow(/db: must be at least 0/);
    expect(() => parseText("command_timeout: soon\n")).toThrow(/command_timeout: must be a duration/);
    expect(() => parseText("address: 'redis://h/x'\n")).toThrow(/pattern\.yaml:1: address: must be host:port or redis:/);
    expect(() => parseText("cluster:\n  - 127.0.0.1:7000\n  - 'bad host:x'\n")).toThrow(/pattern\.yaml:3: cluster\[1\]: must be host:port/);
    expect(() => parseText("address: h:1\ncluster: [h:2]\n")).toThrow(/address: set either address or cluster/);
    expect(() => parseText("cluster: [h:2]\ndb: 1\n")).toThrow(/db: Redis Cluster has only database 0/);
    expect(() => parseText("tls:\n  cafile: x\n")).toThrow(/pattern\.yaml:2: tls\.cafile: unknown key/);
    expect(() => parseText("tls:\n  ca: /nonexistent/ca.pem\n")).toThrow(/tls\.ca: cannot read \/nonexistent\/ca\.pem/);
    expect(() => parseText("tls: yes please\n")).toThrow(/tls: must be true, false or a map/);
    expect(() => parseText("retry:\n  attempts: 2\n")).toThrow(/retry\.attempts: unknown key/);
  });
});

describe("address parsing", () => {
  test("parseHostPort rejects what is not host:port", () => {
    expect(parseHostPort("h:0")).toBeUndefined();
    expect(parseHostPort("h:70000")).toBeUndefined();
    expect(parseHostPort("h:port")).toBeUndefined();
    expect(parseHostPort("a b:1")).toBeUndefined();
    expect(parseHostPort("")).toBeUndefined();
  });

  test("parseRedisUrl rejects paths that are not a db number and query strings", () => {
    expect(parseRedisUrl("redis://h/abc")).toBeUndefined();
    expect(parseRedisUrl("redis://h:1?timeout=3")).toBeUndefined();
    expect(parseRedisUrl("redis://h")).toMatchObject({ node: { host: "h", port: 6379 }, tls: false });
  });
});
