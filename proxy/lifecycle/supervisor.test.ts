import { afterEach, describe, expect, test } from "bun:test";
import { parseYaml } from "../../sdk/config/yaml";
import { createLogger } from "../../sdk/observability/logger";
import { ATTACKS, type HostileServer, lifecycleScript, startHostileServer } from "../../tests/helpers/hostile_h2_server";
import { parseProxyConfig } from "../config";
import { ProxyMetrics } from "../metrics";
import { PatternInstance } from "../pattern_registry";
import { RemoteSupervisor } from "./supervisor";

let server: HostileServer | undefined;
let supervisor: RemoteSupervisor | undefined;

afterEach(async () => {
  await supervisor?.stop("test over", Date.now() + 2_000);
  supervisor = undefined;
  await server?.close();
  server = undefined;
});

function remoteSupervisor(address: string): RemoteSupervisor {
  const cfg = parseProxyConfig(
    parseYaml(
      `namespaces:
  - name: hostile
    address: ${address}
    settings: { health_interval: 200ms, restart_initial_delay: 50ms, restart_max_delay: 200ms }
`,
      "proxy.yaml",
    ),
    { patternsDir: "/nonexistent" },
  );
  const ns = cfg.namespaces[0]!;
  const metrics = new ProxyMetrics("test");
  const instance = new PatternInstance(ns.name, address, "remote", metrics.namespace(ns.name, address));
  return new RemoteSupervisor(instance, { cfg, ns, metrics, logger: createLogger({ write: () => undefined }) });
}

describe("RemoteSupervisor", () => {
  test("a pattern that breaks HTTP/2 on every health connection is re-Initialized about once a second, not at restart_initial_delay", async () => {
    // Lifecycle calls answered well; the health Watch (every other call) answered with a connection error.
    server = await startHostileServer({ onRequest: lifecycleScript(() => ATTACKS.pingWrongLength) });
    const s = server;
    supervisor = remoteSupervisor(s.address);
    await supervisor.start();
    const watched = () => s.connections.filter((c) => c.requests.some((r) => r.path.endsWith("/Watch"))).length;
    const deadline = Date.now() + 5_000;
    while (watched() === 0 && Date.now() < deadline) await Bun.sleep(10);
    // A bounded wait by design: count the health connections the pattern gets to attack in 1.5 s (a slow machine
    // only makes fewer). Re-Initialized every restart_initial_delay (50 ms), it got about 25.
    const first = performance.now();
    while (performance.now() - first < 1_500) await Bun.sleep(50);
    expect(watched()).toBeLessThanOrEqual(3);
    expect(supervisor.instance.lastError).toMatch(/broke HTTP\/2/);
  }, 15_000);
});
