/** The emulation counter hook (with prom-client's Counter) and the connection's counters in the Prometheus text format. */
import { expect, test } from "bun:test";
import { Counter, Registry } from "prom-client";
import { countEmulated, prometheusText } from "./metrics";
import { Stats } from "./pattern";

test("countEmulated counts emulated operations by pattern, operation and backend, and passes every event on", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "app_prism_emulated_total", help: "h", labelNames: ["pattern", "operation", "backend"], registers: [registry] });
  const seen: string[] = [];
  const hook = countEmulated(counter, (e) => seen.push(e.kind));
  hook({ kind: "emulated", pattern: "keyValue", operation: "scan", backend: "redis", how: "x" });
  hook({ kind: "emulated", pattern: "keyValue", operation: "scan", backend: "redis", how: "x" });
  hook({ kind: "emulated", pattern: "queue", operation: "dead letters", backend: "nats", how: "x" });
  hook({ kind: "failover", from: "a", to: "b", error: undefined as never });
  const text = await registry.metrics();
  expect(text).toContain('app_prism_emulated_total{pattern="keyValue",operation="scan",backend="redis"} 2');
  expect(text).toContain('app_prism_emulated_total{pattern="queue",operation="dead letters",backend="nats"} 1');
  expect(seen).toEqual(["emulated", "emulated", "emulated", "failover"]);
});

test("prometheusText renders the Stats counters", () => {
  const stats = new Stats();
  stats.count({ kind: "emulated", pattern: "session", operation: "sliding expiry", backend: "postgres", how: "x" });
  stats.count({ kind: "retry", method: "m", attempt: 1, error: undefined as never, delayMs: 1 });
  stats.count({ kind: "resubscribe", method: "m", attempt: 1, error: undefined as never });
  const text = prometheusText(stats);
  expect(text).toContain('\nprism_client_emulated_operations_total{pattern="session",operation="sliding expiry"} 1\n');
  expect(text).toContain("\nprism_client_retries_total 1\n");
  expect(text).toContain("\nprism_client_failovers_total 0\n");
  expect(text).toContain("\nprism_client_resubscriptions_total 1\n");
});
