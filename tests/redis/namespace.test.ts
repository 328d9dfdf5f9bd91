import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Redis } from "ioredis";
import { deletePrefix, directRedis, sharedRedisAddress, startRedisPattern, str, text, uniqueNamespace, type RedisPattern } from "./harness";

let a: RedisPattern;
let b: RedisPattern;
let redis: Redis;
const nsA = uniqueNamespace("ns-a");
const nsB = uniqueNamespace("ns-b");

beforeAll(async () => {
  const address = await sharedRedisAddress();
  [a, b] = await Promise.all([startRedisPattern({ address, namespace: nsA }), startRedisPattern({ address, namespace: nsB })]);
  redis = directRedis(address);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  try {
    await deletePrefix(redis, `${nsA}:`);
    await deletePrefix(redis, `${nsB}:`);
  } finally {
    redis?.disconnect();
  }
});

async function keysOf(p: RedisPattern): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of p.clients.scan.scanKeys({ prefix: "", limit: 0, cursor: "" })) keys.push(e.key);
  return keys.sort();
}

describe("two namespaces on one Redis", () => {
  test("the same key holds a different value in each, stored under <namespace>:", async () => {
    await a.clients.kv.set({ key: "shared", value: text("from a") });
    await b.clients.kv.set({ key: "shared", value: text("from b") });
    expect(str((await a.clients.kv.get({ key: "shared" })).value)).toBe("from a");
    expect(str((await b.clients.kv.get({ key: "shared" })).value)).toBe("from b");
    expect(await redis.get(`${nsA}:shared`)).toBe("from a");
    expect(await redis.get(`${nsB}:shared`)).toBe("from b");
  });

  test("keys of one are invisible to the other: get, exists, delete, batch, scan, count", async () => {
    await a.clients.batch.batchSet({ requests: [1, 2, 3].map((i) => ({ key: `only-a-${i}`, value: text("a") })) });
    expect((await b.clients.kv.get({ key: "only-a-1" })).found).toBe(false);
    expect((await b.clients.kv.exists({ key: "only-a-1" })).exists).toBe(false);
    expect((await b.clients.kv.delete({ key: "only-a-1" })).found).toBe(false);
    expect((await b.clients.batch.batchGet({ keys: ["only-a-1", "only-a-2"] })).foundCount).toBe(0);
    expect(await keysOf(b)).toEqual(["shared"]);
    expect(await keysOf(a)).toEqual(["only-a-1", "only-a-2", "only-a-3", "shared"]);
    expect((await b.clients.scan.count({ prefix: "only" })).count).toBe(0n);
    expect((await a.clients.scan.count({ prefix: "only" })).count).toBe(3n);
    expect((await a.clients.kv.exists({ key: "only-a-1" })).exists).toBe(true);
  });

  test("lists are per namespace too", async () => {
    await a.clients.list.pushRight({ key: "q", values: [text("1"), text("2")] });
    expect((await b.clients.list.length({ key: "q" })).length).toBe(0n);
    expect((await a.clients.list.length({ key: "q" })).length).toBe(2n);
  });

  test("a message published in one namespace never reaches a subscriber of the other", async () => {
    const ac = new AbortController();
    const gotA: string[] = [];
    const gotB: string[] = [];
    const read = async (p: RedisPattern, into: string[]) => {
      try {
        for await (const m of p.clients.pubsub.subscribe({ topic: "events", subscriberId: "s" }, { signal: ac.signal })) into.push(str(m.payload));
      } catch {
        // cancelled at the end of the test
      }
    };
    const readers = [read(a, gotA), read(b, gotB)];
    // Redis confirms SUBSCRIBE asynchronously: publish probes until each side hears its own.
    const deadline = Date.now() + 10_000;
    while (!(gotA.includes("probe-a") && gotB.includes("probe-b")) && Date.now() < deadline) {
      await a.clients.pubsub.publish({ topic: "events", payload: text("probe-a") });
      await b.clients.pubsub.publish({ topic: "events", payload: text("probe-b") });
      await Bun.sleep(20);
    }
    await a.clients.pubsub.publish({ topic: "events", payload: text("last-a") });
    await b.clients.pubsub.publish({ topic: "events", payload: text("last-b") });
    const done = Date.now() + 5_000;
    while (!(gotA.includes("last-a") && gotB.includes("last-b")) && Date.now() < done) await Bun.sleep(10);
    ac.abort();
    await Promise.all(readers);
    expect(gotA.length).toBeGreaterThan(0);
    expect(gotB.length).toBeGreaterThan(0);
    expect(gotA.every((m) => m.endsWith("-a"))).toBe(true);
    expect(gotB.every((m) => m.endsWith("-b"))).toBe(true);
    expect(gotA).toContain("last-a");
    expect(gotB).toContain("last-b");
  });
});
