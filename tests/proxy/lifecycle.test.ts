/**
 * Seed 000's proxy ↔ pattern lifecycle tests, through the real proxy: it launches
 * dist/memstore, drives Initialize → Start → HealthCheck over the control stream,
 * forwards data calls, and stops the pattern on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { HealthCheckResponse_ServingStatus } from "../../proto/gen/grpc/health/v1/health_pb";
import { HealthStatus } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { clientsFor, eventually, killIfAlive, pidAlive, startProxy, text, utf8, type StartedProxy } from "./harness";

const CONFIG = `
namespaces:
  - name: default
    pattern: memstore
    config: { max_keys: 5000 }
    settings: { health_interval: 200ms }
`;

describe("proxy-pattern lifecycle (seed 000)", () => {
  test("full lifecycle: Initialize (name, version), Start, HealthCheck with key count, Set/Get, Stop, clean exit", async () => {
    const proxy = await startProxy(CONFIG);
    const c = clientsFor(proxy.address);
    let pid: number | null = null;
    let socket = "";
    try {
      // Initialize answered with the pattern's metadata; Start gave a data endpoint.
      const p = await proxy.pattern("default");
      pid = p.pid;
      expect(p.status).toBe("serving");
      expect(p.mode).toBe("launched");
      expect(p.metadata?.name).toBe("memstore");
      expect(p.metadata?.version).toBe("0.1.0");
      expect(p.metadata?.interfaces).toContain("prism.interfaces.keyvalue.KeyValueBasicInterface");
      // A launched pattern serves on a Unix socket in a directory only the proxy's user can open, and on no TCP port.
      expect(p.endpoint).toMatch(/^unix:\/.+\.sock$/);
      socket = p.endpoint!.slice("unix:".length);
      expect(statSync(socket).isSocket()).toBe(true);
      expect(statSync(dirname(socket)).mode & 0o777).toBe(0o700);
      expect(proxy.output()).toContain(`memstore grpc listening on ${p.endpoint}`);
      expect(pid).toBeGreaterThan(0);
      expect(pidAlive(pid!)).toBe(true);

      const h0 = await c.lifecycle.healthCheck({}, c.opts());
      expect(h0.status).toBe(HealthStatus.HEALTHY);
      expect(h0.details.keys).toBe("0");
      expect(h0.details.max_keys).toBe("5000");

      expect((await c.kv.set({ key: "lifecycle", value: utf8("works") }, c.opts())).success).toBe(true);
      const got = await c.kv.get({ key: "lifecycle" }, c.opts());
      expect(got.found).toBe(true);
      expect(text(got.value)).toBe("works");
      expect((await c.lifecycle.healthCheck({}, c.opts())).details.keys).toBe("1");
    } finally {
      c.close();
      // Stop: SIGTERM → Drain + Stop over the control stream → the pattern exits 0, then the proxy.
      const code = await proxy.stop(15_000);
      proxy.cleanup();
      killIfAlive([pid]);
      expect(code).toBe(0);
    }
    expect(proxy.output()).toMatch(/"msg":"pattern stopped"[^\n]*"exit_code":0/);
    expect(pidAlive(pid!)).toBe(false);
    // The socket directory goes with the proxy.
    expect(existsSync(dirname(socket))).toBe(false);
  });

  describe("with one proxy", () => {
    let proxy: StartedProxy;
    beforeAll(async () => {
      proxy = await startProxy(CONFIG);
    });
    afterAll(async () => {
      const pid = (await proxy?.pattern("default").catch(() => undefined))?.pid;
      await proxy?.stop();
      proxy?.cleanup();
      killIfAlive([pid]);
    });

    test("debug info: 10 sets → health details keys=10 (live through the proxy and in /patterns)", async () => {
      const c = clientsFor(proxy.address);
      try {
        for (let i = 0; i < 10; i++) await c.kv.set({ key: `debug-${i}`, value: utf8(`v${i}`) }, c.opts());
        const h = await c.lifecycle.healthCheck({}, c.opts());
        expect(h.status).toBe(HealthStatus.HEALTHY);
        expect(h.details.keys).toBe("10");
        // The proxy's own periodic HealthCheck over the control stream sees the same.
        await eventually(async () => (await proxy.pattern("default")).health?.details.keys === "10", "/patterns shows keys=10", 5_000);
        const p = await proxy.pattern("default");
        expect(p.health?.status).toBe("HEALTHY");
        expect(p.health?.details.max_keys).toBe("5000");
      } finally {
        c.close();
      }
    });

    test("5 concurrent clients × 3 health checks all succeed", async () => {
      const clients = Array.from({ length: 5 }, () => clientsFor(proxy.address));
      try {
        const results = await Promise.all(
          clients.map(async (c) => {
            const statuses: HealthStatus[] = [];
            for (let i = 0; i < 3; i++) statuses.push((await c.lifecycle.healthCheck({}, c.opts())).status);
            const overall = await c.health.check({ service: "" }, c.opts());
            return { statuses, overall: overall.status };
          }),
        );
        expect(results).toHaveLength(5);
        for (const r of results) {
          expect(r.statuses).toEqual([HealthStatus.HEALTHY, HealthStatus.HEALTHY, HealthStatus.HEALTHY]);
          expect(r.overall).toBe(HealthCheckResponse_ServingStatus.SERVING);
        }
      } finally {
        for (const c of clients) c.close();
      }
    });
  });
});
