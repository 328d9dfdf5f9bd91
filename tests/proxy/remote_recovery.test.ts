/**
 * A remote pattern (`address:`) that restarts or comes back, with the default settings (health every 5 s,
 * restart_max_delay 30 s): a quick restart is a new process that must be Initialized again, and a pattern back
 * after an outage serves again within about a second of answering, not after backoffs stacked to tens of seconds.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakePattern, type FakePattern } from "./fake_pattern";
import { clientsFor, eventually, startProxy, type StartedProxy } from "./harness";

describe("a remote pattern that restarts", () => {
  let fake: FakePattern;
  let proxy: StartedProxy;
  let c: ReturnType<typeof clientsFor>;
  beforeAll(async () => {
    fake = await startFakePattern();
    proxy = await startProxy(`
namespaces:
  - name: remote
    address: ${fake.address}
    config: { flavour: vanilla }
`);
    c = clientsFor(proxy.address, "remote");
  }, 30_000);
  afterAll(async () => {
    c?.close();
    await proxy?.stop();
    proxy?.cleanup();
    fake?.stop();
  });

  test("restarted at once on its address, it is Initialized again with the namespace's config", async () => {
    expect((await c.kv.get({ key: "k" }, c.opts())).found).toBe(true);
    const port = fake.port;
    fake.stop();
    fake = await startFakePattern(port);
    // No health check failed in between (one every 5 s): the dropped connection is what tells the proxy.
    await eventually(() => fake.initConfigs.length > 0, "the new process is Initialized", 5_000);
    expect(fake.initConfigs[0]).toEqual({ flavour: "vanilla", namespace: "remote" });
    await eventually(async () => (await proxy.pattern("remote")).status === "serving", "serving", 5_000);
    expect((await c.kv.get({ key: "k" }, c.opts())).found).toBe(true);
  }, 20_000);

  test("back after an 8 s outage, it serves again within about a second (bounded retries, no stacked backoff)", async () => {
    const port = fake.port;
    fake.stop();
    await eventually(async () => (await proxy.pattern("remote")).status === "unavailable", "the proxy notices", 5_000);
    await Bun.sleep(8_000); // the outage itself: long enough for unbounded backoffs to grow past several seconds
    fake = await startFakePattern(port);
    const back = Date.now();
    await eventually(async () => (await proxy.pattern("remote")).status === "serving", "serving again", 20_000, 20);
    const ms = Date.now() - back;
    console.log(`remote pattern serving again ${ms} ms after it answered`);
    // REMOTE_RETRY_MAX_MS (1 s) for the supervisor and the lifecycle channel each, plus scheduling noise.
    expect(ms).toBeLessThan(3_500);
    expect((await c.kv.get({ key: "k" }, c.opts())).found).toBe(true);
  }, 40_000);
});
