import { describe, expect, test } from "bun:test";
import { parseProxyConfig, type ProxyConfig } from "./config";
import { diffNamespaces, restartOnlyChanges } from "./config_diff";

const parse = (value: Record<string, unknown>): ProxyConfig => parseProxyConfig({ file: "proxy.yaml", value, lineOf: () => undefined }, { patternsDir: "/p" });

describe("configuration diff", () => {
  const before = parse({
    namespaces: [
      { name: "a", pattern: "memstore" },
      { name: "b", pattern: "memstore", config: { max_keys: 1 } },
      { name: "c", address: "127.0.0.1:7000" },
    ],
  });

  test("added, changed, removed and unchanged namespaces; moving an entry in the file changes nothing", () => {
    const after = parse({
      namespaces: [
        { name: "b", pattern: "memstore", config: { max_keys: 2 } },
        { name: "a", pattern: "memstore" },
        { name: "d", pattern: "memstore", replicas: 2 },
      ],
    });
    const d = diffNamespaces(before.namespaces, after.namespaces);
    expect(d.added.map((n) => n.name)).toEqual(["d"]);
    expect(d.changed.map((n) => n.name)).toEqual(["b"]);
    expect(d.removed).toEqual(["c"]);
    expect(d.unchanged).toEqual(["a"]);
  });

  test("replicas, settings and addresses are changes", () => {
    const after = parse({
      namespaces: [
        { name: "a", pattern: "memstore", replicas: 2 },
        { name: "b", pattern: "memstore", config: { max_keys: 1 }, settings: { drain_timeout: "1s" } },
        { name: "c", addresses: ["127.0.0.1:7000", "127.0.0.1:7001"] },
      ],
    });
    expect(diffNamespaces(before.namespaces, after.namespaces).changed.map((n) => n.name)).toEqual(["a", "b", "c"]);
  });

  test("keys only a restart applies are named; namespaces alone are not", () => {
    expect(restartOnlyChanges(before, parse({ namespaces: [{ name: "z", pattern: "memstore" }] }))).toEqual([]);
    const other = parse({ listen: "127.0.0.1:1", limits: { max_connections: 5 }, namespaces: [{ name: "a", pattern: "memstore" }] });
    expect(restartOnlyChanges(before, other)).toEqual(["listen", "limits"]);
  });
});
