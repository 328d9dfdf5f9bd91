/**
 * Readiness that tells the truth: a pattern whose backend freezes goes NOT_SERVING (grpc.health.v1, pushed on
 * Watch) and /ready 503; the proxy marks the namespace within about a second (/ready?namespace=, Health.Check
 * with the namespace as service) while its own /ready ("can route") stays 200; all come back on thaw — within
 * about a second, even when the outage opened the pattern's breaker (open for 30 s here) and the proxy's last
 * health poll (every 3 s here) saw the backend down.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HealthCheckResponse_ServingStatus as Serving } from "../../proto/gen/grpc/health/v1/health_pb";
import { startOwnRedis, uniqueNamespace, type OwnRedis } from "../redis/harness";
import { clientsFor, startProxy, type StartedProxy } from "../proxy/harness";
import { Load } from "./load";

const status = async (url: string) => (await fetch(url)).status;

async function timeUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (await check()) return performance.now() - t0;
    await Bun.sleep(25);
  }
  return Infinity;
}

describe("readiness follows the backend (redis frozen with SIGSTOP, through the proxy)", () => {
  let own: OwnRedis;
  let proxy: StartedProxy;
  const ns = "cache";

  beforeAll(async () => {
    own = await startOwnRedis();
    proxy = await startProxy(
      JSON.stringify({
        namespaces: [
          {
            name: ns,
            pattern: "redis",
            config: { address: own.address, key_prefix: `${uniqueNamespace("ready")}:`, breaker: { open_duration: "30s" } },
            settings: { health_interval: "3s" },
          },
          { name: "other", pattern: "memstore" },
        ],
      }),
    );
  }, 60_000);

  afterAll(async () => {
    own?.resume();
    await proxy?.stop(20_000);
    proxy?.cleanup();
    await own?.destroy();
  });

  test("NOT_SERVING / 503 within about a second of the freeze, pushed on Watch; the proxy keeps routing; ready again within about a second of the thaw", async () => {
    const c = clientsFor(proxy.address, ns);
    const load = new Load(4, async (seq) => void (await c.kv.set({ key: `k${seq}`, value: new Uint8Array([1]) }, c.opts({ timeoutMs: 10_000 }))), 20);
    try {
      await c.kv.set({ key: "k", value: new Uint8Array([1]) }, c.opts());
      expect(await timeUntil(async () => (await status(`${proxy.admin}/ready?namespace=${ns}`)) === 200, 10_000)).toBeLessThan(10_000);
      const pushed: Serving[] = [];
      const ac = new AbortController();
      const watching = (async () => {
        try {
          for await (const r of c.health.watch({ service: ns }, c.opts({ signal: ac.signal, timeoutMs: 60_000 }))) pushed.push(r.status);
        } catch {
          // cancelled at the end
        }
      })();
      // Writes keep going through the freeze: their failures open the pattern's breaker.
      load.start();

      own.pause();
      // health_interval is 3 s here: only the pattern's Watch can make the proxy see it this fast.
      const notReadyMs = await timeUntil(async () => (await status(`${proxy.admin}/ready?namespace=${ns}`)) === 503, 10_000);
      expect(notReadyMs).toBeLessThan(3_000);
      expect((await c.health.check({ service: ns }, c.opts())).status).toBe(Serving.NOT_SERVING);
      expect(await status(`${proxy.admin}/ready`)).toBe(200);
      expect(await status(`${proxy.admin}/ready?namespace=other`)).toBe(200);
      expect((await c.health.check({ service: "" }, c.opts())).status).toBe(Serving.SERVING);
      // The proxy's own health poll has seen the backend down too (its last report is UNHEALTHY).
      expect(await timeUntil(async () => (await proxy.pattern(ns)).health?.status === "UNHEALTHY", 10_000)).toBeLessThan(10_000);
      const breakerOpen = (await proxy.pattern(ns)).health?.details.circuit;

      own.resume();
      const thawAt = performance.now() - load.t0;
      const readyMs = await timeUntil(async () => (await status(`${proxy.admin}/ready?namespace=${ns}`)) === 200, 20_000);
      const wrote = await timeUntil(async () => load.records.some((r) => r.t >= thawAt && r.code === 0), 20_000);
      await load.stop();
      ac.abort();
      await watching;
      console.log(
        `readiness: namespace not ready ${notReadyMs.toFixed(0)} ms after the freeze (breaker ${breakerOpen}), ready ${readyMs.toFixed(0)} ms after the thaw; writes again after ${wrote.toFixed(0)} ms`,
      );
      expect(breakerOpen).toBe("open");
      expect(pushed).toContain(Serving.NOT_SERVING);
      expect(pushed.at(-1)).toBe(Serving.SERVING);
      // About a second: the pattern re-checks every 250 ms (its health bound is 500 ms); slack for a loaded machine.
      expect(readyMs).toBeLessThan(2_000);
      expect(wrote).toBeLessThan(2_000);
    } finally {
      await load.stop();
      c.close();
    }
  }, 60_000);
});
