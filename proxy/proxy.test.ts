/**
 * The whole proxy in this process (its black-box suites run dist/proxy, which coverage cannot see): a launched
 * memstore and a remote one, calls relayed to both, the admin /patterns view, a launched pattern killed and
 * restarted by its supervisor, health and reflection answered by the proxy itself, then shutdown.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@prism/sdk";
import { startPattern, type StartedPattern } from "../tests/helpers/process";
import { clientsFor, eventually, type PatternSnapshot } from "../tests/proxy/harness";
import { Proxy, type ProxyAddresses } from "./proxy";
import { loadProxySettings } from "./settings";

const ROOT = join(import.meta.dir, "..");
const utf8 = (s: string) => new TextEncoder().encode(s);

describe("the proxy, in process", () => {
  let dir: string;
  let remote: StartedPattern;
  let proxy: Proxy;
  let at: ProxyAddresses;
  let local: ReturnType<typeof clientsFor>;
  let far: ReturnType<typeof clientsFor>;
  const patterns = async (): Promise<PatternSnapshot[]> => (await (await fetch(`${at.admin}/patterns`)).json()) as PatternSnapshot[];
  const pattern = async (ns: string) => (await patterns()).find((p) => p.namespace === ns)!;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "prism-proxy-inproc-"));
    remote = await startPattern("memstore");
    const file = join(dir, "proxy.yaml");
    writeFileSync(
      file,
      `namespaces:
  - name: local
    pattern: memstore
    settings: { health_interval: 200ms, restart_initial_delay: 50ms, restart_max_delay: 200ms }
  - name: far
    address: ${remote.address}
    settings: { health_interval: 200ms, restart_initial_delay: 50ms, restart_max_delay: 200ms }
`,
    );
    const settings = await loadProxySettings(["--config", file, "--listen", "127.0.0.1:0", "--admin-port", "0", "--patterns-dir", join(ROOT, "dist")], {});
    proxy = new Proxy(settings, createLogger({ level: "error", format: "json", fields: { component: "proxy-test" } }));
    at = await proxy.start();
    local = clientsFor(at.listen, "local");
    far = clientsFor(at.listen, "far");
  }, 30_000);

  afterAll(async () => {
    local?.close();
    far?.close();
    await proxy?.shutdown();
    await remote?.stop(2_000);
    rmSync(dir, { recursive: true, force: true });
  });

  test("relays to a launched and a remote pattern, each namespace its own", async () => {
    await local.kv.set({ key: "k", value: utf8("local") }, local.opts());
    await far.kv.set({ key: "k", value: utf8("far") }, far.opts());
    expect(new TextDecoder().decode((await local.kv.get({ key: "k" }, local.opts())).value)).toBe("local");
    expect(new TextDecoder().decode((await far.kv.get({ key: "k" }, far.opts())).value)).toBe("far");
    expect((await pattern("local")).mode).toBe("launched");
    expect((await pattern("far")).mode).toBe("remote");
    expect((await pattern("far")).status).toBe("serving");
  });

  test("health of the proxy and of each namespace, answered by the proxy", async () => {
    expect((await local.health.check({ service: "" }, local.opts())).status).toBe(1);
    expect((await local.health.check({ service: "local" }, local.opts())).status).toBe(1);
  });

  test("a launched pattern killed is restarted by its supervisor, and serves again", async () => {
    const before = await pattern("local");
    expect(before.pid).toBeGreaterThan(0);
    process.kill(before.pid!, "SIGKILL");
    await eventually(
      async () => {
        const p = await pattern("local");
        return p.status === "serving" && p.pid !== before.pid && p.restarts > before.restarts;
      },
      "the supervisor restarts the pattern",
      15_000,
    );
    await local.kv.set({ key: "again", value: utf8("v") }, local.opts());
    expect((await local.kv.get({ key: "again" }, local.opts())).found).toBe(true);
  }, 30_000);
});
