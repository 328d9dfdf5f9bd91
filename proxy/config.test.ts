import { describe, expect, test } from "bun:test";
import { parseYaml } from "../sdk/config/yaml";
import { defaultProxyConfig, parseProxyConfig } from "./config";
import { loadProxySettings } from "./settings";

const defaults = { patternsDir: "/opt/prism" };
const parse = (text: string) => parseProxyConfig(parseYaml(text, "proxy.yaml"), defaults);
const errorOf = (text: string): string => {
  try {
    parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("no error");
};

describe("proxy config", () => {
  test("without a limits block the documented limits are in force, in milliseconds (issue 18 item 5)", () => {
    const limits = parse("namespaces:\n  - name: default\n    pattern: memstore\n").limits;
    expect(limits).toEqual({
      maxConnections: 10_000,
      maxConnectionsPerClient: 1_000,
      idleTimeoutMs: 300_000,
      requestBodyTimeoutMs: 30_000,
      maxStreamsPerConnection: 2_048,
    });
    expect(defaultProxyConfig(defaults).limits.idleTimeoutMs).toBe(300_000);
    const set = parse(
      "limits: { idle_timeout: 2s, request_body_timeout: 500ms, max_connections: 5, max_connections_per_client: 9 }\nnamespaces:\n  - name: a\n    pattern: memstore\n",
    ).limits;
    expect([set.idleTimeoutMs, set.requestBodyTimeoutMs, set.maxConnections, set.maxConnectionsPerClient]).toEqual([2_000, 500, 5, 5]);
  });

  test("the shape of issue 3 parses, with defaults filled in", () => {
    const cfg = parse(`
listen: 127.0.0.1:8980
admin: { port: 9090 }
patterns_dir: ./dist
namespaces:
  - name: default
    pattern: memstore
    config: { max_keys: 100000 }
  - name: cache
    pattern: memstore
  - name: remote
    address: 127.0.0.1:50123
`);
    expect(cfg.listen).toEqual({ host: "127.0.0.1", port: 8980 });
    expect(cfg.adminPort).toBe(9090);
    expect(cfg.patternsDir).toBe("./dist");
    expect(cfg.namespaces.map((n) => [n.name, n.pattern, n.address])).toEqual([
      ["default", "memstore", undefined],
      ["cache", "memstore", undefined],
      ["remote", undefined, "127.0.0.1:50123"],
    ]);
    expect(cfg.namespaces[0]!.config).toEqual({ max_keys: 100000 });
    expect(cfg.namespaces[1]!.settings.healthIntervalMs).toBe(5_000);
    expect(cfg.shutdownTimeoutMs).toBe(30_000);
  });

  test("without a file: namespace default -> memstore on 127.0.0.1:8980, admin 9090", () => {
    const cfg = defaultProxyConfig(defaults);
    expect(cfg.listen).toEqual({ host: "127.0.0.1", port: 8980 });
    expect(cfg.adminPort).toBe(9090);
    expect(cfg.patternsDir).toBe("/opt/prism");
    expect(cfg.namespaces.map((n) => [n.name, n.pattern])).toEqual([["default", "memstore"]]);
  });

  test("settings durations and the slots form are validated", () => {
    const cfg = parse(`
namespaces:
  - name: reg
    pattern: multicast_registry
    slots:
      registry: { driver: redis, config: { url: "redis://127.0.0.1:6379" } }
      messaging: { driver: nats }
    settings: { health_interval: 250ms, start_timeout: 2s }
`);
    const ns = cfg.namespaces[0]!;
    expect(ns.settings.healthIntervalMs).toBe(250);
    expect(ns.settings.startTimeoutMs).toBe(2_000);
    expect(ns.slots).toEqual({ registry: { driver: "redis", config: { url: "redis://127.0.0.1:6379" } }, messaging: { driver: "nats", config: {} } });
  });

  test("unknown keys and wrong types name file, key and line", () => {
    expect(errorOf("namespaces:\n  - name: a\n    pattern: memstore\n    colour: blue\n")).toBe(
      "proxy.yaml:4: namespaces[0].colour: unknown key (known: name, pattern, address, addresses, replicas, config, slots, settings, tls)",
    );
    expect(errorOf("admin:\n  port: nine\nnamespaces: [{name: a, pattern: m}]\n")).toBe('proxy.yaml:2: admin.port: must be a number, got "nine"');
    expect(errorOf("namespaces:\n  - name: a\n    pattern: m\n    settings: { health_interval: soon }\n")).toMatch(
      /^proxy\.yaml:4: namespaces\[0\]\.settings\.health_interval: must be a duration/,
    );
    expect(errorOf("namespaces:\n  - name: a\n    pattern: m\n    slots: { kv: { config: {} } }\n")).toMatch(/namespaces\[0\]\.slots\.kv\.driver: is required/);
  });

  test("namespace rules: exactly one of pattern/address, unique names, reserved namespace key", () => {
    expect(errorOf("namespaces:\n  - name: a\n")).toMatch(/^proxy\.yaml:2: namespaces\[0\]: needs exactly one of `pattern`/);
    expect(errorOf("namespaces:\n  - name: a\n    pattern: m\n    address: 127.0.0.1:1\n")).toMatch(/needs exactly one of/);
    expect(errorOf("namespaces:\n  - name: a\n    pattern: m\n  - name: a\n    pattern: m\n")).toBe(
      'proxy.yaml:4: namespaces[1].name: namespace "a" is configured twice',
    );
    expect(errorOf("namespaces:\n  - name: a\n    pattern: m\n    config: { namespace: b }\n")).toMatch(
      /^proxy\.yaml:4: namespaces\[0\]\.config\.namespace: is reserved/,
    );
    expect(errorOf("namespaces:\n  - name: a\n    address: nowhere\n")).toBe('proxy.yaml:3: namespaces[0].address: must be host:port, got "nowhere"');
    expect(errorOf("namespaces:\n  - name: a\n    pattern: ../bin/sh\n")).toMatch(/namespaces\[0\]\.pattern: must be an executable name/);
    expect(errorOf("namespaces: []\n")).toMatch(/must list at least one namespace/);
    expect(errorOf("listen: 8980\nnamespaces: [{name: a, pattern: m}]\n")).toMatch(/listen: must be/);
  });

  test("two namespaces on one address are refused, naming both and their lines (they would share one key space)", () => {
    expect(
      errorOf("namespaces:\n  - name: a\n    address: 127.0.0.1:7000\n  - name: b\n    address: 127.0.0.1:7001\n  - name: c\n    address: localhost:7000\n"),
    ).toBe(
      'proxy.yaml:7: namespaces[2].address: namespace "c" and namespace "a" (namespaces[0], line 3) both use address 127.0.0.1:7000: ' +
        "one pattern initialized for two namespaces would share one key space; give each namespace its own pattern",
    );
    expect(errorOf("namespaces:\n  - name: a\n    address: :7000\n  - name: b\n    address: 127.0.0.1:7000\n")).toMatch(
      /^proxy\.yaml:5: namespaces\[1\]\.address: namespace "b" and namespace "a"/,
    );
    expect(parse("namespaces:\n  - name: a\n    address: 127.0.0.1:7000\n  - name: b\n    address: 127.0.0.1:7001\n").namespaces).toHaveLength(2);
  });

  test("replicas: N launched instances; addresses: one remote instance each, no address twice", () => {
    const cfg = parse(
      "namespaces:\n  - name: a\n    pattern: memstore\n    replicas: 3\n  - name: b\n    addresses: [127.0.0.1:7000, 127.0.0.1:7001]\n  - name: c\n    pattern: memstore\n",
    );
    expect(cfg.namespaces.map((n) => n.replicas)).toEqual([3, 2, 1]);
    expect(cfg.namespaces[1]!.addresses).toEqual(["127.0.0.1:7000", "127.0.0.1:7001"]);
    expect(cfg.namespaces[1]!.address).toBe("127.0.0.1:7000");
    expect(errorOf("namespaces:\n  - name: a\n    pattern: m\n    replicas: 0\n")).toMatch(/^proxy\.yaml:4: namespaces\[0\]\.replicas: /);
    expect(errorOf("namespaces:\n  - name: a\n    address: 127.0.0.1:1\n    replicas: 2\n")).toBe(
      "proxy.yaml:4: namespaces[0].replicas: applies to a launched pattern (pattern:); list the instances of a remote one under addresses:",
    );
    expect(errorOf("namespaces:\n  - name: a\n    address: 127.0.0.1:1\n    addresses: [127.0.0.1:2]\n")).toMatch(/needs exactly one of/);
    expect(errorOf("namespaces:\n  - name: a\n    addresses: []\n")).toMatch(/namespaces\[0\]\.addresses: must list at least one/);
    expect(errorOf("namespaces:\n  - name: a\n    addresses: [127.0.0.1:7000, localhost:7000]\n")).toMatch(
      /^proxy\.yaml:3: namespaces\[0\]\.addresses\[1\]: namespace "a" lists address 127\.0\.0\.1:7000 twice/,
    );
    const tls = parse("namespaces:\n  - name: a\n    addresses: [127.0.0.1:7000, 127.0.0.1:7001]\n    tls: { ca_file: /ca.crt, server_name: pattern }\n");
    expect(tls.namespaces[0]!.remote?.tls).toMatchObject({ caFile: "/ca.crt", serverName: "pattern" });
    expect(errorOf("namespaces:\n  - name: a\n    addresses: [127.0.0.1:7000]\n  - name: b\n    address: 127.0.0.1:7000\n")).toMatch(
      /namespace "b" and namespace "a" .* both use address/,
    );
  });

  test("slots on a remote namespace are refused: they could only be checked after Initialize had handed them to its drivers", () => {
    expect(errorOf("namespaces:\n  - name: a\n    address: 127.0.0.1:7000\n    slots:\n      kv: { driver: redis }\n")).toMatch(
      /^proxy\.yaml:4: namespaces\[0\]\.slots: cannot be checked for a remote pattern \(address:\) before Initialize/,
    );
  });

  test("flags override the file, then PRISM_* environment", async () => {
    const s = await loadProxySettings(["--listen", "127.0.0.1:0", "--log-format", "text"], {
      PRISM_ADMIN_PORT: "0",
      PRISM_DEBUG: "true",
      PRISM_LISTEN: "127.0.0.1:1",
    });
    expect(s.config.listen).toEqual({ host: "127.0.0.1", port: 0 });
    expect(s.config.adminPort).toBe(0);
    expect(s.debug).toBe(true);
    expect(s.logFormat).toBe("text");
    expect(s.config.namespaces[0]!.name).toBe("default");
    await expect(loadProxySettings(["--admin-port", "x"], {})).rejects.toThrow(/--admin-port: must be a port/);
    await expect(loadProxySettings(["--bogus"], {})).rejects.toThrow(/Unknown option '--bogus'/);
    await expect(loadProxySettings(["--trace-exporter", "jaeger"], {})).rejects.toThrow(/must be one of stdout, otlp, none/);
  });
});
