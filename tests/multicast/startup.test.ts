import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startProcess } from "../helpers/process";

// A driver that lacks an interface its slot requires is refused at start-up, run directly or by the proxy,
// with a message naming the slot, the driver and the missing interface, and exit code 1.

function tempConfig(name: string, config: unknown): { file: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "prism-mcast-startup-"));
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config));
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

describe("multicast registry start-up refusal", () => {
  test("run directly: registry slot on NATS (no keyvalue_basic, keyvalue_scan) exits 1 naming slot, driver, interface", async () => {
    const cfg = tempConfig("mr.yaml", { slots: { registry: { driver: "nats" }, messaging: { driver: "memstore" } } });
    try {
      const p = startProcess([join(ROOT, "dist", "multicast-registry"), "--config", cfg.file, "--grpc-port", "0"]);
      expect(await p.exited).toBe(1);
      expect(p.output()).toContain(
        'slots.registry.driver: slot \\"registry\\": driver \\"nats\\" does not implement required interface keyvalue_basic, keyvalue_scan',
      );
      expect(p.output()).not.toContain("grpc listening");
    } finally {
      cfg.cleanup();
    }
  }, 30_000);

  test("run directly: a required slot left empty and a driver not built in are refused too", async () => {
    for (const [slots, message] of [
      [{ registry: { driver: "memstore" } }, 'slot \\"messaging\\" of pattern multicast-registry is required (needs pubsub_basic)'],
      [
        { registry: { driver: "memcached" }, messaging: { driver: "memstore" } },
        'slot \\"registry\\": driver \\"memcached\\" is not built into pattern multicast-registry',
      ],
    ] as const) {
      const cfg = tempConfig("mr.yaml", { slots });
      try {
        const p = startProcess([join(ROOT, "dist", "multicast-registry"), "--config", cfg.file, "--grpc-port", "0"]);
        expect(await p.exited).toBe(1);
        expect(p.output()).toContain(message);
      } finally {
        cfg.cleanup();
      }
    }
  }, 30_000);

  test("through the proxy: durability on PostgreSQL (no stream_basic) is refused before Initialize; the proxy exits 1", async () => {
    const cfg = tempConfig("proxy.yaml", {
      listen: "127.0.0.1:0",
      admin: { port: 0 },
      patterns_dir: join(ROOT, "dist"),
      namespaces: [
        {
          name: "mc-refused",
          pattern: "multicast-registry",
          slots: {
            registry: { driver: "memstore" },
            messaging: { driver: "memstore" },
            durability: { driver: "postgres", config: { host: "127.0.0.1", port: 1 } },
          },
          settings: { start_timeout: "30s" },
        },
      ],
    });
    try {
      const p = startProcess([join(ROOT, "dist", "proxy"), "--config", cfg.file]);
      const code = await p.exited;
      expect(code).toBe(1);
      expect(p.output()).toContain('slot \\"durability\\": driver \\"postgres\\" does not implement required interface stream_basic');
    } finally {
      cfg.cleanup();
    }
  }, 60_000);
});
