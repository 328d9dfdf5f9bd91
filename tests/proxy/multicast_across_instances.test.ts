/**
 * Stateful patterns across instances (issue 24 item 3), the Multicast Registry: two dist/multicast-registry
 * processes of one namespace over the shared Redis (registry) and NATS (messaging). An identity registered and
 * subscribed through instance A receives a multicast sent through instance B, and the other way round; each
 * instance enumerates the identities registered through the other. Then the same through the proxy with
 * `replicas: 2`: the two Subscribe streams land on different instances (least outstanding calls), and every
 * multicast reaches both, whichever instance it went to.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { MulticastRegistryPattern } from "../../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { createClient } from "../../sdk/grpc/client";
import { configuredPattern, type ConfiguredPattern } from "../helpers/process";
import { natsUrl, requireService } from "../helpers/services";
import { waitFor } from "../helpers/wait";
import { deletePrefix, sharedRedisAddress } from "../redis/harness";
import { killIfAlive, requireBuilt, startProxy, type PatternSnapshot } from "./harness";

const dec = new TextDecoder();

describe("Multicast Registry: two instances, shared Redis and NATS", () => {
  const ns = `mc-across-${randomBytes(4).toString("hex")}`;
  const instances: ConfiguredPattern[] = [];
  let redisAddress: string;

  beforeAll(async () => {
    requireBuilt("multicast-registry");
    redisAddress = await sharedRedisAddress();
    await requireService("nats");
    const slots = {
      registry: { driver: "redis", config: { address: redisAddress } },
      messaging: { driver: "nats", config: { url: natsUrl(), ping_interval: "1s", reconnect_wait: "50ms", reconnect_max_wait: "500ms" } },
    };
    instances.push(...(await Promise.all([0, 1].map(() => configuredPattern("multicast-registry", { namespace: ns, slots })))));
  }, 30_000);
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.close()));
    const r = new Redis(redisAddress, { maxRetriesPerRequest: 1 });
    await deletePrefix(r, `${ns}:`).finally(() => r.disconnect());
  });

  test("registered and subscribed through A, reached by a multicast through B (and back)", async () => {
    const [a, b] = instances.map((i) => createClient(MulticastRegistryPattern, i.address));
    const opts = { timeoutMs: 10_000 };
    try {
      expect((await a!.client.register({ identity: "alice", metadata: { team: "x" } }, opts)).success).toBe(true);
      expect((await b!.client.register({ identity: "bob", metadata: { team: "x" } }, opts)).success).toBe(true);
      // Each instance sees the identities registered through the other.
      for (const c of [a!, b!]) {
        const all = await c.client.enumerate({}, opts);
        expect(all.identities.map((i) => i.identity).sort()).toEqual(["alice", "bob"]);
      }

      const received: Record<string, string[]> = { alice: [], bob: [] };
      const streams = new AbortController();
      const listen = (c: typeof a, identity: string) =>
        (async () => {
          try {
            for await (const m of c!.client.subscribe({ identity }, { signal: streams.signal })) received[identity]!.push(dec.decode(m.payload));
          } catch {
            /* cancelled at the end */
          }
        })();
      const done = [listen(a, "alice"), listen(b, "bob")];
      // Subscribed: Enumerate says so on the other instance too.
      await waitFor(async () => (await a!.client.enumerate({}, opts)).identities.every((i) => i.subscribed), "both identities subscribed");

      const fromB = await b!.client.multicast({ payload: new TextEncoder().encode("from B") }, opts);
      expect(fromB.targetCount).toBe(2);
      const fromA = await a!.client.multicast({ payload: new TextEncoder().encode("from A") }, opts);
      expect(fromA.targetCount).toBe(2);
      await waitFor(() => received.alice!.length === 2 && received.bob!.length === 2, "every identity got both multicasts", { timeoutMs: 10_000 });
      expect(received.alice!.sort()).toEqual(["from A", "from B"]);
      expect(received.bob!.sort()).toEqual(["from A", "from B"]);
      console.log(`multicast through B: ${fromB.deliveredCount} delivered, ${fromB.queuedCount} queued, ${fromB.failedCount} failed of ${fromB.targetCount}`);
      streams.abort();
      await Promise.all(done);
    } finally {
      a!.close();
      b!.close();
    }
  }, 30_000);
});

describe("Multicast Registry behind the proxy with replicas: 2", () => {
  const ns = `mc-replicas-${randomBytes(4).toString("hex")}`;
  let redisAddress: string;

  test("streams on different instances; every multicast reaches both identities", async () => {
    requireBuilt("multicast-registry");
    redisAddress = await sharedRedisAddress();
    await requireService("nats");
    const proxy = await startProxy(`
namespaces:
  - name: ${ns}
    pattern: multicast-registry
    replicas: 2
    slots:
      registry: { driver: redis, config: { address: "${redisAddress}" } }
      messaging: { driver: nats, config: { url: "${natsUrl()}" } }
`);
    const c = createClient(MulticastRegistryPattern, proxy.address);
    const opts = { timeoutMs: 10_000, metadata: { "x-prism-namespace": ns } };
    const streams = new AbortController();
    const replicas = async () => ((await proxy.pattern(ns)) as PatternSnapshot & { replicas: (PatternSnapshot & { in_flight: number })[] }).replicas;
    const pids = (await replicas()).map((r) => r.pid);
    try {
      const received: Record<string, string[]> = { carol: [], dave: [] };
      const done: Promise<void>[] = [];
      for (const identity of ["carol", "dave"]) {
        expect((await c.client.register({ identity }, opts)).success).toBe(true);
        done.push(
          (async () => {
            try {
              for await (const m of c.client.subscribe({ identity }, { ...opts, timeoutMs: 60_000, signal: streams.signal }))
                received[identity]!.push(dec.decode(m.payload));
            } catch {
              /* cancelled at the end */
            }
          })(),
        );
        // The next stream goes to the instance with fewer calls in flight: the other one.
        const n = identity === "carol" ? 1 : 2;
        await waitFor(async () => (await replicas()).reduce((k, r) => k + r.in_flight, 0) === n, `${n} stream(s) open`);
      }
      expect((await replicas()).map((r) => r.in_flight)).toEqual([1, 1]);
      await waitFor(async () => (await c.client.enumerate({}, opts)).identities.every((i) => i.subscribed), "both identities subscribed");
      for (let i = 0; i < 4; i++) {
        const r = await c.client.multicast({ payload: new TextEncoder().encode(`m${i}`) }, opts);
        expect(r.targetCount).toBe(2);
      }
      await waitFor(() => received.carol!.length === 4 && received.dave!.length === 4, "both identities got the four multicasts", { timeoutMs: 10_000 });
      const calls = (await replicas()).map((r) => (r as unknown as { calls: number }).calls);
      console.log(`calls per instance: ${calls.join(" / ")}`);
      expect(calls.every((n) => n > 2)).toBe(true);
    } finally {
      streams.abort();
      c.close();
      await proxy.stop();
      proxy.cleanup();
      killIfAlive(pids);
      const r = new Redis(redisAddress, { maxRetriesPerRequest: 1 });
      await deletePrefix(r, `${ns}:`).finally(() => r.disconnect());
    }
  }, 45_000);
});
